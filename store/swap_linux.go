package store

import (
	"errors"

	"golang.org/x/sys/unix"
)

// swapDirs puts the directory at from in place of the directory at to, in one atomic
// step: renameat2(2) with RENAME_EXCHANGE swaps the two names, so that to is never
// missing or empty, whatever moment the process dies at; from then names what to held.
// A file system without RENAME_EXCHANGE gets swapDirsPortable.
func swapDirs(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP) {
		return swapDirsPortable(from, to)
	}
	return err
}
