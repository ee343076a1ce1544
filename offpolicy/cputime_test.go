//go:build unix

package offpolicy

import "syscall"

// cpuNanos is the process's user plus system CPU time. The benchmarks report
// it beside wall time because the shared 2-core machine they run on is often
// oversubscribed, and wall time then measures the neighbours.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
