//go:build !linux

package store

import (
	"errors"
	"os"
)

// diskFree is not implemented here: the store then does not check writes against the
// disk reserve (see diskGuard).
func diskFree(path string) (int64, error) {
	return 0, &os.PathError{Op: "statfs", Path: path, Err: errors.ErrUnsupported}
}

// allocated returns a file's size: the bytes of disk blocks it holds at most.
func allocated(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return blocks(fi)
}

// blocks returns the size of the file fi describes: the bytes of disk blocks it holds
// at most.
func blocks(fi os.FileInfo) int64 { return fi.Size() }
