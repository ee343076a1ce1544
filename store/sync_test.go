package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/record"
)

// syncRecord records the files the syncer fsyncs.
type syncRecord struct {
	s     *syncer
	mu    sync.Mutex
	files []string
}

// counts returns the fsyncs done so far and the files fsync'd.
func (r *syncRecord) counts() (int, []string) {
	r.s.mu.Lock()
	n := int(r.s.rounds.Load())
	r.s.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	return n, slices.Clone(r.files)
}

// recordSyncs routes s's fsyncs through a record; they still happen.
func recordSyncs(t *testing.T, s *Store) *syncRecord {
	t.Helper()
	if s.syncer == nil {
		t.Fatal("store has no syncer")
	}
	r := &syncRecord{s: s.syncer}
	s.syncer.mu.Lock()
	defer s.syncer.mu.Unlock()
	s.syncer.fsyncFile = func(path string) error {
		r.mu.Lock()
		r.files = append(r.files, filepath.Base(path))
		r.mu.Unlock()
		return fsyncPath(path)
	}
	return r
}

func openSync(t *testing.T, mutate func(*Options)) *Store {
	t.Helper()
	o := DefaultOptions(t.TempDir())
	o.LazySync = time.Hour // no background fsync unless a test asks for one
	if mutate != nil {
		mutate(&o)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var syncDecisionSeq int

// lazyDecisions commits n decision records in one lazy batch, each with a value of size
// bytes (so that it goes to the value log).
func lazyDecisions(t *testing.T, s *Store, n, size int) {
	t.Helper()
	b := &record.Batch{Lazy: true}
	for range n {
		syncDecisionSeq++
		d := &record.Decision{ID: record.DecisionID(fmt.Sprintf("%016x%02x", syncDecisionSeq, 0xaa)), CustomerID: "c1", Channel: "web",
			Time: time.Unix(int64(syncDecisionSeq), 0).UTC(), Chosen: []record.ActionID{"offer"}}
		d.Features = features.Vector{Index: make([]int32, size/12), Value: make([]float64, size/12)}
		b.Decisions = append(b.Decisions, d)
	}
	if err := s.Commit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func TestSyncerDurableAndLazyWrites(t *testing.T) {
	s := openSync(t, nil)
	rec := recordSyncs(t, s)
	ctx := context.Background()
	step := func(name string, want int) {
		t.Helper()
		if got, _ := rec.counts(); got != want {
			t.Fatalf("%s: %d fsyncs so far, want %d", name, got, want)
		}
	}
	if err := s.PutAction(ctx, record.Action{ID: "offer", Value: 3, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	step("a configuration write", 1)
	if err := s.syncer.sync(); err != nil {
		t.Fatal(err)
	}
	step("Sync with nothing written since", 1)
	lazyDecisions(t, s, 3, 2000)
	step("a lazy batch", 1)
	if err := s.syncer.sync(); err != nil {
		t.Fatal(err)
	}
	step("Sync after a lazy batch", 2)
	lazyDecisions(t, s, 3, 2000)
	if err := s.PutCustomer(ctx, record.Customer{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	step("a lazy batch, then a write someone waits for", 3)
	if err := s.syncer.sync(); err != nil {
		t.Fatal(err)
	}
	step("Sync: the last fsync covered the lazy batch too", 3)
	fill(t, s) // a batch with an event is not lazy
	step("fill's writes (two configuration writes and a batch)", 6)
	// What the binary publishes as nextbest_store_fsyncs_total and _fsync_seconds_total.
	if st := s.Stats(); st.Fsyncs != 6 || st.FsyncTime <= 0 {
		t.Errorf("Stats: %d fsyncs in %v, want 6 in some time", st.Fsyncs, st.FsyncTime)
	}
}

// Writers that commit while an fsync runs share the next one (group commit).
func TestSyncerGroupsWaitingWriters(t *testing.T) {
	s := openSync(t, nil)
	rec := recordSyncs(t, s)
	ctx := context.Background()
	base := s.syncer.written.Load()
	const writers = 10
	s.syncer.mu.Lock() // as if an fsync were running
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() { errs <- s.PutCustomer(ctx, record.Customer{ID: record.CustomerID(fmt.Sprintf("c%d", i))}) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.syncer.written.Load() < base+writers {
		if time.Now().After(deadline) {
			s.syncer.mu.Unlock()
			t.Fatalf("only %d of %d writers committed", s.syncer.written.Load()-base, writers)
		}
		time.Sleep(time.Millisecond)
	}
	s.syncer.mu.Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := rec.counts(); got != 1 {
		t.Fatalf("%d writers waiting on one fsync made %d fsyncs, want 1", writers, got)
	}
}

func TestSyncerBackgroundTick(t *testing.T) {
	s := openSync(t, func(o *Options) { o.LazySync = 20 * time.Millisecond })
	rec := recordSyncs(t, s)
	lazyDecisions(t, s, 2, 2000)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.syncer.mu.Lock()
		covered := s.syncer.synced >= s.syncer.written.Load()
		s.syncer.mu.Unlock()
		if n, _ := rec.counts(); covered && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a lazy batch was not fsync'd by the background tick within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// With nothing more written, the tick does not fsync again.
	n, _ := rec.counts()
	time.Sleep(100 * time.Millisecond)
	if m, _ := rec.counts(); m != n {
		t.Fatalf("the background tick fsync'd %d times with nothing written", m-n)
	}
}

// logFiles lists the store's memtable logs and value-log files by number.
func logFiles(t *testing.T, dir string) (mem, vlog []int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if fid, ok := logFid(e.Name(), memExt); ok {
			mem = append(mem, fid)
		}
		if fid, ok := logFid(e.Name(), vlogExt); ok {
			vlog = append(vlog, fid)
		}
	}
	slices.Sort(mem)
	slices.Sort(vlog)
	return mem, vlog
}

// Badger without SyncWrites syncs neither a value-log file nor a memtable's log when it
// rotates away from it; the syncer must fsync them.
func TestSyncerCoversRotatedLogs(t *testing.T) {
	s := openSync(t, func(o *Options) {
		o.MemTableSize = 2 << 20
		o.valueLogFileSize = 1 << 20
	})
	rec := recordSyncs(t, s)
	if err := s.syncer.sync(); err != nil {
		t.Fatal(err)
	}
	mem0, vlog0 := s.syncer.memFid, s.syncer.vlogFid
	_, initial := rec.counts()
	n0 := len(initial)
	// Decisions of about 3 KB go to the value log; their keys and pointers, and the
	// pending entries, fill the memtable.
	for i := 0; ; i++ {
		lazyDecisions(t, s, 100, 3000)
		mem, vlog := logFiles(t, s.opts.Dir)
		if mem[len(mem)-1] > mem0+1 && vlog[len(vlog)-1] > vlog0+1 {
			break
		}
		if i > 2000 {
			t.Fatalf("no rotation after %d decisions: memtable logs %v, value logs %v", 100*i, mem, vlog)
		}
	}
	_, during := rec.counts()
	if len(during) != n0 {
		t.Fatalf("files fsync'd during lazy writes: %v", during[n0:])
	}
	if err := s.syncer.sync(); err != nil {
		t.Fatal(err)
	}
	_, files := rec.counts()
	files = files[n0:]
	memNow, vlogNow := s.syncer.memFid, s.syncer.vlogFid
	var want []string
	for fid := mem0; fid <= memNow; fid++ {
		want = append(want, memName(fid))
	}
	for fid := vlog0; fid <= vlogNow; fid++ {
		want = append(want, vlogName(fid))
	}
	want = append(want, filepath.Base(s.opts.Dir))
	if !slices.Equal(files, want) {
		t.Fatalf("fsync'd %v, want %v", files, want)
	}
	if mem, vlog := logFiles(t, s.opts.Dir); memNow != mem[len(mem)-1] || vlogNow != vlog[len(vlog)-1] {
		t.Fatalf("the syncer saw memtable log %d and value log %d last; the newest are %v and %v", memNow, vlogNow, mem, vlog)
	}
	// New writes without a rotation: the current logs only, not the directory.
	lazyDecisions(t, s, 1, 3000)
	n1 := n0 + len(files)
	if err := s.syncer.sync(); err != nil {
		t.Fatal(err)
	}
	_, after := rec.counts()
	if got, want := after[n1:], []string{memName(memNow), vlogName(vlogNow)}; !slices.Equal(got, want) {
		t.Fatalf("a Sync without rotation fsync'd %v, want %v", got, want)
	}
}

// Value-log GC moves the entries it keeps to the head of the log and deletes the old
// file; the moved entries must be fsync'd before the old file goes.
func TestGCSyncsBeforeDeleting(t *testing.T) {
	s := openSync(t, func(o *Options) {
		o.MemTableSize = 2 << 20
		o.valueLogFileSize = 1 << 20
	})
	ctx := context.Background()
	// Fill several value-log files, then supersede most of it so that GC has work.
	for range 4 {
		lazyDecisions(t, s, 400, 3000)
	}
	_, vlogs := logFiles(t, s.opts.Dir)
	if len(vlogs) < 3 {
		t.Fatalf("want at least 3 value-log files, have %v", vlogs)
	}
	old := vlogs[:len(vlogs)-1]
	if err := s.db.DropPrefix([]byte(tDecision)); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Flatten(1); err != nil {
		t.Fatal(err)
	}
	// At the first round's fsync every old file must still exist: the one that round
	// emptied is deleted after it.
	var missingAtFirst []string
	checked := false
	s.syncer.mu.Lock()
	rounds0 := s.syncer.rounds.Load()
	s.syncer.fsyncFile = func(path string) error {
		if s.syncer.rounds.Load() == rounds0 && !checked { // the first fsync of the first round
			checked = true
			for _, fid := range old {
				if _, err := os.Stat(filepath.Join(s.opts.Dir, vlogName(fid))); err != nil {
					missingAtFirst = append(missingAtFirst, vlogName(fid))
				}
			}
		}
		return fsyncPath(path)
	}
	s.syncer.mu.Unlock()
	n, err := s.RunGC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("GC rewrote no file; the test needs one")
	}
	_, after := logFiles(t, s.opts.Dir)
	gone := 0
	for _, fid := range old {
		if !slices.Contains(after, fid) {
			gone++
		}
	}
	if gone == 0 {
		t.Fatalf("GC rewrote %d files but deleted none of %v (now %v)", n, old, after)
	}
	if syncs := s.syncer.rounds.Load() - rounds0; syncs < uint64(n) {
		t.Fatalf("%d GC rounds, %d fsyncs", n, syncs)
	}
	if len(missingAtFirst) > 0 {
		t.Fatalf("GC deleted %v before the fsync of the entries it moved", missingAtFirst)
	}
}
