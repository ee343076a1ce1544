package service

import (
	"log/slog"
	"os"
)

// Connections and file descriptors. Every connection the HTTP server holds is a file
// descriptor, and so is every file Badger keeps open (its tables, value logs and
// manifest). When accept runs out of descriptors the server can neither take a connection
// nor, soon, open a file; so the number of connections served at once is capped below
// the open-file limit, with room kept for the store's files.
const (
	// maxConnectionsCap is fasthttp's own default cap (DefaultConcurrency).
	maxConnectionsCap = 256 * 1024
	// minFileReserve is the fewest descriptors kept free of connections for Badger's
	// files to come (new tables, value logs, the files a compaction opens beside the
	// ones it replaces) and for backups; a quarter of the limit is kept when that is
	// more.
	minFileReserve = 64
	// minConnections is the least cap derived from the limit, however low the limit.
	minConnections = 16
)

// connectionCap returns the cap on connections served at once: configured if it is set,
// else what the open-file limit leaves after the descriptors open now (the store is open)
// and a reserve, max(minFileReserve, limit / 4). 0 means fasthttp's default.
func connectionCap(configured int, log *slog.Logger) int {
	if configured > 0 {
		return configured
	}
	limit, ok := openFileLimit()
	if !ok {
		return 0
	}
	open := openFiles()
	n := min(limit-open-max(minFileReserve, limit/4), maxConnectionsCap)
	if n < minConnections {
		log.Warn("the open-file limit leaves little room for connections; raise it (ulimit -n, LimitNOFILE in systemd)", "open_file_limit", limit, "open_files", open, "max_connections", minConnections)
		n = minConnections
	}
	log.Info("connections capped below the open-file limit", "max_connections", n, "open_file_limit", limit, "open_files", open)
	return n
}

// openFiles counts the process's open file descriptors, 0 where the system does not list
// them.
func openFiles() int {
	for _, dir := range []string{"/proc/self/fd", "/dev/fd"} {
		if ents, err := os.ReadDir(dir); err == nil {
			return len(ents)
		}
	}
	return 0
}
