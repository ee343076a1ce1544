package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/nextbest/nextbest/api"
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
type scheduler struct {
	clock  engine.Clock
	manual *engine.ManualClock // nil in system mode
	eng    *engine.Engine
	log    *slog.Logger

	mu     sync.Mutex // one job at a time; guards the fields below
	static []*job
	camps  map[engine.CampaignID]*job
}

type job struct {
	name  string
	spec  string
	sched cron.Schedule
	next  time.Time
	fn    func(ctx context.Context, at time.Time) error
}

func newScheduler(clock engine.Clock, eng *engine.Engine, log *slog.Logger) *scheduler {
	s := &scheduler{clock: clock, eng: eng, log: log, camps: map[engine.CampaignID]*job{}}
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
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return fmt.Errorf("schedule.%s: %q: %w", name, spec, err)
	}
	s.static = append(s.static, &job{name: name, spec: spec, sched: sched, next: sched.Next(s.clock.Now()), fn: fn})
	return nil
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
		sched, err := cron.ParseStandard(c.Schedule)
		if err != nil {
			continue // PutCampaign validated it; a stored bad spec is skipped
		}
		id := c.ID
		s.camps[id] = &job{name: "campaign " + string(id), spec: c.Schedule, sched: sched, next: sched.Next(now), fn: func(ctx context.Context, _ time.Time) error {
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

// runDue runs every job due at or before to, in time order; in manual mode the clock is
// set to each job's due time first. It returns the names of the jobs run.
func (s *scheduler) runDue(ctx context.Context, to time.Time, stop context.Context) []string {
	var ran []string
	for ctx.Err() == nil && stop.Err() == nil {
		js := s.jobs(s.clock.Now())
		if len(js) == 0 || js[0].next.After(to) {
			break
		}
		j := js[0]
		at := j.next
		if s.manual != nil {
			s.manual.Set(at)
		}
		if err := j.fn(ctx, at); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("scheduled job failed", "job", j.name, "err", err)
		}
		ran = append(ran, j.name+" @ "+at.UTC().Format(time.RFC3339))
		j.next = j.sched.Next(at)
	}
	return ran
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
			s.runDue(jobs, s.clock.Now(), loop)
			s.mu.Unlock()
		}
	}
}

// Advance implements api.ClockDriver: move the manual clock to t, running due jobs.
func (s *scheduler) Advance(ctx context.Context, t time.Time) (api.ClockState, error) {
	if s.manual == nil {
		return api.ClockState{}, errors.New("the clock is not manual")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ran := s.runDue(ctx, t, context.Background())
	s.manual.Set(t)
	return api.ClockState{Mode: "manual", Now: s.manual.Now(), Ran: ran}, nil
}

// State implements api.ClockDriver.
func (s *scheduler) State() api.ClockState {
	mode := "system"
	if s.manual != nil {
		mode = "manual"
	}
	return api.ClockState{Mode: mode, Now: s.clock.Now().UTC()}
}
