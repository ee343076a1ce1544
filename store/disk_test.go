//go:build linux

package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/record"
)

// freeNow returns the free bytes of the file system that holds dir.
func freeNow(t *testing.T, dir string) int64 {
	t.Helper()
	free, err := diskFree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return free
}

// TestDiskFullRefusesWrites makes the disk "full" by asking for a reserve as large as the
// free space of the test's real file system (which other processes may change by a few
// per cent; the store counts a disk within a quarter above the reserve as full at open):
// every kind of write is refused with ErrDiskFull and changes nothing, reads go on, the
// refusals and the dropped decision records are counted, value-log GC is skipped; and
// once the reserve fits again, writes are accepted without reopening.
func TestDiskFullRefusesWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	fill(t, s)
	before := dump(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	opts := DefaultOptions(dir)
	opts.DiskReserve = freeNow(t, dir)
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.DiskFull() {
		t.Fatalf("DiskFull() = false with a reserve of all the free space (%d bytes)", opts.DiskReserve)
	}

	d := &record.Decision{ID: "0000000000000002bb", CustomerID: "c1", Channel: "web", Time: time.Unix(2, 0).UTC(), Chosen: []record.ActionID{"offer"},
		Features: features.Vector{Index: []int32{0}, Value: []float64{1}}}
	ev := &record.Event{Seq: 2, DecisionID: "0000000000000001aa", ActionID: "offer", Outcome: record.Clicked, Features: d.Features}
	writes := []struct {
		name  string
		write func() error
	}{
		{"action", func() error { return s.PutAction(ctx, record.Action{ID: "full", Value: 1, Enabled: true}) }},
		{"customer", func() error {
			return s.PutCustomer(ctx, record.Customer{ID: "c2", Attributes: map[string]any{"plan": "big"}})
		}},
		{"setting", func() error { return s.PutSetting(ctx, "x", []byte("y")) }},
		{"key", func() error { return s.PutKey(ctx, access.Key{ID: "k1", Role: access.Decide}) }},
		{"experiment", func() error { return s.PutExperiment(ctx, record.Experiment{ID: "x1"}) }},
		{"decisions", func() error { return s.Commit(ctx, &record.Batch{Decisions: []*record.Decision{d}, Lazy: true}) }},
		{"events", func() error {
			return s.Commit(ctx, &record.Batch{Events: []record.EventWrite{{Event: ev, Outcome: record.OutcomeState{Seq: 2, Outcome: record.Clicked}}}})
		}},
	}
	for _, w := range writes {
		if err := w.write(); !errors.Is(err, ErrDiskFull) || !errors.Is(err, record.ErrInsufficientStorage) {
			t.Errorf("%s on a full disk: %v, want ErrDiskFull", w.name, err)
		}
	}
	if got := dump(t, s); !reflect.DeepEqual(got, before) {
		t.Errorf("refused writes changed the store: %d keys, had %d", len(got), len(before))
	}
	if c, err := s.Customer(ctx, "c1"); err != nil || c.Attributes["plan"] != "small" {
		t.Errorf("read on a full disk: %+v, %v", c, err)
	}
	st := s.Stats()
	if !st.DiskFull || st.WritesRefused != uint64(len(writes)) || st.DecisionsDropped != 1 || st.DiskReserve != opts.DiskReserve || st.DiskFree <= 0 {
		t.Errorf("stats on a full disk: %+v, want full, %d writes refused, 1 decision dropped, reserve %d", st, len(writes), opts.DiskReserve)
	}
	if n, err := s.RunGC(ctx); n != 0 || err != nil {
		t.Errorf("RunGC on a full disk: %d files, %v; want it skipped", n, err)
	}

	// Space comes back (here: the reserve shrinks); the next reading, at most
	// checkInterval later, lets writes in.
	s.disk.mu.Lock()
	s.disk.reserve = 1 << 20
	s.disk.mu.Unlock()
	time.Sleep(checkInterval)
	if err := s.PutCustomer(ctx, record.Customer{ID: "c2", Attributes: map[string]any{"plan": "big"}}); err != nil {
		t.Fatalf("write after space came back: %v", err)
	}
	if s.DiskFull() || s.Stats().DiskFull {
		t.Error("still full after a write was accepted")
	}
}

// TestOpenRefusesDiskWithoutRoom: a disk with less free space than opening needs (half
// the reserve, plus the memtables to flush) is refused at Open with ErrDiskFull and a
// message, before Badger writes anything.
func TestOpenRefusesDiskWithoutRoom(t *testing.T) {
	dir := t.TempDir()
	opts := DefaultOptions(dir)
	opts.DiskReserve = 4 * freeNow(t, dir)
	s, err := Open(opts)
	if err == nil {
		s.Close()
		t.Fatal("opened a store with half the reserve above the free space")
	}
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "free some space") {
		t.Errorf("Open: %v, want ErrDiskFull and what to do", err)
	}
}

// TestAutoReserve: the reserve's figures with the defaults, as docs/configuration.md
// gives them.
func TestAutoReserve(t *testing.T) {
	for _, tc := range []struct {
		memtable int64
		n        int
		want     int64
	}{
		{8 << 20, 2, 106 << 20}, // (2 + 5) x 8 + 20 + 22 + 8
		{1 << 20, 2, 57 << 20},  // (2 + 5) x 1 + 50
		{0, 0, 690 << 20},       // Badger's defaults: (5 + 5) x 64 + 50
	} {
		o := DefaultOptions("")
		o.MemTableSize, o.NumMemtables = tc.memtable, tc.n
		if got := autoReserve(o); got != tc.want {
			t.Errorf("autoReserve(memtable %d MB x %d) = %d MB, want %d MB", tc.memtable>>20, tc.n, got>>20, tc.want>>20)
		}
	}
}

// TestDiskUsage: a sparse file counts for the blocks it holds, not its length, and files
// in subdirectories count. An 8 MiB file with 4 KiB written holds between 4 KiB and
// 1 MiB of blocks on any file system with blocks up to 1 MiB; an 8 KiB file written in
// full holds at least 8 KiB.
func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	sparse, err := os.Create(filepath.Join(dir, "000001.mem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sparse.Truncate(8 << 20); err != nil {
		t.Fatal(err)
	}
	if _, err := sparse.WriteAt(make([]byte, 4<<10), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := sparse.Close(); err != nil {
		t.Fatal(err)
	}
	if got := DiskUsage(dir); got < 4<<10 || got > 1<<20 {
		t.Fatalf("sparse 8 MiB file with 4 KiB written: DiskUsage %d, want 4 KiB..1 MiB", got)
	}
	one := DiskUsage(dir)
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "full"), bytes.Repeat([]byte{1}, 8<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := DiskUsage(dir) - one; got < 8<<10 {
		t.Fatalf("8 KiB file in a subdirectory added %d bytes, want at least 8 KiB", got)
	}
	if got := DiskUsage(filepath.Join(dir, "absent")); got != 0 {
		t.Fatalf("DiskUsage of a missing directory = %d, want 0", got)
	}
}
