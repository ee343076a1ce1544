package main

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"
)

// Where the Go runtime's soft memory limit comes from (logged at start).
const (
	limitFromEnv    = "GOMEMLIMIT"      // the environment; the runtime applied it at start
	limitFromConfig = "memory_limit_mb" // the config file (or its default)
	limitNone       = "none"            // memory_limit_mb: 0 and no GOMEMLIMIT
)

// memoryLimit decides the Go runtime's soft memory limit from the memory_limit_mb option
// and the GOMEMLIMIT environment variable. A non-empty GOMEMLIMIT wins: the runtime has
// already applied it, so bytes is 0 (leave the runtime's limit). Otherwise the limit is mb
// MiB, and mb = 0 means no limit (bytes 0).
func memoryLimit(mb int64, gomemlimit string) (bytes int64, source string) {
	switch {
	case gomemlimit != "":
		return 0, limitFromEnv
	case mb > 0:
		return mb << 20, limitFromConfig
	default:
		return 0, limitNone
	}
}

// applyMemoryLimit sets the Go runtime's soft memory limit (runtime/debug.SetMemoryLimit)
// as memoryLimit decides, and logs the limit in force and where it comes from. With a
// limit the garbage collector runs more often as the heap nears it, instead of letting
// the heap grow to twice what is live (GOGC=100); docs/configuration.md has the budget.
func applyMemoryLimit(mb int64, log *slog.Logger) {
	bytes, source := memoryLimit(mb, os.Getenv("GOMEMLIMIT"))
	if bytes > 0 {
		debug.SetMemoryLimit(bytes)
	}
	if cur := debug.SetMemoryLimit(-1); cur != math.MaxInt64 {
		log.Info("go memory limit", "limit_mb", cur>>20, "source", source)
	} else {
		log.Info("go memory limit: none", "source", source)
	}
}
