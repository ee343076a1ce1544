package binrec

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

var errTest = errors.New("test record")

func record() []byte {
	b := []byte{7}
	b = binary.LittleEndian.AppendUint32(b, 0xdeadbeef)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(-2.5))
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -300)
	b = binary.AppendUvarint(b, 3)
	return append(b, "abc"...)
}

func TestReaderRoundTrip(t *testing.T) {
	r := NewReader(record(), errTest)
	if v := r.Byte("b"); v != 7 {
		t.Errorf("Byte = %d", v)
	}
	if v := r.Uint32("u"); v != 0xdeadbeef {
		t.Errorf("Uint32 = %#x", v)
	}
	if v := r.Float64("f"); v != -2.5 {
		t.Errorf("Float64 = %v", v)
	}
	if v := r.Uvarint("u"); v != 300 {
		t.Errorf("Uvarint = %d", v)
	}
	if v := r.Varint("v"); v != -300 {
		t.Errorf("Varint = %d", v)
	}
	if v := string(r.LenBytes("s")); v != "abc" {
		t.Errorf("LenBytes = %q", v)
	}
	if err := r.Done(); err != nil {
		t.Errorf("Done: %v", err)
	}
}

// TestReaderTruncated reads every strict prefix of the record: each must fail with the
// sentinel, and every read after the failure must return zero.
func TestReaderTruncated(t *testing.T) {
	full := record()
	for n := range len(full) {
		r := NewReader(full[:n], errTest)
		r.Byte("b")
		r.Uint32("u")
		r.Float64("f")
		r.Uvarint("u")
		r.Varint("v")
		s := r.LenBytes("s")
		if err := r.Done(); !errors.Is(err, errTest) {
			t.Fatalf("prefix of %d bytes: Done = %v, want an error wrapping the sentinel", n, err)
		}
		if s != nil || r.Byte("after") != 0 || r.Uint64("after") != 0 || r.Len() != 0 {
			t.Fatalf("prefix of %d bytes: reads after the error are not zero", n)
		}
	}
}

func TestReaderGuards(t *testing.T) {
	// A count larger than the bytes left could hold is refused before any allocation.
	b := binary.AppendUvarint(nil, 1<<40)
	r := NewReader(append(b, make([]byte, 16)...), errTest)
	if n := r.Count(8, "items"); n != 0 || !errors.Is(r.Err(), errTest) {
		t.Errorf("Count of 2^40 items of 8 bytes in 16: %d, %v", n, r.Err())
	}
	// A fitting count passes.
	r = NewReader(append(binary.AppendUvarint(nil, 2), make([]byte, 16)...), errTest)
	if n := r.Count(8, "items"); n != 2 || r.Err() != nil {
		t.Errorf("Count of 2 items of 8 bytes in 16: %d, %v", n, r.Err())
	}
	// Trailing bytes and negative lengths.
	r = NewReader([]byte{1, 2}, errTest)
	r.Byte("b")
	if err := r.Done(); !errors.Is(err, errTest) {
		t.Errorf("Done with a byte left: %v", err)
	}
	r = NewReader([]byte{1}, errTest)
	if r.Bytes(-1, "x") != nil || r.Err() == nil {
		t.Errorf("Bytes(-1): no error")
	}
	// The first error sticks.
	r = NewReader(nil, errTest)
	r.Fail("first")
	r.Fail("second")
	if r.Err().Error() != "test record: first" {
		t.Errorf("Err = %q, want the first failure", r.Err())
	}
}

// Varint decodes the zigzag form itself; it must read what binary.AppendVarint wrote, at
// the extremes too.
func TestVarintMatchesEncodingBinary(t *testing.T) {
	vals := []int64{0, 1, -1, 63, -64, 64, -65, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		vals = append(vals, int64(rng.Uint64()), rng.Int64N(1<<20)-1<<19)
	}
	var b []byte
	for _, v := range vals {
		b = binary.AppendVarint(b, v)
	}
	r := NewReader(b, errTest)
	for i, want := range vals {
		if got := r.Varint("v"); got != want {
			t.Fatalf("value %d: Varint = %d, want %d", i, got, want)
		}
	}
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
}

// TestChecksum: a record with its checksum reads back whole; a flip of any bit, a
// truncation, or an appended byte is an error wrapping both the sentinel and ErrChecksum.
func TestChecksum(t *testing.T) {
	prefix := []byte("caller's buffer")
	b := append(append([]byte(nil), prefix...), record()...)
	b = AppendChecksum(b, len(prefix))
	rec := b[len(prefix):]
	got, err := Checked(rec, errTest)
	if err != nil || string(got) != string(record()) {
		t.Fatalf("Checked = %q, %v; want the record", got, err)
	}
	for i := range rec {
		for bit := range 8 {
			bad := append([]byte(nil), rec...)
			bad[i] ^= 1 << bit
			if _, err := Checked(bad, errTest); !errors.Is(err, ErrChecksum) || !errors.Is(err, errTest) {
				t.Fatalf("bit %d of byte %d flipped: err %v", bit, i, err)
			}
		}
	}
	for n := range len(rec) {
		if _, err := Checked(rec[:n], errTest); !errors.Is(err, ErrChecksum) || !errors.Is(err, errTest) {
			t.Fatalf("truncated to %d of %d bytes: err %v", n, len(rec), err)
		}
	}
	if _, err := Checked(append(append([]byte(nil), rec...), 0), errTest); !errors.Is(err, ErrChecksum) {
		t.Errorf("trailing byte: err %v", err)
	}
}
