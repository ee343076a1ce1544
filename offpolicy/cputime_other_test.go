//go:build !unix

package offpolicy

// cpuNanos is not measured on this platform.
func cpuNanos() int64 { return 0 }
