package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// errPowerCut is what a cutStore answers once it has been cut.
var errPowerCut = errors.New("the process is dead")

// cutStore is the real store until cut: from then on it writes nothing, as if the process
// had been killed there (a killed process writes no final snapshot).
type cutStore struct {
	*store.Store
	cut atomic.Bool
}

func (s *cutStore) Commit(ctx context.Context, b *engine.Batch) error {
	if s.cut.Load() {
		return errPowerCut
	}
	return s.Store.Commit(ctx, b)
}

// runEngine opens an engine on es and runs its committer; stop ends it and returns what
// Run returned.
func runEngine(t *testing.T, es engine.Store, clock engine.Clock) (eng *engine.Engine, stop func() error) {
	t.Helper()
	eng, err := engine.New(engine.DefaultOptions(), es, clock, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	return eng, func() error { cancel(); return <-done }
}

// respond decides n times on channel and answers each offer: one in three accepted.
func respond(t *testing.T, eng *engine.Engine, channel, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		d, err := eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("%s%d", prefix, i)), Channel: channel, Context: map[string]any{"spend": float64(i % 40)}})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Actions) != 1 {
			t.Fatalf("decide on %s: %+v, want one action", channel, d.Actions)
		}
		outcome := engine.Ignored
		if i%3 == 0 {
			outcome = engine.Accepted
		}
		if _, err := eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: d.DecisionID, ActionID: d.Actions[0].ID, Outcome: outcome}); err != nil {
			t.Fatal(err)
		}
	}
}

func responses(t *testing.T, eng *engine.Engine, id engine.ActionID) int64 {
	t.Helper()
	m, err := eng.Model(id, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m.Health.Responses
}

// TestReplayedModelsAreSnapshotted: a model rebuilt from the journal at start-up (the
// process was killed before any snapshot) must be stored by the next snapshot. Before,
// replay did not mark it changed: the next snapshot, triggered by feedback on another
// action, stored only that one and moved the checkpoint past the replayed events, so the
// restart after it replayed nothing and the first model was back at its prior.
func TestReplayedModelsAreSnapshotted(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(store.DefaultOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := engine.NewManualClock(t0)
	ctx := context.Background()

	// First life: web-only "a" and email-only "b"; 90 answered offers of "a", then the
	// process dies before any snapshot.
	cs := &cutStore{Store: st}
	eng, stop := runEngine(t, cs, clock)
	for _, a := range []engine.Action{{ID: "a", Channels: []string{"web"}}, {ID: "b", Channels: []string{"email"}}} {
		a.Value, a.Enabled = 1, true
		if _, err := eng.PutAction(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	respond(t, eng, "web", "w", 90)
	cs.cut.Store(true)
	if err := stop(); !errors.Is(err, errPowerCut) {
		t.Fatalf("engine after the cut: %v, want the cut's error from the final snapshot", err)
	}

	// Second life: "a" is rebuilt from the journal; feedback on "b" only; a clean stop
	// snapshots every changed model.
	eng, stop = runEngine(t, st, clock)
	if got := responses(t, eng, "a"); got != 90 {
		t.Fatalf("after the crash, a holds %d responses, want the 90 of the journal", got)
	}
	respond(t, eng, "email", "e", 5)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Third life: both models are whole.
	eng, stop = runEngine(t, st, clock)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	if a, b := responses(t, eng, "a"), responses(t, eng, "b"); a != 90 || b != 5 {
		t.Fatalf("after a clean restart a holds %d responses and b %d, want 90 and 5", a, b)
	}
}

// TestSequenceContinuesAfterTrim: once the retention has trimmed the whole journal, new
// events must still get sequences above the snapshots' checkpoint. Before, the next
// sequence came from the newest event in the journal alone: with none left it started at
// 1 again, and replay after a crash skipped the new events as already snapshotted.
func TestSequenceContinuesAfterTrim(t *testing.T) {
	opts := store.DefaultOptions(t.TempDir())
	opts.Retention = time.Second
	st, err := store.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := engine.NewManualClock(t0)
	ctx := context.Background()

	eng, stop := runEngine(t, st, clock)
	if _, err := eng.PutAction(ctx, engine.Action{ID: "a", Value: 1, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	respond(t, eng, "web", "x", 6)
	if _, err := eng.Snapshot(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	// The first trim marks the covered journal; a retention later the second deletes it.
	if n, err := eng.TrimJournal(ctx); err != nil || n != 0 {
		t.Fatalf("first trim: %d, %v; want 0", n, err)
	}
	time.Sleep(1100 * time.Millisecond)
	if n, err := eng.TrimJournal(ctx); err != nil || n != 6 {
		t.Fatalf("trim a retention later: %d, %v; want the 6 events", n, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Second life: 4 more events, then a crash before any snapshot.
	cs := &cutStore{Store: st}
	eng, stop = runEngine(t, cs, clock)
	respond(t, eng, "web", "y", 4)
	cs.cut.Store(true)
	if err := stop(); !errors.Is(err, errPowerCut) {
		t.Fatalf("engine after the cut: %v", err)
	}
	if last, err := st.LastSeq(ctx); err != nil || last != 10 {
		t.Fatalf("the new events end at sequence %d (%v), want 10: after the 6 trimmed", last, err)
	}

	eng, stop = runEngine(t, st, clock)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	if got := responses(t, eng, "a"); got != 10 {
		t.Fatalf("after the crash the model holds %d responses, want 10", got)
	}
}
