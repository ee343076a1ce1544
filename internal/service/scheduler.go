package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// scheduler runs the service's scheduled work (response timeouts, snapshots, value-log GC,
// the NBA outbound pass, and each campaign's runs) on robfig/cron schedules, against the
// engine's one clock:
//
//   - clock: system. A loop wakes every second and runs what is due by the wall clock.
//   - clock: manual. Nothing runs by itself. POST /v1/clock moves the clock forward and
//     runs, in time order, every job that falls due on the way, with the clock set to each
//     job's due time. A replay or simulation thus runs days in seconds, deterministically.
//
// Jobs run one at a time, so a job never overlaps itself or another; Stop waits for the
// running one to finish.
//
// A job due at a time runs at most once, even across a crash: each run is recorded in the
// store (fsync'd) before it begins and again once it completes, and a restarted scheduler
// schedules each job after its last recorded run. A run that a crash interrupted is
// therefore not run again (the start-up log names it). A manual clock's time is recorded
// with each run and at the end of each advance, and a restart resumes it there.
type scheduler struct {
	clock  engine.Clock
	manual *engine.ManualClock // nil in system mode
	eng    *engine.Engine
	store  settings
	log    *slog.Logger

	mu     sync.Mutex // one job at a time; guards the fields below
	static []*job
	camps  map[engine.CampaignID]*job
	state  schedState

	// gate, on a replica of a cluster, reports whether it holds the scheduler's lease;
	// keepDue is how long a slot of a cluster job stays due on the others.
	gate    func() bool
	keepDue time.Duration
}

// settings is the part of the store the scheduler keeps its state in.
type settings interface {
	Setting(ctx context.Context, name string) ([]byte, error) // engine.ErrNotFound if absent
	PutSetting(ctx context.Context, name string, value []byte) error
}

// settingScheduler names the scheduler's state among the store's settings.
const settingScheduler = "scheduler"

// schedState is what the scheduler keeps in the store.
type schedState struct {
	Clock time.Time          `json:"clock,omitzero"` // a manual clock's time
	Jobs  map[string]jobRuns `json:"jobs"`           // by job name
}

// jobRuns is a job's last run, by the due time it ran for.
type jobRuns struct {
	Began     time.Time `json:"began"`
	Completed time.Time `json:"completed,omitzero"` // Began once the run has returned
}

// loadSchedState reads the scheduler's state from the store and moves a manual clock to
// the time it had reached (never back: a later clock_start wins).
func loadSchedState(ctx context.Context, st settings, clock engine.Clock, log *slog.Logger) (schedState, error) {
	state := schedState{Jobs: map[string]jobRuns{}}
	raw, err := st.Setting(ctx, settingScheduler)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return state, nil
	case err != nil:
		return state, fmt.Errorf("load the scheduler's state: %w", err)
	}
	if err := json.Unmarshal(raw, &state); err != nil {
		return state, fmt.Errorf("load the scheduler's state: %w", err)
	}
	if state.Jobs == nil {
		state.Jobs = map[string]jobRuns{}
	}
	if m, ok := clock.(*engine.ManualClock); ok && m.Set(state.Clock) {
		log.Info("the manual clock resumes where it was", "now", state.Clock)
	}
	for name, r := range state.Jobs {
		if !r.Completed.Equal(r.Began) {
			log.Warn("a scheduled run began before the process stopped and did not complete; it is not run again", "job", name, "due", r.Began)
		}
	}
	return state, nil
}

// save writes the state to the store. Callers hold s.mu.
func (s *scheduler) save(ctx context.Context) error {
	raw, err := json.Marshal(s.state)
	if err != nil {
		return fmt.Errorf("encode the scheduler's state: %w", err)
	}
	if err := s.store.PutSetting(ctx, settingScheduler, raw); err != nil {
		return fmt.Errorf("save the scheduler's state: %w", err)
	}
	return nil
}

// first returns a job's first due time: the first after now and after its last run.
func (s *scheduler) first(name string, sched cron.Schedule, now time.Time) time.Time {
	if last := s.state.Jobs[name].Began; last.After(now) {
		now = last
	}
	return sched.Next(now)
}

type job struct {
	name  string
	spec  string
	sched cron.Schedule
	next  time.Time
	fn    func(ctx context.Context, at time.Time) error
	// local: every replica of a cluster runs it on its own store (snapshots, gc); the
	// others run on the replica that holds the scheduler's lease (gate).
	local bool
}

// newScheduler returns a scheduler over the store st, with the state loadSchedState read.
func newScheduler(clock engine.Clock, eng *engine.Engine, st settings, state schedState, log *slog.Logger) *scheduler {
	s := &scheduler{clock: clock, eng: eng, store: st, state: state, log: log, camps: map[engine.CampaignID]*job{}}
	if m, ok := clock.(*engine.ManualClock); ok {
		s.manual = m
	}
	return s
}

// add registers a job; an empty spec leaves it off.
func (s *scheduler) add(name, spec string, fn func(ctx context.Context, at time.Time) error) error {
	if spec == "" {
		return nil
	}
	sched, err := s.parse(spec)
	if err != nil {
		return fmt.Errorf("schedule.%s: %q: %w", name, spec, err)
	}
	s.static = append(s.static, &job{name: name, spec: spec, sched: sched, next: s.first(name, sched, s.clock.Now()), fn: fn})
	return nil
}

// parse parses a cron spec. On a replica of a cluster an "@every" spec's due times are
// the multiples of its interval (since Go's zero time), the same on every replica: robfig's
// ConstantDelaySchedule counts from the time it is first asked, a replica's own start, so
// that two replicas' due times of "@every 2s" could differ by a second, and a replica that
// took the lease over ran again, under other idempotency keys, the runs of a dead holder
// (TestScheduledWorkExactlyOnce).
func (s *scheduler) parse(spec string) (cron.Schedule, error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if every, ok := sched.(cron.ConstantDelaySchedule); ok && s.gate != nil {
		return alignedEvery(every.Delay), nil
	}
	return sched, nil
}

// alignedEvery is an "@every" schedule whose due times are the multiples of its interval.
type alignedEvery time.Duration

// Next returns the first multiple of the interval after t.
func (a alignedEvery) Next(t time.Time) time.Time {
	d := time.Duration(a)
	return t.Truncate(d).Add(d)
}

// jobs returns every job, the campaigns' refreshed from the engine. Callers hold s.mu.
func (s *scheduler) jobs(now time.Time) []*job {
	seen := map[engine.CampaignID]bool{}
	for _, c := range s.eng.Campaigns() {
		if c.Schedule == "" || !c.Enabled {
			continue
		}
		seen[c.ID] = true
		if j := s.camps[c.ID]; j != nil && j.spec == c.Schedule {
			continue
		}
		sched, err := s.parse(c.Schedule)
		if err != nil {
			continue // PutCampaign validated it; a stored bad spec is skipped
		}
		id := c.ID
		name := "campaign " + string(id)
		s.camps[id] = &job{name: name, spec: c.Schedule, sched: sched, next: s.first(name, sched, now), fn: func(ctx context.Context, _ time.Time) error {
			res, err := s.eng.RunCampaign(ctx, id)
			if err == nil {
				s.log.Info("campaign run", "campaign", id, "contacted", res.Contacted, "eligible", res.Eligible, "capped", res.Capped, "elapsed", res.Elapsed)
			}
			return err
		}}
	}
	for id := range s.camps {
		if !seen[id] {
			delete(s.camps, id)
		}
	}
	out := append([]*job{}, s.static...)
	for _, j := range s.camps {
		out = append(out, j)
	}
	sort.Slice(out, func(i, k int) bool {
		if !out[i].next.Equal(out[k].next) {
			return out[i].next.Before(out[k].next)
		}
		return out[i].name < out[k].name
	})
	return out
}

// nextDue returns the first job of js (in time order) due at or before to that this
// replica runs, nil if none. On a replica that does not hold the scheduler's lease, the
// cluster's jobs are run by the holder: their slots stay due here for keepDue, so that a
// replica that takes the lease over runs what a dead holder did not (the log drops a run
// the holder did make: its key is the job and the slot), and are passed over after that.
func (s *scheduler) nextDue(js []*job, to time.Time) *job {
	for _, j := range js {
		if j.next.After(to) {
			return nil
		}
		if s.gate == nil || j.local || s.gate() {
			return j
		}
		for !j.next.After(to) && to.Sub(j.next) >= s.keepDue {
			j.next = j.sched.Next(j.next)
		}
	}
	return nil
}

// runDue runs every job due at or before to, in time order; in manual mode the clock is
// set to each job's due time first. It returns the names of the jobs run, and an error if
// a run could not be recorded (the job then did not run). Callers hold s.mu.
func (s *scheduler) runDue(ctx context.Context, to time.Time, stop context.Context) ([]string, error) {
	var ran []string
	for ctx.Err() == nil && stop.Err() == nil {
		j := s.nextDue(s.jobs(s.clock.Now()), to)
		if j == nil {
			break
		}
		at := j.next
		ctx := ctx
		if s.gate != nil {
			ctx = engine.WithIdempotencyKey(ctx, "job:"+j.name+":"+strconv.FormatInt(at.Unix(), 10))
		}
		s.state.Jobs[j.name] = jobRuns{Began: at}
		if s.manual != nil {
			s.state.Clock = at
		}
		if err := s.save(ctx); err != nil {
			return ran, fmt.Errorf("record the run of %s due at %s: %w", j.name, at.UTC().Format(time.RFC3339), err)
		}
		if s.manual != nil {
			s.manual.Set(at)
		}
		err := j.fn(ctx, at)
		if err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("scheduled job failed", "job", j.name, "err", err)
		}
		ran = append(ran, j.name+" @ "+at.UTC().Format(time.RFC3339))
		j.next = j.sched.Next(at)
		if errors.Is(err, context.Canceled) {
			continue // cut short: it stays begun, not completed
		}
		s.state.Jobs[j.name] = jobRuns{Began: at, Completed: at}
		if err := s.save(ctx); err != nil {
			return ran, fmt.Errorf("record the end of the run of %s due at %s: %w", j.name, at.UTC().Format(time.RFC3339), err)
		}
	}
	return ran, nil
}

// Run runs the system-clock loop until loop is cancelled, then returns once the job that
// may be running has finished; jobs get jobs as their context, which the caller cancels
// only to cut a job short. In manual mode it only waits.
func (s *scheduler) Run(loop, jobs context.Context) {
	if s.manual != nil {
		<-loop.Done()
		s.mu.Lock() // wait for an Advance in progress
		s.mu.Unlock()
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-loop.Done():
			return
		case <-t.C:
			s.mu.Lock()
			if _, err := s.runDue(jobs, s.clock.Now(), loop); err != nil {
				s.log.Error("scheduled work waits: a run could not be recorded; retrying", "err", err)
			}
			s.mu.Unlock()
		}
	}
}

// Advance implements api.ClockDriver: move the manual clock to t, running due jobs. The
// clock reaches t, in memory and in the store, only once every job due on the way has
// run; an advance cut short leaves it at the last job's due time.
func (s *scheduler) Advance(ctx context.Context, t time.Time) (wire.ClockState, error) {
	if s.manual == nil {
		return wire.ClockState{}, errors.New("the clock is not manual")
	}
	if s.eng.Clustered() {
		// Every replica advances, at the same point of the cluster's log (advanceLocal).
		ran, err := s.eng.AdvanceClock(ctx, t)
		if err != nil {
			return wire.ClockState{}, err
		}
		return wire.ClockState{Mode: "manual", Now: s.manual.Now(), Ran: ran}, nil
	}
	return s.advanceLocal(ctx, t)
}

// advanceLocal moves this process's manual clock to t, running the jobs due on the way.
func (s *scheduler) advanceLocal(ctx context.Context, t time.Time) (wire.ClockState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ran, err := s.runDue(ctx, t, context.Background())
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return wire.ClockState{}, fmt.Errorf("advance the clock to %s after %d runs: %w", t.UTC().Format(time.RFC3339), len(ran), err)
	}
	if t.After(s.state.Clock) {
		s.state.Clock = t
		if err := s.save(ctx); err != nil {
			return wire.ClockState{}, err
		}
	}
	s.manual.Set(t)
	return wire.ClockState{Mode: "manual", Now: s.manual.Now(), Ran: ran}, nil
}

// State implements api.ClockDriver.
func (s *scheduler) State() wire.ClockState {
	mode := "system"
	if s.manual != nil {
		mode = "manual"
	}
	return wire.ClockState{Mode: mode, Now: s.clock.Now().UTC()}
}
