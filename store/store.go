package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	btable "github.com/dgraph-io/badger/v4/table"
	gojson "github.com/goccy/go-json"

	"github.com/nextbest/nextbest/engine"
)

// ErrNotFound is returned when a key does not exist. It wraps engine.ErrNotFound so the
// API layer maps it to 404 without knowing about this package.
var ErrNotFound = fmt.Errorf("store: %w", engine.ErrNotFound)

// Options configures the store. The zero value is not usable; start from DefaultOptions.
type Options struct {
	Dir        string
	SyncWrites bool // an acknowledged write is fsync'd before it returns (default true)
	// LazySync bounds how long a write no one waits for (a batch of decision records,
	// engine.Batch.Lazy) may wait for its fsync when SyncWrites is on; it is usually
	// fsync'd sooner, by the next write someone waits for. See syncer.
	LazySync time.Duration
	// Retention is how long the decision log and its bookkeeping are kept (Badger TTL);
	// journal events are kept that long and until a model snapshot covers them
	// (TrimJournal). 0 keeps them forever.
	Retention time.Duration
	// Memory. Badger's heap is roughly MemTableSize x NumMemtables, plus BlockCacheSize
	// and IndexCacheSize, plus its table builders: each holds about 4 to 10 times the
	// table it builds (a MemTableSize table when a memtable is flushed, a 2 MB table in
	// compactions), and Badger pools up to 8 of them while writes go on. The tables and
	// the value log themselves are mmapped and written through the mapping: they count as
	// resident file pages, which the kernel drops under memory pressure, and no Badger
	// option bounds them. docs/configuration.md ("Memory") adds it all up.
	MemTableSize int64
	NumMemtables int
	// ValueThreshold is the size above which a value goes to Badger's value log, with only
	// a pointer in the LSM tree (WiscKey: Lu et al., FAST 2016). Decision records (a few
	// KB each) then are written once rather than rewritten by every compaction.
	ValueThreshold int64
	// CustomerCache is how many decoded customer profiles the store keeps in memory
	// (about 1 KB each for a profile of a few dozen attributes); 0 turns the cache off.
	CustomerCache  int
	BlockCacheSize int64
	IndexCacheSize int64
	// DiskReserve is the free space, in bytes, that the store keeps on the file system of
	// Dir: a write that would take the free space below it is refused with ErrDiskFull,
	// because Badger writes through memory mappings and dies of SIGBUS when the disk fills
	// (see diskGuard). 0 sizes it from the memtables (autoReserve: 106 MB with the
	// defaults).
	DiskReserve int64
	Logger      *slog.Logger

	valueLogFileSize int64            // tests: Badger's default (1 GB) unless set
	now              func() time.Time // tests: the clock of the journal's retention; time.Now unless set
	restoring        bool             // RestoreDir: open a directory that holds the restore marker
}

// DefaultOptions returns options sized so that, with 1,000 full-covariance models and a
// million logged decisions, the heap fits the binary's default Go memory limit of 384 MB
// and the process runs in 512 MB (docs/configuration.md, "Memory").
func DefaultOptions(dir string) Options {
	return Options{
		Dir:            dir,
		SyncWrites:     true,
		LazySync:       100 * time.Millisecond,
		Retention:      90 * 24 * time.Hour,
		MemTableSize:   8 << 20,
		NumMemtables:   2,
		ValueThreshold: 1 << 10,
		CustomerCache:  20000,
		BlockCacheSize: 64 << 20,
		IndexCacheSize: 32 << 20,
	}
}

// Store is nextbest's Badger store. It is safe for concurrent use.
type Store struct {
	db        *badger.DB
	opts      Options
	log       *slog.Logger
	customers *customerCache
	syncer    *syncer // nil without SyncWrites
	disk      *diskGuard
	strings   *engine.Strings // the decision records' dictionary (strings.go)
}

// Open opens (creating if needed) the store in opts.Dir. It refuses a store whose files
// are damaged with a *DamageError (wrapping ErrDamaged) and changes nothing in it: Badger
// would repair some damage by dropping every write after it, and crash on other
// (integrity.go).
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("open store: no directory given")
	}
	if !opts.restoring {
		// A restore writes its marker first and removes it last (RestoreDir).
		note, err := os.ReadFile(filepath.Join(opts.Dir, restoreMarker))
		if err == nil {
			return nil, fmt.Errorf("open store %s: %w: %s", opts.Dir, ErrIncompleteRestore, bytes.TrimSpace(note))
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
		}
	}
	if err := checkBeforeOpen(opts.Dir); err != nil {
		return nil, err
	}
	return open(opts)
}

// open opens the store in opts.Dir without checking its files first.
func open(opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The store syncs for itself (see syncer): Badger's SyncWrites would fsync every write,
	// decision records that no one waits for included.
	bo := badger.DefaultOptions(opts.Dir).
		WithSyncWrites(false).
		WithLogger(badgerLogger{log}).
		WithCompression(options.Snappy).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		// Every write transaction is blind (Set and Delete, no reads: see update and
		// writeGroups), so no commit can conflict; tracking conflict keys would cost a hash
		// and a map entry per key on the commit path for nothing.
		WithDetectConflicts(false).
		// Checksums: every table block read from disk (the block cache holds verified
		// blocks; checkBeforeOpen verified every table whole) and every value read from the
		// value log (decision records, model snapshots) is checked, so that damage is an
		// error naming the key instead of a value read wrong. BenchmarkDecide measures no
		// difference; a record read from the log costs about 1 µs more (docs/durability.md,
		// "Damage").
		WithChecksumVerificationMode(options.OnBlockRead).
		WithVerifyValueChecksum(true)
	// Every level's tables are BaseTableSize (2 MB), not doubling per level: compaction
	// builders, which Badger pools, stay small (see Options).
	bo.TableSizeMultiplier = 1
	if opts.MemTableSize > 0 {
		bo = bo.WithMemTableSize(opts.MemTableSize)
	}
	if opts.ValueThreshold > 0 {
		bo = bo.WithValueThreshold(opts.ValueThreshold)
	}
	if opts.NumMemtables > 0 {
		bo = bo.WithNumMemtables(opts.NumMemtables)
	}
	if opts.BlockCacheSize > 0 {
		bo = bo.WithBlockCacheSize(opts.BlockCacheSize)
	}
	if opts.IndexCacheSize > 0 {
		bo = bo.WithIndexCacheSize(opts.IndexCacheSize)
	}
	if opts.valueLogFileSize > 0 {
		bo = bo.WithValueLogFileSize(opts.valueLogFileSize)
	}
	// Opening writes through memory mappings too (new log files, the memtables a killed
	// process left, flushed into tables, and the compactions they start): on a disk without
	// room for that, refuse to start rather than die of SIGBUS. Between that and the
	// reserve, the store opens and refuses writes (ErrDiskFull) until space is freed.
	reserve := opts.DiskReserve
	if reserve <= 0 {
		reserve = autoReserve(opts)
	}
	if free, err := freeFrom(opts.Dir); err == nil {
		if need := openNeeds(opts.Dir, reserve); free < need {
			return nil, fmt.Errorf("open store %s: %w: %.1f MB free on its file system, and opening it needs %.1f MB (the memtables it finds, flushed into tables, and half the %.0f MB reserve for the compactions that may follow); free some space and start again",
				opts.Dir, ErrDiskFull, megabytes(free), megabytes(need), megabytes(reserve))
		}
	}
	db, err := badger.Open(bo)
	if errors.Is(err, badger.ErrEncryptionKeyMismatch) { // checkKeyRegistry's check, by Badger
		return nil, &DamageError{Dir: opts.Dir, Damage: []Damage{{File: "KEYREGISTRY", Reason: err.Error()}}}
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	strs, err := loadStrings(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	s := &Store{db: db, opts: opts, log: log, customers: newCustomerCache(opts.CustomerCache), strings: strs}
	s.disk = newDiskGuard(opts.Dir, reserve, log)
	if free, full := s.disk.open(); full {
		log.Warn("the store's disk is nearly full: writes are refused until space is freed", "dir", opts.Dir, "free_mb", free>>20, "reserve_mb", reserve>>20)
	}
	if opts.SyncWrites {
		if opts.LazySync <= 0 {
			db.Close()
			return nil, fmt.Errorf("open store %s: lazy sync interval %v is not positive", opts.Dir, opts.LazySync)
		}
		if s.syncer, err = newSyncer(opts.Dir, opts.LazySync, log); err != nil {
			db.Close()
			return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
		}
		s.syncer.start()
	}
	return s, nil
}

// Close flushes and closes the database.
func (s *Store) Close() error {
	if s.syncer != nil {
		s.syncer.close() // Badger's Close syncs every log it has open
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Stats is a plain snapshot of the store's size, published by the binary as metrics.
type Stats struct {
	LSMBytes      int64
	ValueLogBytes int64
	// Fsyncs counts the store's own fsync rounds (see syncer), each covering every write
	// committed before it began, and FsyncTime is the time spent in them; both 0 without
	// SyncWrites.
	Fsyncs    uint64
	FsyncTime time.Duration
	// DiskFree is the free space on the store's file system, DiskReserve the part of it
	// the store keeps (Options.DiskReserve), and DiskFull whether writes are refused
	// (ErrDiskFull) because the free space is below the reserve. WritesRefused counts the
	// refused writes and DecisionsDropped the decision records not logged because of it.
	DiskFree         int64
	DiskReserve      int64
	DiskFull         bool
	WritesRefused    uint64
	DecisionsDropped uint64
}

// Stats returns the store's current size on disk.
func (s *Store) Stats() Stats {
	lsm, vlog := s.db.Size()
	st := Stats{LSMBytes: lsm, ValueLogBytes: vlog}
	st.DiskFree, st.DiskFull = s.disk.state()
	st.DiskReserve = s.disk.reserve
	st.WritesRefused, st.DecisionsDropped = s.disk.refused.Load(), s.disk.dropped.Load()
	if s.syncer != nil {
		st.Fsyncs = s.syncer.rounds.Load()
		st.FsyncTime = time.Duration(s.syncer.roundNanos.Load())
	}
	return st
}

// DiskFull reports whether writes are refused (ErrDiskFull) because the store's disk is
// nearly full.
func (s *Store) DiskFull() bool {
	_, full := s.disk.state()
	return full
}

// RunGC runs Badger's value-log garbage collection until it finds nothing to rewrite. A
// round moves the live entries of a value-log file (at most half of it: see gcOnce) to
// the head of the log before it deletes the file, through Badger's own writes, which the
// disk guard does not see: it runs only while that much fits above the disk reserve.
func (s *Store) RunGC(ctx context.Context) (rewritten int, err error) {
	for ctx.Err() == nil {
		if !s.disk.roomFor(s.valueLogFileSize() / 2) {
			s.log.Warn("value log gc skipped: the disk has no room above its reserve for the entries a round moves", "dir", s.opts.Dir)
			return rewritten, nil
		}
		done, err := s.gcOnce()
		if err != nil {
			return rewritten, err
		}
		if !done {
			return rewritten, nil
		}
		rewritten++
	}
	return rewritten, ctx.Err()
}

// gcOnce runs one round of value-log GC; it reports whether a file was rewritten. The
// entries the GC moves are fsync'd before Badger may delete their old file (see
// holdDeletions).
func (s *Store) gcOnce() (bool, error) {
	if s.syncer != nil {
		release := s.holdDeletions()
		defer release()
	}
	err := s.db.RunValueLogGC(0.5)
	if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("value log gc: %w", err)
	}
	if err := s.durable(); err != nil {
		return false, fmt.Errorf("value log gc: %w", err)
	}
	return true, nil
}

// get reads a JSON value into v; ErrNotFound if the key is absent.
func (s *Store) get(key []byte, v any) error {
	// A copy v may keep slices of: go-json (twice encoding/json's speed on the records this
	// store writes) may alias its input.
	return s.getRecord(key, func(b []byte) error { return gojson.Unmarshal(bytes.Clone(b), v) })
}

// getRecord reads one value through decode, which must keep nothing of the bytes it is
// given (Badger's buffer); ErrNotFound if the key is absent.
func (s *Store) getRecord(key []byte, decode func([]byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return item.Value(decode)
	})
}

func (s *Store) valueLogFileSize() int64 {
	if s.opts.valueLogFileSize > 0 {
		return s.opts.valueLogFileSize
	}
	return badgerValueLogFile
}

// update runs fn in a read-write transaction that writes about size bytes (ErrDiskFull if
// they do not fit above the disk reserve). fn must only write (Set, Delete): the store
// runs without conflict detection (see Open).
func (s *Store) update(size int, fn func(txn *badger.Txn) error) error {
	if err := s.disk.admit(size); err != nil {
		return err
	}
	if err := s.db.Update(fn); err != nil {
		return err
	}
	return s.durable()
}

// now is the wall time the journal's retention is measured in, as Badger's TTLs are.
func (s *Store) now() time.Time {
	if s.opts.now != nil {
		return s.opts.now()
	}
	return time.Now()
}

func (s *Store) ttlEntry(key, value []byte) *badger.Entry {
	e := badger.NewEntry(key, value)
	if s.opts.Retention > 0 {
		e = e.WithTTL(s.opts.Retention)
	}
	return e
}

// badgerLogger routes Badger's log lines to slog; Badger's info chatter goes to debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Infof(f string, a ...any) { b.Debugf(f, a...) }
func (b badgerLogger) Debugf(f string, a ...any) {
	// Badger logs a line per memtable flush and compaction; format it only when the
	// line will be written.
	if b.l.Enabled(context.Background(), slog.LevelDebug) {
		b.l.Debug(fmt.Sprintf(f, a...), "component", "badger")
	}
}

// TableUsage is what one table (key prefix, such as "v1/event/") holds in Badger's LSM
// tree: its entries, every version and deletion marker not yet compacted away included;
// the bytes of their keys and of the values stored inline; and how many values are in
// the value log instead (ValueThreshold), whose bytes are not counted; and the bytes on
// disk of the LSM tree's files (.sst) that hold only this table's keys (block-compressed,
// with their indexes and Bloom filters). A file whose keys span several tables is counted in
// a row of its own, AcrossTables.
type TableUsage struct {
	Table        string
	Entries      int
	KeyBytes     int64
	InlineBytes  int64
	ValueLogged  int
	ValueLogSize int64 // the bytes of the values in the value log
	FileBytes    int64 // on disk, in the LSM tree's files (.sst) of this table alone
}

// AcrossTables is the name of the TableUsage row that counts the LSM tree's files whose
// keys span several tables: their bytes cannot be told apart by table without reading
// them, and bound what FileBytes leaves out.
const AcrossTables = "(across tables)"

// Usage walks the whole store and returns what each table holds, by table name, with
// the AcrossTables row, if any, last.
func (s *Store) Usage(ctx context.Context) ([]TableUsage, error) {
	threshold := s.opts.ValueThreshold // Badger keeps a value this long or longer in the value log
	if threshold <= 0 {
		threshold = 1 << 20 // Badger's default
	}
	byTable := map[string]*TableUsage{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			table := tableOf(item.Key())
			u := byTable[table]
			if u == nil {
				u = &TableUsage{Table: table}
				byTable[table] = u
			}
			u.Entries++
			u.KeyBytes += int64(len(item.Key()))
			if size := item.ValueSize(); size >= threshold {
				u.ValueLogged++
				u.ValueLogSize += size
			} else {
				u.InlineBytes += size
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store usage: %w", err)
	}
	for _, ti := range s.db.Tables() {
		table := tableOf(ti.Left)
		if tableOf(ti.Right) != table {
			table = AcrossTables
		}
		fi, err := os.Stat(btable.NewFilename(ti.ID, s.opts.Dir))
		if errors.Is(err, fs.ErrNotExist) {
			continue // compacted away since Tables (a store in service)
		} else if err != nil {
			return nil, fmt.Errorf("store usage: %w", err)
		}
		u := byTable[table]
		if u == nil {
			u = &TableUsage{Table: table}
			byTable[table] = u
		}
		u.FileBytes += fi.Size()
	}
	out := make([]TableUsage, 0, len(byTable))
	for _, u := range byTable {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b TableUsage) int {
		if (a.Table == AcrossTables) != (b.Table == AcrossTables) {
			return map[bool]int{true: 1, false: -1}[a.Table == AcrossTables] // last
		}
		return strings.Compare(a.Table, b.Table)
	})
	return out, nil
}

// tableOf returns the table part of a key: the layout version and the table name, up to
// and including the second '/'.
func tableOf(key []byte) string {
	if i := bytes.IndexByte(key, '/'); i >= 0 {
		if j := bytes.IndexByte(key[i+1:], '/'); j >= 0 {
			return string(key[:i+j+2])
		}
	}
	return "(other)"
}
