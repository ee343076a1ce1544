package service

import (
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
)

// Where the Go runtime's soft memory limit comes from (logged at start).
const (
	LimitFromEnv    = "GOMEMLIMIT"      // the environment; the runtime applied it at start
	LimitFromConfig = "memory_limit_mb" // the config file (or its default)
	LimitNone       = "none"            // memory_limit_mb: 0 and no GOMEMLIMIT
)

// MemoryLimit decides the Go runtime's soft memory limit from the memory_limit_mb option
// and the GOMEMLIMIT environment variable. A non-empty GOMEMLIMIT wins: the runtime has
// already applied it, so bytes is 0 (leave the runtime's limit). Otherwise the limit is mb
// MiB, and mb = 0 means no limit (bytes 0).
func MemoryLimit(mb int64, gomemlimit string) (bytes int64, source string) {
	switch {
	case gomemlimit != "":
		return 0, LimitFromEnv
	case mb > 0:
		return mb << 20, LimitFromConfig
	default:
		return 0, LimitNone
	}
}

// ApplyMemoryLimit sets the Go runtime's soft memory limit (runtime/debug.SetMemoryLimit)
// as memoryLimit decides, and logs the limit in force and where it comes from. With a
// limit the garbage collector runs more often as the heap nears it, instead of letting
// the heap grow to twice what is live (GOGC=100); docs/configuration.md has the budget.
func ApplyMemoryLimit(mb int64, log *slog.Logger) {
	bytes, source := MemoryLimit(mb, os.Getenv("GOMEMLIMIT"))
	if bytes > 0 {
		debug.SetMemoryLimit(bytes)
	}
	if cur := debug.SetMemoryLimit(-1); cur != math.MaxInt64 {
		log.Info("go memory limit", "limit_mb", cur>>20, "source", source)
	} else {
		log.Info("go memory limit: none", "source", source)
	}
}

// procsPerCPU is the default of gomaxprocs per CPU the process may use.
const procsPerCPU = 4

// procs decides GOMAXPROCS from the gomaxprocs option, the GOMAXPROCS environment variable
// and the runtime's default (def: the CPUs the process may use). A non-empty GOMAXPROCS
// wins: the runtime has already applied it, so n is 0 (leave it).
func procs(option int, env string, def int) (n int, source string) {
	switch {
	case env != "":
		return 0, "GOMAXPROCS"
	case option > 0:
		return option, "gomaxprocs"
	default:
		return procsPerCPU * def, "default"
	}
}

// ApplyProcs sets GOMAXPROCS as procs decides and logs it.
//
// Why more than the CPUs: Badger writes its value log, write-ahead logs and tables through
// memory-mapped files, and a write to a mapped page can fault and wait in the kernel, for
// the file system's journal commit that another goroutine's fsync started, for
// milliseconds. The Go scheduler cannot see a thread stuck in a page fault (it is not in
// a system call), so that thread keeps its P; with GOMAXPROCS equal to the CPUs, two such
// faults on a 2-CPU machine stop every goroutine, decisions included, until the journal
// commit ends. Spare Ps let the others run meanwhile. Measured with `nextbest soak`
// (docs/benchmarks.md, issue 4): at 80% load decide's p99 at the client fell from 16-35
// ms per window with 2 Ps to 7-11 ms with 8, while the server's own histogram of the
// handler stayed in the low milliseconds: the stalls were outside the handlers.
func ApplyProcs(option int, log *slog.Logger) {
	n, source := procs(option, os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0))
	if n > 0 {
		runtime.GOMAXPROCS(n)
	}
	log.Info("gomaxprocs", "procs", runtime.GOMAXPROCS(0), "cpus", runtime.NumCPU(), "source", source)
}
