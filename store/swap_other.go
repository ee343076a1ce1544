//go:build !linux

package store

// swapDirs puts the directory at from in place of the directory at to. Only Linux has an
// atomic exchange of two names (swap_linux.go); here see swapDirsPortable.
func swapDirs(from, to string) error { return swapDirsPortable(from, to) }
