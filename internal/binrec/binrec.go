// Package binrec reads the binary records that nextbest writes: a model (bandit), an
// encoder's state (features) and a logged decision (engine). Each is read front to back
// by a Reader whose first error sticks, so that a decoder reads every field in order and
// checks once at the end, and a corrupt length can never make it allocate more than the
// input holds. A record may end with a checksum of its bytes (AppendChecksum, Checked),
// so that one damaged on disk is an error rather than a value silently read wrong.
package binrec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// ErrChecksum reports a record whose bytes do not match the checksum written with them:
// it was damaged after it was written.
var ErrChecksum = errors.New("checksum mismatch")

// castagnoli is CRC-32C's table: the polynomial with hardware support on amd64 and arm64
// (SSE 4.2, ARMv8 CRC32), which hash/crc32 uses, at several GB/s.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ChecksumSize is the length of the checksum AppendChecksum appends.
const ChecksumSize = 4

// AppendChecksum appends the CRC-32C of b[start:] to b, little-endian: start is where the
// record begins in b (records are appended to a caller's buffer).
func AppendChecksum(b []byte, start int) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// Checked returns record without the checksum AppendChecksum wrote at its end, or an
// error wrapping sentinel and ErrChecksum if the record is too short to hold one or its
// bytes do not match it.
func Checked(record []byte, sentinel error) ([]byte, error) {
	n := len(record) - ChecksumSize
	if n < 0 {
		return nil, fmt.Errorf("%w: %w: %d bytes, too short for a checksum", sentinel, ErrChecksum, len(record))
	}
	want := binary.LittleEndian.Uint32(record[n:])
	if got := crc32.Checksum(record[:n], castagnoli); got != want {
		return nil, fmt.Errorf("%w: %w: stored %08x, computed %08x", sentinel, ErrChecksum, want, got)
	}
	return record[:n], nil
}

// Reader reads a record. After the first error every read returns the zero value and
// consumes nothing; Err reports that error, which wraps the sentinel given to NewReader.
type Reader struct {
	b        []byte
	err      error
	sentinel error
}

// NewReader returns a Reader of b whose errors wrap sentinel (for errors.Is).
func NewReader(b []byte, sentinel error) Reader {
	return Reader{b: b, sentinel: sentinel}
}

// Fail records an error, "<sentinel>: <message>", unless one is recorded already.
func (r *Reader) Fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", r.sentinel, fmt.Sprintf(format, args...))
	}
	r.b = nil
}

// Err returns the first error, or nil.
func (r *Reader) Err() error { return r.err }

// Len returns the number of bytes left.
func (r *Reader) Len() int { return len(r.b) }

// Done returns the first error, or an error if bytes are left over.
func (r *Reader) Done() error {
	if r.err == nil && len(r.b) > 0 {
		r.Fail("%d trailing bytes", len(r.b))
	}
	return r.err
}

// Bytes returns the next n bytes (a slice of the input, capacity n), or nil.
func (r *Reader) Bytes(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.Fail("truncated %s: need %d bytes, have %d", what, n, len(r.b))
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

// Byte reads one byte.
func (r *Reader) Byte(what string) byte {
	if b := r.Bytes(1, what); b != nil {
		return b[0]
	}
	return 0
}

// Uint32 reads a little-endian uint32.
func (r *Reader) Uint32(what string) uint32 {
	if b := r.Bytes(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

// Uint64 reads a little-endian uint64.
func (r *Reader) Uint64(what string) uint64 {
	if b := r.Bytes(8, what); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// Float64 reads a float64 from its little-endian IEEE 754 bits.
func (r *Reader) Float64(what string) float64 { return math.Float64frombits(r.Uint64(what)) }

// Uvarint reads an unsigned varint (encoding/binary).
func (r *Reader) Uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Fail("malformed or truncated %s", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a signed varint (encoding/binary): the zigzag encoding of an unsigned one,
// decoded as binary.Varint does.
func (r *Reader) Varint(what string) int64 {
	ux := r.Uvarint(what)
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// Count reads a uvarint count of items that take at least min bytes each, refusing a
// count that the rest of the record cannot hold.
func (r *Reader) Count(min int, what string) int {
	n := r.Uvarint(what)
	if r.err == nil && n > uint64(r.Len()/min) {
		r.Fail("%s %d: the record has %d bytes left", what, n, r.Len())
		return 0
	}
	return int(n)
}

// LenBytes reads a uvarint length and that many bytes.
func (r *Reader) LenBytes(what string) []byte {
	n := r.Uvarint(what)
	if r.err == nil && n > uint64(r.Len()) {
		r.Fail("truncated %s: need %d bytes, have %d", what, n, r.Len())
		return nil
	}
	return r.Bytes(int(n), what)
}

// Peek returns the next byte without reading it, and false at the end or after an error.
func (r *Reader) Peek() (byte, bool) {
	if r.err != nil || len(r.b) == 0 {
		return 0, false
	}
	return r.b[0], true
}
