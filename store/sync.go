package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// syncer makes writes durable for the store, in place of Badger's SyncWrites.
//
// With SyncWrites Badger msyncs its value log and its memtable's write-ahead log after every
// write, whether or not anyone waits for it. Most of nextbest's writes are decision records
// that no request waits for, and on this machine's ext4 an msync writes back whole large
// folios, about 1 MB, however little changed: 13.2 KB written to disk per decision with
// an msync every few milliseconds, 3.7 KB with the lazy fsync below (docs/durability.md,
// "Who fsyncs"). So the store runs Badger without SyncWrites and syncs itself:
//
//   - a write someone waits for (feedback, configuration, keys: everything but a batch of
//     decision records) is fsync'd before the call returns; concurrent callers share one
//     fsync (group commit);
//   - a lazy write (Batch.Lazy: decision records) is fsync'd by the next such call, or by a
//     background tick at most Options.LazySync after it was written.
//
// An fsync covers the logs Badger writes to (the current value-log file and the current
// memtable's log), and also the logs it has rotated away from since the last fsync: Badger
// without SyncWrites does not sync a value-log file when it moves to the next one, nor a
// memtable's log when the memtable becomes immutable (it is synced only as the table Badger
// flushes it to, after which the log is deleted). Badger names these files by increasing
// number (%06d.vlog, %05d.mem), so the syncer looks for files numbered past the newest it
// saw last time and fsyncs every one from that newest on, then the directory that holds
// their names if there are new ones. Tables and the manifest Badger always syncs itself.
type syncer struct {
	dir      string
	log      *slog.Logger
	interval time.Duration

	written atomic.Uint64 // writes committed so far (a generation count)
	mu      sync.Mutex    // one fsync at a time; guards the fields below
	synced  uint64        // the generation the last fsync covered
	memFid  int           // newest memtable log seen at the last fsync
	vlogFid int           // newest value-log file seen at the last fsync

	rounds     atomic.Uint64 // fsync rounds done (Stats, tests)
	roundNanos atomic.Uint64 // time spent in them

	fsyncFile func(path string) error // fsyncPath; tests record the calls

	stop chan struct{}
	done chan struct{}
}

const (
	memExt  = ".mem"
	vlogExt = ".vlog"
)

// newSyncer reads the directory for the newest log files; Badger must be open on dir.
func newSyncer(dir string, interval time.Duration, log *slog.Logger) (*syncer, error) {
	s := &syncer{dir: dir, log: log, interval: interval, fsyncFile: fsyncPath}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read store directory: %w", err)
	}
	for _, e := range entries {
		if fid, ok := logFid(e.Name(), memExt); ok {
			s.memFid = max(s.memFid, fid)
		}
		if fid, ok := logFid(e.Name(), vlogExt); ok {
			s.vlogFid = max(s.vlogFid, fid)
		}
	}
	return s, nil
}

// logFid parses Badger's log file name: a decimal number and ext.
func logFid(name, ext string) (int, bool) {
	num, ok := strings.CutSuffix(name, ext)
	if !ok || num == "" {
		return 0, false
	}
	fid, err := strconv.Atoi(num)
	return fid, err == nil && fid >= 0
}

func memName(fid int) string  { return fmt.Sprintf("%05d%s", fid, memExt) }
func vlogName(fid int) string { return fmt.Sprintf("%06d%s", fid, vlogExt) }

// start runs the background tick that bounds how long a lazy write waits for its fsync.
func (s *syncer) start() {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if err := s.sync(); err != nil {
					s.log.Error("background fsync of the decision log failed", "err", err)
				}
			}
		}
	}()
}

// close stops the background tick; Badger's Close syncs what is left.
func (s *syncer) close() {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
}

// wrote records a committed write; it is durable after the next sync returns nil.
func (s *syncer) wrote() { s.written.Add(1) }

// sync makes every write committed before it was called durable. A caller that finds its
// writes already covered by an fsync that began after them returns at once.
func (s *syncer) sync() error {
	want := s.written.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.synced >= want {
		return nil
	}
	upTo := s.written.Load() // writes committed before the fsync starts are covered by it
	start := time.Now()
	if err := s.fsyncLogs(); err != nil {
		return err
	}
	s.roundNanos.Add(uint64(time.Since(start))) // with rounds: the time of the rounds counted
	s.rounds.Add(1)
	s.synced = upTo
	return nil
}

// fsyncLogs fsyncs every log written to since the last fsync: from the newest memtable
// log and value-log file seen then to the newest now, and then, if there are new ones, the
// directory that holds their names. Called with mu held.
//
// It fsyncs the files by name rather than calling Badger's DB.Sync, which holds Badger's
// memtable lock (read side) while it msyncs: a memtable rotation waiting for that lock then
// holds up every read behind it for the length of the msync.
func (s *syncer) fsyncLogs() error {
	mem, err := s.newest(s.memFid, memName)
	if err != nil {
		return err
	}
	vlog, err := s.newest(s.vlogFid, vlogName)
	if err != nil {
		return err
	}
	// Everything committed before this fsync began is in a log numbered at most the newest
	// found now (Badger numbers new logs upwards), and in none older than the newest seen
	// at the last fsync.
	for fid := s.memFid; fid <= mem; fid++ {
		if err := s.fsyncLog(memName(fid)); err != nil {
			return err
		}
	}
	for fid := s.vlogFid; fid <= vlog; fid++ {
		if err := s.fsyncLog(vlogName(fid)); err != nil {
			return err
		}
	}
	if mem != s.memFid || vlog != s.vlogFid {
		if err := s.fsyncFile(s.dir); err != nil {
			return fmt.Errorf("fsync store directory: %w", err)
		}
	}
	s.memFid, s.vlogFid = mem, vlog
	return nil
}

// newest returns the newest log numbered from fid on that exists.
func (s *syncer) newest(fid int, name func(int) string) (int, error) {
	for {
		_, err := os.Stat(filepath.Join(s.dir, name(fid+1)))
		if errors.Is(err, fs.ErrNotExist) {
			return fid, nil
		}
		if err != nil {
			return fid, fmt.Errorf("fsync store: %w", err)
		}
		fid++
	}
}

// fsyncLog fsyncs one log; a log that no longer exists was flushed to a table (a memtable's
// log) or collected (a value-log file), and Badger synced what replaced it.
func (s *syncer) fsyncLog(name string) error {
	err := s.fsyncFile(filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fsync store log %s: %w", name, err)
	}
	return nil
}

// fsyncPath fsyncs a file or directory by path (datasync where the system has it, as
// msync does). On Linux this writes back the pages written through any mapping of the file
// as well: msync(MS_SYNC) is the same call (vfs_fsync_range) on a range. So it covers
// Badger's memory-mapped writes.
func fsyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = datasync(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// holdDeletions keeps Badger from deleting value-log files until release is called:
// Badger defers deleting a file its value-log GC has emptied while any iterator is open.
// RunGC holds one over each GC round and fsyncs before letting go, because without
// SyncWrites the entries the GC moved are not yet on disk when it would delete their
// old file.
func (s *Store) holdDeletions() (release func()) {
	txn := s.db.NewTransaction(false)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tHold)})
	return func() {
		it.Close()
		txn.Discard()
	}
}

// durable is called after a committed write that its caller waits for.
func (s *Store) durable() error {
	if s.syncer == nil {
		return nil
	}
	s.syncer.wrote()
	return s.syncer.sync()
}

// lazy is called after a committed write that no one waits for.
func (s *Store) lazy() {
	if s.syncer != nil {
		s.syncer.wrote()
	}
}
