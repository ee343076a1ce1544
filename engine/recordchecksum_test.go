package engine

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/nextbest/nextbest/internal/binrec"
)

// checkedCodecs are the binary records the journal writes on every contact and response,
// with the version that carries a checksum and the sentinel their errors wrap.
var checkedCodecs = append(journalCodecs[:len(journalCodecs):len(journalCodecs)], journalCodec{"decision",
	func(r *rand.Rand) any { return randomDecision(r) },
	func(v any) []byte { return EncodeDecision(nil, v.(*Decision), nil) },
	func(b []byte) (any, error) { var d Decision; err := DecodeDecision(b, "", nil, &d); return &d, err }})

// TestRecordChecksums: a byte changed anywhere in a stored record (bit rot, a flipped
// byte in a table or the value log) is an error, never a record decoded with wrong
// values; the error says the checksum failed, and wraps the record's sentinel. Records of
// version 1, written before the checksum, still read.
func TestRecordChecksums(t *testing.T) {
	for _, c := range checkedCodecs {
		t.Run(c.name, func(t *testing.T) {
			sentinel := errJournalRecord
			if c.name == "decision" {
				sentinel = errRecord
			}
			rng := rand.New(rand.NewPCG(21, 22))
			for i := range 20 {
				v := c.random(rng)
				rec := c.encode(v)
				// Decisions are version 4 (decisioncodec.go), the others version 2.
				version := byte(2)
				if c.name == "decision" {
					version = 4
				}
				if rec[0] != version {
					t.Fatalf("record %d: version %d, want %d (with a checksum)", i, rec[0], version)
				}
				if version == 2 {
					// Version 1: the same fields, no checksum.
					v1 := append([]byte{1}, rec[1:len(rec)-binrec.ChecksumSize]...)
					got, err := c.decode(v1)
					if err != nil {
						t.Fatalf("record %d, version 1: %v", i, err)
					}
					want, err := c.decode(rec)
					if err != nil {
						t.Fatalf("record %d: %v", i, err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("record %d: version 1 reads as %+v, version 2 as %+v", i, got, want)
					}
				}
				// XOR masks: the lowest and highest bit, a nibble, every bit of the byte.
				for pos := range rec {
					for _, mask := range []byte{0x01, 0x80, 0x0f, 0xff} {
						bad := append([]byte(nil), rec...)
						bad[pos] ^= mask
						_, err := c.decode(bad)
						switch {
						case err == nil:
							t.Fatalf("record %d: byte %d of %d changed (^%#x) and the record still decodes", i, pos, len(rec), mask)
						case !errors.Is(err, sentinel):
							t.Fatalf("record %d, byte %d: error %v does not wrap %v", i, pos, err, sentinel)
						case pos > 0 && !errors.Is(err, binrec.ErrChecksum):
							t.Fatalf("record %d, byte %d: error %v is not a checksum mismatch", i, pos, err)
						}
					}
				}
			}
		})
	}
}
