//go:build !unix

package service

// openFileLimit reports that the open-file limit is unknown here.
func openFileLimit() (int, bool) { return 0, false }
