package store

import (
	"os"
	"syscall"
)

// diskFree returns the bytes of the file system that holds path which an unprivileged
// process may still use (statfs(2) f_bavail): a conservative figure for a process that
// runs as root, which may also use the blocks reserved for root.
func diskFree(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// allocated returns the bytes of disk blocks a file holds (a sparse file holds fewer than
// its size), or 0 if it cannot be read.
func allocated(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return blocks(fi)
}

// blocks returns the bytes of disk blocks the file fi describes holds (st_blocks, in
// units of 512 bytes), or its size where the system does not say.
func blocks(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
