package service

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// TestSchedulerRunsEachDueTimeOnce: a run that a crash interrupted (recorded as begun,
// never completed) is not run again after a restart, and the start-up log names it; the
// job's later due times run as usual, and the manual clock resumes where it was.
func TestSchedulerRunsEachDueTimeOnce(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(store.DefaultOptions(filepath.Join(t.TempDir(), "data")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	// What a scheduler recorded before it was killed in the middle of the run due at
	// 01:00 of an hourly job, with its manual clock there.
	interrupted := t0.Add(time.Hour)
	raw, _ := json.Marshal(schedState{Clock: interrupted, Jobs: map[string]jobRuns{"hourly": {Began: interrupted}}})
	if err := st.PutSetting(ctx, settingScheduler, raw); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer // slog's handler serializes the writes; the test reads before the scheduler runs
	log := slog.New(slog.NewTextHandler(&logs, nil))
	clock := engine.NewManualClock(t0)
	state, err := loadSchedState(ctx, st, clock, log)
	if err != nil {
		t.Fatal(err)
	}
	if !clock.Now().Equal(interrupted) {
		t.Errorf("the clock resumes at %v, want %v", clock.Now(), interrupted)
	}
	if !strings.Contains(logs.String(), "did not complete") || !strings.Contains(logs.String(), "job=hourly") {
		t.Errorf("the start-up log does not name the interrupted run:\n%s", logs.String())
	}
	eng, err := engine.New(engine.DefaultOptions(), st, clock, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Open(ctx); err != nil {
		t.Fatal(err)
	}
	s := newScheduler(clock, eng, st, state, log)
	var runs []time.Time
	if err := s.add("hourly", "@hourly", func(_ context.Context, at time.Time) error { runs = append(runs, at); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Advance(ctx, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if want := []time.Time{t0.Add(2 * time.Hour), t0.Add(3 * time.Hour)}; !slices.EqualFunc(runs, want, time.Time.Equal) {
		t.Errorf("runs at %v, want %v: the interrupted 01:00 run is not run again", runs, want)
	}
	// The last run is recorded as completed, and the clock where the advance ended.
	state, err = loadSchedState(ctx, st, engine.NewManualClock(t0), log)
	if err != nil {
		t.Fatal(err)
	}
	if r := state.Jobs["hourly"]; !r.Began.Equal(t0.Add(3*time.Hour)) || !r.Completed.Equal(r.Began) || !state.Clock.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("stored state %+v, want the 03:00 run completed and the clock at 03:00", state)
	}
}

// fixedClock is a system-mode clock (not an engine.ManualClock) that reads t.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// TestSchedulerAfterLastRun: a job is scheduled after its last recorded run even when the
// clock reads earlier (the wall clock stepped back across a restart), so that a due time
// that ran does not run again.
func TestSchedulerAfterLastRun(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(store.DefaultOptions(filepath.Join(t.TempDir(), "data")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	ran := t0.Add(time.Hour)
	raw, _ := json.Marshal(schedState{Jobs: map[string]jobRuns{"hourly": {Began: ran, Completed: ran}}})
	if err := st.PutSetting(ctx, settingScheduler, raw); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	clock := fixedClock{t0.Add(30 * time.Minute)} // before the recorded run
	state, err := loadSchedState(ctx, st, clock, log)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.DefaultOptions(), st, clock, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Open(ctx); err != nil {
		t.Fatal(err)
	}
	s := newScheduler(clock, eng, st, state, log)
	if err := s.add("hourly", "@hourly", func(context.Context, time.Time) error { return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := s.runDue(ctx, t0.Add(2*time.Hour), context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"hourly @ 2026-11-02T02:00:00Z"}; !slices.Equal(got, want) {
		t.Errorf("ran %q, want %q: the 01:00 run had run", got, want)
	}
}
