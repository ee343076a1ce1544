//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir takes the lock Badger takes on a store: an exclusive flock(2) of the directory
// itself (badger/v4 dir_unix.go). Checking a store's files while a server writes them
// would find damage that is only a write under way.
func lockDir(dir string) (unlock func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock store %s: %w", dir, err)
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		d.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock store %s: another process is using it (a server running on it? stop it first)", dir)
		}
		return nil, fmt.Errorf("lock store %s: %w", dir, err)
	}
	return func() { d.Close() }, nil // closing the descriptor releases the lock
}
