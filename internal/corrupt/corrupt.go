// Package corrupt damages files on purpose, for the tests that check that the store
// (store's integrity tests) and the binary (nextbest's corruption tests) notice. It
// imports nothing of nextbest, so that store's own tests can use it.
package corrupt

import (
	"os"
	"testing"
)

// FlipByte XORs the byte at off of the file at path with mask, in place.
func FlipByte(t testing.TB, path string, off int64, mask byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= mask
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}
