//go:build unix

package service

import (
	"math"
	"syscall"
)

// openFileLimit returns the process's open-file limit (RLIMIT_NOFILE, the soft limit,
// which Go raises to the hard limit at start-up).
func openFileLimit() (int, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 0, false
	}
	if rl.Cur > math.MaxInt32 { // RLIM_INFINITY
		return math.MaxInt32, true
	}
	return int(rl.Cur), true
}
