package store

import (
	"os"
	"syscall"
)

// datasync is fdatasync(2): the data and what is needed to read it back, as msync does.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
