package store

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nextbest/nextbest/record"
)

// ErrDiskFull is returned by every write while the file system that holds the store has
// less free space than the reserve (Options.DiskReserve). It wraps
// record.ErrInsufficientStorage, which the API answers with 507.
var ErrDiskFull = fmt.Errorf("store: disk full: %w", record.ErrInsufficientStorage)

// diskGuard keeps Badger from faulting on a full file system, by refusing writes while
// the free space is below a reserve.
//
// Badger writes its memtable logs, value-log files and tables through memory mappings of
// sparse files (ristretto's z.OpenMmapFile creates a file with ftruncate, and a table is
// copied into its mapping): a page gets its disk block when it is first written, and when
// no block is left the write is not an error that Badger could handle but a SIGBUS that
// kills the process. Neither Badger nor ristretto offers a way to allocate the blocks up
// front (fallocate), so the store keeps the blocks free instead: it refuses a write whose
// bytes would take the free space below the reserve, which is sized for what Badger
// writes by itself after the last write it accepted (see autoReserve).
//
// The free space is read with statfs(2) at most once per checkInterval, and sooner when
// the writes admitted since the last reading (counted with writeAmplification) may have
// used up the room above the reserve; a refused write re-reads it once checkInterval has
// passed, so the store accepts writes again by itself once space is freed.
type diskGuard struct {
	dir     string
	reserve int64 // bytes to keep free
	log     *slog.Logger

	mu    sync.Mutex
	read  time.Time // when free was read; zero: never
	free  int64     // bytes available to the store at read
	spent int64     // bytes admitted since read, times writeAmplification
	err   error     // the last statfs error (the guard then admits everything)

	full    atomic.Bool   // writes are refused: the last check found too little free space (see fits)
	refused atomic.Uint64 // writes refused
	dropped atomic.Uint64 // decision records not logged because their write was refused
}

const (
	// checkInterval is how long a statfs reading is trusted while the writes since fit in
	// it; it bounds how long a freed disk stays refused.
	checkInterval = time.Second
	// writeAmplification is what Badger writes per byte the store writes, before
	// compactions (which the reserve covers): the log it is appended to (a memtable's log,
	// or the value log for values over ValueThreshold), then the table the memtable is
	// flushed into.
	writeAmplification = 2
)

func newDiskGuard(dir string, reserve int64, log *slog.Logger) *diskGuard {
	return &diskGuard{dir: dir, reserve: reserve, log: log}
}

// admit reserves room for a write of about n bytes, or returns ErrDiskFull.
func (g *diskGuard) admit(n int) error {
	need := int64(n) * writeAmplification
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	// A refused write does not re-read before the interval has passed, so that a full
	// disk costs a statfs per second rather than one per write.
	if now.Sub(g.read) >= checkInterval || (!g.full.Load() && !g.fits(need)) {
		g.check(now)
	}
	if g.err != nil {
		return nil // no reading: do not refuse what cannot be judged (logged in check)
	}
	if !g.fits(need) {
		g.setFull(true)
		g.refused.Add(1)
		return ErrDiskFull
	}
	g.spent += need
	g.setFull(false)
	return nil
}

// fits reports whether need more bytes leave the reserve free. Once the disk is full, it
// must also leave a quarter of the reserve more (hysteresis): Badger's compactions free
// space in steps and take it back, and the store should not flip between refusing and
// accepting writes with each of them. g.mu is held.
func (g *diskGuard) fits(need int64) bool {
	limit := g.reserve
	if g.full.Load() {
		limit += g.reserve / 4
	}
	return g.free-g.spent-need >= limit
}

// open takes the first reading, when the store opens. A disk within the hysteresis band
// counts as full: a store restarted after it filled its disk comes back refusing writes
// until space is freed, not accepting them on whatever the restart's memtable flush
// happened to free.
func (g *diskGuard) open() (free int64, full bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.full.Store(true)
	g.check(time.Now())
	g.full.Store(g.err == nil && !g.fits(0))
	return g.free, g.full.Load()
}

// state returns the free bytes and whether writes are refused, reading the file system
// again if the last reading is older than checkInterval.
func (g *diskGuard) state() (free int64, full bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := time.Now(); now.Sub(g.read) >= checkInterval {
		g.check(now)
		if g.err == nil {
			g.setFull(!g.fits(0))
		}
	}
	return g.free - g.spent, g.full.Load()
}

// roomFor reports whether n more bytes fit above the reserve (for work that writes
// through Badger without the guard, such as value-log GC).
func (g *diskGuard) roomFor(n int64) bool {
	free, full := g.state()
	return !full && free-n >= g.reserve
}

// check reads the free space; g.mu is held.
func (g *diskGuard) check(now time.Time) {
	free, err := diskFree(g.dir)
	if err != nil {
		if g.err == nil {
			g.log.Warn("cannot read the free space of the store's file system; writes are not checked against the disk reserve", "dir", g.dir, "err", err)
		}
		g.err, g.read = err, now
		return
	}
	g.err, g.read, g.free, g.spent = nil, now, free, 0
}

// setFull records the state and logs its changes; g.mu is held.
func (g *diskGuard) setFull(full bool) {
	if g.full.Swap(full) == full {
		return
	}
	if full {
		g.log.Error("disk nearly full: refusing writes until space is freed; decisions are answered but not logged",
			"dir", g.dir, "free_mb", g.free>>20, "reserve_mb", g.reserve>>20)
	} else {
		g.log.Info("disk space is back: accepting writes again", "dir", g.dir, "free_mb", g.free>>20, "reserve_mb", g.reserve>>20,
			"writes_refused", g.refused.Load(), "decisions_dropped", g.dropped.Load())
	}
}

// Badger's defaults (badger.DefaultOptions) where Options leaves a size at 0, and the
// sizes the reserve is made of.
const (
	badgerMemTableSize    = 64 << 20
	badgerNumMemtables    = 5
	badgerValueLogFile    = 1<<30 - 1
	badgerL0Tables        = 5        // NumLevelZeroTables: level 0 is compacted when it holds this many
	badgerBaseLevelSize   = 10 << 20 // the size target of the level that level 0 is compacted into
	badgerBaseTableSize   = 2 << 20  // the tables compactions write (TableSizeMultiplier 1: see Open)
	badgerLevelMultiplier = 10       // LevelSizeMultiplier
	reserveMargin         = 8 << 20
)

// autoReserve is the free space the store keeps for what Badger writes by itself after
// the last write the store accepted, with two compactors (see Open):
//   - flushing every memtable into a level-0 table (their logs are deleted after);
//   - compacting level 0 into the base level: Badger writes every new table before it
//     deletes the old ones, so a compaction needs room for its inputs again. Those are
//     level 0's tables (badgerL0Tables of them, each about a memtable) and the base
//     level's tables that they overlap: all of them, as each of nextbest's tables spans
//     every key prefix, and the base level is kept near badgerBaseLevelSize (counted
//     twice, for a base level that compactions have not yet brought back to its size);
//   - the other compactor compacting a table into the level below it: the table and the
//     tables of the next level it overlaps, about badgerLevelMultiplier of them;
//   - a margin for the manifest, the discard statistics, the new log files Badger starts
//     when it opens the store, and the store's own writes between two readings.
//
// With the default 8 MB memtables, two of them: 56 + 20 + 22 + 8 = 106 MB.
func autoReserve(o Options) int64 {
	mt, n := o.MemTableSize, int64(o.NumMemtables)
	if mt <= 0 {
		mt = badgerMemTableSize
	}
	if n <= 0 {
		n = badgerNumMemtables
	}
	return (n+badgerL0Tables)*mt + 2*badgerBaseLevelSize + (badgerLevelMultiplier+1)*badgerBaseTableSize + reserveMargin
}

// openNeeds is the free space Badger needs to open the store in dir without faulting,
// the reserve being what the store keeps when running: the memtables it finds (left by a
// process that did not close the store) are flushed into tables about as large as their
// logs' allocated blocks, and the level-0 tables they add may start a compaction at once,
// for which half the reserve is asked. That is less than autoReserve's room for
// compactions: starting on a disk below the reserve (and serving decisions) is chosen
// over refusing to start, as long as the disk is not far below it.
func openNeeds(dir string, reserve int64) int64 {
	need := reserve / 2
	entries, err := os.ReadDir(dir)
	if err != nil {
		return need
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), memExt) {
			need += allocated(filepath.Join(dir, e.Name()))
		}
	}
	return need
}

// DiskUsage returns the bytes of disk blocks allocated to the files under dir, as
// openNeeds counts a log's: Badger's preallocated and sparse files count for what they
// occupy, not their length. Files and directories it cannot read count 0.
func DiskUsage(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			total += blocks(fi)
		}
		return nil
	})
	return total
}

// freeFrom returns the free bytes of the file system that holds dir, or of its nearest
// existing parent when dir does not exist yet.
func freeFrom(dir string) (int64, error) {
	for {
		free, err := diskFree(dir)
		if err == nil || !os.IsNotExist(err) {
			return free, err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return free, err
		}
		dir = parent
	}
}

func megabytes(n int64) float64 { return float64(n) / (1 << 20) }
