package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/record"
)

// commitEvents writes journal events from through to, one decision each.
func commitEvents(t *testing.T, s *Store, from, to uint64) {
	t.Helper()
	var b record.Batch
	for seq := from; seq <= to; seq++ {
		ev := &record.Event{Seq: seq, Time: time.Unix(int64(seq), 0).UTC(), DecisionID: record.DecisionID("d" + string(rune('a'+seq%26))), ActionID: "offer", Outcome: record.Accepted, Learned: true,
			Features: features.Vector{Index: []int32{0}, Value: []float64{1}}}
		b.Events = append(b.Events, record.EventWrite{Event: ev, Outcome: record.OutcomeState{Seq: seq, Outcome: record.Accepted}})
	}
	if err := s.Commit(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
}

// journalSeqs returns the sequence numbers the journal holds.
func journalSeqs(t *testing.T, s *Store) []uint64 {
	t.Helper()
	var seqs []uint64
	if err := s.Replay(context.Background(), 0, func(e *record.Event) error { seqs = append(seqs, e.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	return seqs
}

// TestJournalOutlivesRetention: journal events do not expire by themselves, however old:
// only a snapshot can make one unneeded. Before, each was written with a Badger TTL of the
// retention and vanished after it, snapshotted or not.
func TestJournalOutlivesRetention(t *testing.T) {
	opts := DefaultOptions(t.TempDir())
	opts.Retention = time.Second // Badger's TTLs count whole seconds
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	commitEvents(t, s, 1, 10)
	time.Sleep(2100 * time.Millisecond) // past the retention, and past the TTL's second boundary
	if got := journalSeqs(t, s); len(got) != 10 {
		t.Fatalf("after the retention the journal holds events %v, want 1 to 10", got)
	}
}

// TestTrimKeepsUncoveredEvents: TrimJournal deletes an event only when a snapshot covers
// it (covered, the engine's checkpoint) and it is a retention old; an event above covered
// stays however old it gets.
func TestTrimKeepsUncoveredEvents(t *testing.T) {
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	opts := DefaultOptions(t.TempDir())
	opts.Retention = time.Hour
	opts.now = func() time.Time { return now }
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	trim := func(covered uint64, want int) {
		t.Helper()
		n, err := s.TrimJournal(ctx, covered)
		if err != nil || n != want {
			t.Fatalf("at %v, TrimJournal(%d) deleted %d events (%v), want %d", now, covered, n, err, want)
		}
	}
	seqs := func(from, to uint64) []uint64 {
		var out []uint64
		for q := from; q <= to; q++ {
			out = append(out, q)
		}
		return out
	}
	holds := func(want []uint64) {
		t.Helper()
		if got := journalSeqs(t, s); !slices.Equal(got, want) {
			t.Fatalf("journal holds %v, want %v", got, want)
		}
	}

	commitEvents(t, s, 1, 10)
	trim(0, 0) // no snapshot covers anything
	trim(5, 0) // 1 to 5 covered, but written just now
	now = now.Add(59 * time.Minute)
	trim(5, 0)
	holds(seqs(1, 10))

	now = now.Add(2 * time.Minute) // 1 to 5 are a retention old
	commitEvents(t, s, 11, 12)
	trim(8, 5) // 6 to 8 are covered now, but not a retention old
	holds(seqs(6, 12))

	now = now.Add(1000 * time.Hour)
	trim(8, 3)
	holds(seqs(9, 12)) // never covered: kept, 1,000 hours on
	trim(8, 0)
	now = now.Add(1000 * time.Hour)
	trim(3, 0) // a lower checkpoint (a store restored from an older backup) deletes nothing more
	holds(seqs(9, 12))
	if last, err := s.LastSeq(ctx); err != nil || last != 12 {
		t.Fatalf("last seq %d, %v; want 12", last, err)
	}

	// A clock set back: marks from the future are dropped, nothing is deleted early.
	trim(12, 0)
	now = now.Add(-5000 * time.Hour)
	trim(12, 0)
	now = now.Add(30 * time.Minute)
	trim(12, 0)
	holds(seqs(9, 12))
	now = now.Add(31 * time.Minute)
	trim(12, 4)
	holds(nil)

	// Without a retention nothing goes.
	commitEvents(t, s, 13, 14)
	s.opts.Retention = 0
	now = now.Add(1000 * time.Hour)
	trim(14, 0)
	holds(seqs(13, 14))
}

// TestTrimJournalOfEarlierVersions: events an earlier version wrote with a Badger TTL are
// replayed like the others and trimmed like the others.
func TestTrimJournalOfEarlierVersions(t *testing.T) {
	now := time.Now()
	opts := DefaultOptions(t.TempDir())
	opts.Retention = time.Hour
	opts.now = func() time.Time { return now }
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	old := &record.Event{Seq: 1, Time: now.UTC(), DecisionID: "d1", ActionID: "offer", Outcome: record.Accepted, Learned: true}
	if err := s.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(eventKey(1), record.EncodeEvent(nil, old)).WithTTL(90 * 24 * time.Hour))
	}); err != nil {
		t.Fatal(err)
	}
	commitEvents(t, s, 2, 3)
	if got := journalSeqs(t, s); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("journal holds %v, want 1 to 3", got)
	}
	if n, err := s.TrimJournal(ctx, 2); err != nil || n != 0 {
		t.Fatalf("first trim: %d, %v", n, err)
	}
	now = now.Add(2 * time.Hour)
	if n, err := s.TrimJournal(ctx, 2); err != nil || n != 2 {
		t.Fatalf("trim a retention later: %d, %v; want 2", n, err)
	}
	if got := journalSeqs(t, s); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("journal holds %v, want 3", got)
	}
}
