package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// Badger's log files: a memtable's write-ahead log (.mem) and a value log file (.vlog)
// share one layout (badger/v4 memtable.go and value.go, logFile): a 20-byte header (the
// data key id, 8 bytes big-endian, 0 without encryption; a 12-byte IV), then entries, each
//
//	meta(1) user_meta(1) uvarint(key length) uvarint(value length) uvarint(expires_at)
//	key value crc32c(header, key, value; 4 bytes big-endian; backup.go's castagnoli)
//
// Badger reads a log up to the first entry that does not read back (its checksum fails, a
// length runs past the file, the key is empty or longer than 64 KB) and drops the rest.
const (
	logHeaderSize  = 20
	logMaxKey      = 1 << 16 // Badger's limit: a longer key reads as the end of the log
	logEntryMaxHdr = 22      // the longest header: 2 bytes and three uvarints
)

// logScan is what scanLog found in one log file.
type logScan struct {
	size    int64
	entries int    // entries read back before stop
	stop    int64  // where reading stopped: the size, or the first entry that does not read back
	reason  string // why reading stopped before the end
	resume  int64  // the first whole entry after stop, -1 if none
	// whole says why the entry at stop cannot be a torn write, if it cannot: it was
	// written to its end, or the file is. Otherwise (and with no resume) the rest is a
	// torn tail.
	whole  string
	header string // damage in the file header, if any
}

// scanLog reads a log file entry by entry, as Badger replays it at open. When reading
// stops before the end, it tells damage, which Badger would repair by dropping every
// entry from there on, from a torn tail (the last write of a process that died, or zeros:
// Badger preallocates its logs), which Badger rightly drops. A write is torn where it did
// not reach: the file there still holds zeros. So it is damage if a whole entry follows,
// if the entry's checksum field (its last 4 bytes) is set, or if the file's last bytes
// are (Badger truncates a log to its end when it closes it).
func scanLog(path string) (logScan, error) {
	f, err := os.Open(path)
	if err != nil {
		return logScan{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return logScan{}, err
	}
	s := logScan{size: fi.Size(), resume: -1}
	if s.size < logHeaderSize {
		s.stop = s.size // Badger writes a new header
		return s, nil
	}
	w := &window{f: f, size: s.size}
	hdr, err := w.bytes(0, logHeaderSize)
	if err != nil {
		return s, err
	}
	if id := binary.BigEndian.Uint64(hdr); id != 0 {
		s.header = fmt.Sprintf("the file header names data key %d; nextbest never encrypts its store", id)
		return s, nil
	}
	off := int64(logHeaderSize)
	for {
		n, why, err := w.entry(off)
		if err != nil {
			return s, err
		}
		if n == 0 {
			s.stop, s.reason = off, why
			break
		}
		s.entries++
		off += n
	}
	if s.stop == s.size {
		return s, nil
	}
	switch {
	case w.checksumSet(s.stop):
		s.whole = "its checksum field is written"
	case w.endsWithData():
		s.whole = "the file, closed at its end, ends with data"
	}
	// Look for a whole entry after the stop, skipping the holes of a preallocated file.
	for p := s.stop + 1; ; p++ {
		if p, err = w.nextCandidate(p); err != nil || p < 0 {
			return s, err
		}
		if !w.plausibleKey(p) {
			continue
		}
		if n, _, err := w.entry(p); err != nil {
			return s, err
		} else if n > 0 {
			s.resume = p
			return s, nil
		}
	}
}

// logEntryMin is the shortest entry: a header of 5 bytes, a 1-byte key, the checksum.
const logEntryMin = 5 + 1 + 4

// window reads a file through a buffer of at least 1 MB, by absolute offset.
type window struct {
	f    *os.File
	size int64
	off  int64
	buf  []byte
}

// bytes returns n bytes at off (fewer at the end of the file), valid until the next call.
func (w *window) bytes(off int64, n int) ([]byte, error) {
	if off >= w.off && off+int64(n) <= w.off+int64(len(w.buf)) {
		return w.buf[off-w.off : off-w.off+int64(n)], nil
	}
	want := max(n, 1<<20)
	if rest := w.size - off; int64(want) > rest {
		want = int(max(rest, 0))
	}
	if cap(w.buf) < want {
		w.buf = make([]byte, want)
	}
	w.buf = w.buf[:want]
	m, err := w.f.ReadAt(w.buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	w.off, w.buf = off, w.buf[:m]
	return w.buf[:min(n, m)], nil
}

// entry reads the entry at off: its length, or 0 and why it does not read back.
func (w *window) entry(off int64) (int64, string, error) {
	h, err := w.bytes(off, logEntryMaxHdr)
	if err != nil {
		return 0, "", err
	}
	if len(h) < 2 {
		return 0, "end of file inside an entry header", nil
	}
	p := 2
	var lens [3]uint64
	for i := range lens {
		v, n := binary.Uvarint(h[p:])
		if n <= 0 {
			return 0, "a malformed entry header", nil
		}
		lens[i], p = v, p+n
	}
	klen, vlen := lens[0], lens[1]
	switch {
	case klen == 0:
		return 0, "an empty key (the end of the log)", nil
	case klen > logMaxKey:
		return 0, fmt.Sprintf("a key length of %d", klen), nil
	case vlen > uint64(w.size-off):
		return 0, fmt.Sprintf("a value length of %d running past the end of the file", vlen), nil
	}
	total := int64(p) + int64(klen) + int64(vlen) + crc32.Size
	if off+total > w.size {
		return 0, fmt.Sprintf("an entry of %d bytes running past the end of the file", total), nil
	}
	e, err := w.bytes(off, int(total))
	if err != nil {
		return 0, "", err
	}
	body := e[:total-crc32.Size]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(e[total-crc32.Size:]) {
		return 0, "checksum mismatch", nil
	}
	return total, "", nil
}

// checksumSet reports whether the entry at off, whose header is read as it stands, lies
// within the file and has a non-zero checksum field.
func (w *window) checksumSet(off int64) bool {
	h, err := w.bytes(off, logEntryMaxHdr)
	if err != nil || len(h) < 2 {
		return false
	}
	p, total := 2, int64(crc32.Size)
	for i := range 3 {
		v, n := binary.Uvarint(h[p:])
		if n <= 0 || (i < 2 && v > uint64(w.size)) {
			return false
		}
		if i < 2 {
			total += int64(v)
		}
		p += n
	}
	total += int64(p)
	if off+total > w.size {
		return false
	}
	c, err := w.bytes(off+total-crc32.Size, crc32.Size)
	return err == nil && len(c) == crc32.Size && binary.BigEndian.Uint32(c) != 0
}

// endsWithData reports whether the file's last 4 bytes are not all zero.
func (w *window) endsWithData() bool {
	if w.size < crc32.Size {
		return false
	}
	c, err := w.bytes(w.size-crc32.Size, crc32.Size)
	return err == nil && len(c) == crc32.Size && binary.BigEndian.Uint32(c) != 0
}

// plausibleKey reports whether the entry at off (which reads back) has a key nextbest or
// Badger writes: one of the store's tables, or Badger's own ("!badger!"). A run of bytes
// inside a value that happens to read as an entry is then not taken for one.
func (w *window) plausibleKey(off int64) bool {
	h, err := w.bytes(off, logEntryMaxHdr+len("!badger!"))
	if err != nil {
		return false
	}
	p := 2
	for range 3 {
		_, n := binary.Uvarint(h[p:])
		if n <= 0 {
			return false
		}
		p += n
	}
	k := h[p:]
	return bytes.HasPrefix(k, []byte(layout)) || bytes.HasPrefix(k, []byte("!badger!"))
}

// nextCandidate returns the first offset at or after p where an entry could start, or -1:
// an entry's key length is at least 1, so its third byte is not zero. Holes (the unwritten
// rest of a preallocated log) are skipped with SEEK_DATA where the system has it.
func (w *window) nextCandidate(p int64) (int64, error) {
	for p+logEntryMin <= w.size {
		b, err := w.bytes(p, 1<<20)
		if err != nil {
			return -1, err
		}
		if len(b) < logEntryMin {
			return -1, nil
		}
		if i := bytes.IndexFunc(b[2:], nonZero); i >= 0 {
			return p + int64(i), nil
		}
		p += int64(len(b)) - 2
		if d, ok := nextData(w.f, p); ok {
			if d < 0 {
				return -1, nil
			}
			p = max(p, d-2)
		}
	}
	return -1, nil
}

// nonZero is a bytes.IndexFunc predicate: a zero byte decodes as the rune 0 and any other
// byte starts a rune that is not 0, so the index it finds is that of the first non-zero byte.
func nonZero(r rune) bool { return r != 0 }
