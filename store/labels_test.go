package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/record"
)

// TestLabels: open labels are written with their customer index, found by customer and by
// deadline, marked, and deleted with the event that resolves them; a label record damaged
// on disk is an error (its checksum), never a label read wrong.
func TestLabels(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	l := &record.Label{LabelKey: record.LabelKey{Deadline: t0.Add(24 * time.Hour), Decision: "d1", Objective: "churn"},
		Customer: "c1", Time: t0, Treated: "save", Schema: "s", Features: features.Vector{Index: []int32{0, 7}, Value: []float64{1, 1}}}
	if err := s.Commit(ctx, &record.Batch{Labels: []*record.Label{l}, Left: map[record.CustomerID]time.Time{"c2": t0}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.CustomerLabels(ctx, "c1")
	if err != nil || len(got) != 1 || got[0].Decision != "d1" || got[0].Treated != "save" || len(got[0].Features.Index) != 2 || !got[0].Time.Equal(t0) {
		t.Fatalf("customer labels: %+v, %v", got, err)
	}
	var due []record.Label
	if err := s.DueLabels(ctx, t0.Add(23*time.Hour), 10, func(l record.Label) error { due = append(due, l); return nil }); err != nil || len(due) != 0 {
		t.Fatalf("due before the deadline: %v, %v", due, err)
	}
	if err := s.DueLabels(ctx, t0.Add(25*time.Hour), 10, func(l record.Label) error { due = append(due, l); return nil }); err != nil || len(due) != 1 {
		t.Fatalf("due after the deadline: %v, %v", due, err)
	}
	if left, err := s.LeftAt(ctx, "c2"); err != nil || !left.Equal(t0) {
		t.Fatalf("left at: %v, %v", left, err)
	}
	if _, err := s.LeftAt(ctx, "c1"); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("left at for a customer who did not: %v", err)
	}
	// Resolved: the event and the deletion in one commit.
	ev := &record.Event{Seq: 1, Time: l.Deadline, DecisionID: "d1", ActionID: "save", CustomerID: "c1", Outcome: record.LabelMiss, Objective: "churn", Learned: true, Features: l.Features}
	if err := s.Commit(ctx, &record.Batch{Events: []record.EventWrite{{Event: ev, ResolveLabel: l}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Label(ctx, l.LabelKey); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("resolved label still open: %v", err)
	}
	if got, err := s.CustomerLabels(ctx, "c1"); err != nil || len(got) != 0 {
		t.Fatalf("resolved label still indexed: %+v, %v", got, err)
	}
	if _, err := s.Outcome(ctx, record.OutcomeKey{Decision: "d1", Action: "save"}); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("a label event wrote an outcome state (feedback's idempotency): %v", err)
	}
	// A damaged record.
	rec := encodeLabel(l)
	rec[len(rec)/2] ^= 0x10
	if _, err := decodeLabel(l.LabelKey, rec); !errors.Is(err, errLabelRecord) {
		t.Fatalf("damaged label record: %v, want errLabelRecord", err)
	}
}
