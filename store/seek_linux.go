package store

import (
	"errors"
	"os"
	"syscall"
)

// seekData is lseek(2)'s SEEK_DATA on Linux: the next offset at or after the given one
// that holds data rather than a hole.
const seekData = 3

// nextData returns the first offset at or after off that is not in a hole of f, -1 if only
// holes follow, and whether the file system could tell (ok false: read on).
func nextData(f *os.File, off int64) (int64, bool) {
	d, err := f.Seek(off, seekData)
	if errors.Is(err, syscall.ENXIO) {
		return -1, true
	}
	if err != nil {
		return 0, false
	}
	return d, true
}
