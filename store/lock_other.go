//go:build !unix

package store

// lockDir takes no lock where there is no flock(2): Badger's own lock, taken when it
// opens the store, still keeps a second process out.
func lockDir(string) (unlock func(), err error) { return func() {}, nil }
