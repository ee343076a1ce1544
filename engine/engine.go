package engine

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	mrand "math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/nextbest/nextbest/bandit"
	"github.com/nextbest/nextbest/features"
)

// Observer receives the engine's events for metrics. Its methods must be fast and safe for
// concurrent use. Adapters (cmd) implement it; a nil Observer is allowed.
type Observer interface {
	Decided(d *Decision, elapsed time.Duration)
	Responded(e *Event, duplicate bool)
	Committed(events, decisions int, elapsed time.Duration)
}

// Engine is nextbest's decision engine. Create it with New, load its state with Open,
// run its group committer with Run, and call Decide and Feedback from any goroutine.
type Engine struct {
	opts  Options
	sel   selector // opts' selection probability method
	store Store
	clock Clock
	log   *slog.Logger
	obs   Observer

	mu         sync.RWMutex // guards actions, sorted, enc, schema, objectives
	actions    map[ActionID]*actionState
	sorted     []*actionState // by id
	enc        *features.Encoder
	schema     *features.Schema // nil: automatic encoding
	objectives map[string]*objectiveState

	progMu      sync.RWMutex // guards experiments and campaigns
	experiments map[ExperimentID]*experimentState
	campaigns   map[CampaignID]*campaignState
	arms        *armCache
	contacts    *contactBook
	channels    *channelSet

	journal   *committer
	evals     evalJobs // off-policy evaluations run in the background (evaljobs.go)
	recent    *recentDecisions
	custLocks customerLocks
	rngs      sync.Pool
	vms       sync.Pool
	seed      atomic.Uint64
	ready     atomic.Bool
	repl      *replication // nil on a single node (replicate.go)
}

// actionState is an action with its compiled eligibility and amounts, its live response
// model and, for an action with an objective, its live uplift model. The model pointers
// are swapped atomically on rollback or reset; the rest is replaced whole on PUT.
type actionState struct {
	action Action
	elig   *Expression
	// value, cost and contact are the action's amounts (Value or ValueExpr, Cost,
	// ContactCost), compiled.
	value, cost, contact *amount
	modelState           // the response model, stored under the action's id
	// uplift is the model of the action's effect on its objective (nil without one),
	// stored under upliftKey(id, objective).
	uplift *modelState
	// NBA decisions that chose this action first, and how many of those were exploration:
	// the greedy choice (highest posterior-mean priority) was another action. Restored
	// from the newest snapshot, so a crash loses at most one snapshot interval of counts.
	chosen, explored atomic.Int64
}

// modelState is one live model and what the journal and the snapshots know of it.
type modelState struct {
	key   ActionID // the name its versions are stored under
	model atomic.Pointer[bandit.Model]
	seq   atomic.Uint64 // last journal sequence applied to the model (written by the committer)
	dirty atomic.Bool   // changed since the newest stored version
	// Written only by the committer goroutine.
	version atomic.Uint64 // newest stored version (written by the committer, read by Model)
	snapSeq uint64        // seq included in the newest stored version
}

// New returns an engine over store. It starts no goroutines; call Open, then Run.
func New(opts Options, store Store, clock Clock, log *slog.Logger, obs Observer) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("engine options: %w", err)
	}
	if clock == nil {
		clock = SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		opts:        opts,
		sel:         opts.selector(),
		store:       store,
		clock:       clock,
		log:         log,
		obs:         obs,
		actions:     map[ActionID]*actionState{},
		objectives:  map[string]*objectiveState{},
		recent:      newRecentDecisions(1 << 16),
		experiments: map[ExperimentID]*experimentState{},
		campaigns:   map[CampaignID]*campaignState{},
		arms:        newArmCache(1 << 20),
		contacts:    newContactBook(1 << 18),
		channels:    newChannelSet(&opts),
	}
	e.custLocks.seed = maphash.MakeSeed()
	var b [8]byte
	_, _ = rand.Read(b[:])
	e.seed.Store(binary.LittleEndian.Uint64(b[:]))
	e.rngs.New = func() any {
		s := e.seed.Add(0x9e3779b97f4a7c15)
		return mrand.New(mrand.NewPCG(s, s^0xda3e39cb94b95bdb))
	}
	e.vms.New = func() any { return &vm.VM{} }
	e.journal = newCommitter(e)
	return e, nil
}

// Options returns the engine's options.
func (e *Engine) Options() Options { return e.opts }

// Clock returns the engine's clock.
func (e *Engine) Clock() Clock { return e.clock }

// Ready reports whether Open has finished and the committer is running, and on a replica
// (Replicate) whether it has caught up with the log and its applier has not failed.
func (e *Engine) Ready() bool {
	return e.ready.Load() && e.journal.running.Load() && (e.repl == nil || e.repl.caughtUp.Load() && e.repl.failure.Load() == nil)
}

// Open loads the catalog, the schema and the models from the store, then replays the
// journal after each model's snapshot so that every acknowledged event is applied exactly
// once. It refuses a store whose journal or snapshots lost what the models need with an
// error wrapping ErrDamaged (verifyJournal).
func (e *Engine) Open(ctx context.Context) error {
	if err := e.loadSchema(ctx); err != nil {
		return err
	}
	if err := e.loadObjectives(ctx); err != nil {
		return err
	}
	actions, err := e.store.Actions(ctx)
	if err != nil {
		return fmt.Errorf("open engine: %w", err)
	}
	for _, a := range actions {
		st, err := e.newActionState(a)
		if err != nil {
			return fmt.Errorf("open engine: action %q: %w", a.ID, err)
		}
		e.actions[a.ID] = st
	}
	e.resort()
	e.noteActionChannels()
	if err := e.loadPrograms(ctx); err != nil {
		return fmt.Errorf("open engine: %w", err)
	}

	snaps, err := e.store.LatestSnapshots(ctx)
	if err != nil {
		return fmt.Errorf("open engine: %w", err)
	}
	schemaHash := e.enc.SchemaHash()
	covered := map[ActionID]uint64{} // journal sequence each loaded snapshot includes
	for _, sn := range snaps {
		ms, st := e.modelByKey(sn.Action)
		if ms == nil {
			continue
		}
		ms.version.Store(sn.Version)
		if sn.Schema != schemaHash {
			e.log.Warn("model snapshot was trained on another feature schema; starting from the prior", "model", sn.Action, "version", sn.Version)
			continue
		}
		m, err := decodeModel(sn.Model)
		if err != nil {
			return fmt.Errorf("open engine: model %q version %d: %w", sn.Action, sn.Version, err)
		}
		if !sameModelConfig(m.Config(), ms.model.Load().Config()) {
			e.log.Warn("model snapshot does not match the action's model spec; starting from the prior", "model", sn.Action, "version", sn.Version)
			ms.dirty.Store(true)
			continue
		}
		ms.model.Store(m)
		if ms == &st.modelState {
			st.chosen.Store(sn.Chosen)
			st.explored.Store(sn.Explored)
		}
		ms.seq.Store(sn.ModelSeq)
		ms.snapSeq = sn.Seq
		covered[sn.Action] = sn.Seq
	}

	from := uint64(0)
	if raw, err := e.store.Setting(ctx, settingCheckpoint); err == nil {
		if from, err = strconv.ParseUint(string(raw), 10, 64); err != nil {
			return fmt.Errorf("open engine: bad checkpoint %q: %w", raw, err)
		}
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("open engine: %w", err)
	}
	replayed := 0
	tally := replayTally{from: from, last: from}
	err = e.store.Replay(ctx, from, func(ev *Event) error {
		tally.see(ev.Seq)
		if ev.Objective != "" {
			learnt := false
			e.applyLabel(ev, func(ms *modelState) bool {
				skip := ev.Seq <= covered[ms.key]
				learnt = learnt || !skip
				return skip
			})
			if learnt {
				replayed++
			}
			return nil
		}
		st := e.actions[ev.ActionID]
		if st == nil || ev.Seq <= covered[ev.ActionID] {
			return nil
		}
		e.apply(st, ev)
		// The next snapshot must store what replay rebuilt: a later checkpoint would
		// otherwise skip these events, which no snapshot holds (issue 15, defect 5).
		st.dirty.Store(true)
		replayed++
		return nil
	})
	if err != nil {
		return fmt.Errorf("open engine: %w", err)
	}
	last, err := e.store.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("open engine: %w", err)
	}
	// Refuse a journal that lost events the models need, rather than serve models that
	// silently lack them.
	if err := e.verifyJournal(ctx, tally, last); err != nil {
		return fmt.Errorf("open engine: %w", err)
	}
	// Never reuse a sequence a snapshot or the checkpoint claims, even when the journal
	// below it has been trimmed away: replay would skip an event that reused one.
	last = max(last, from)
	for _, sn := range snaps {
		last = max(last, sn.Seq, sn.ModelSeq)
	}
	e.journal.nextSeq = last + 1
	e.journal.replayed = replayed > 0
	e.log.Info("engine state loaded", "actions", len(e.actions), "snapshots", len(snaps), "replayed_events", replayed, "journal_seq", last)
	e.ready.Store(true)
	return nil
}

// loadPrograms loads experiments and campaigns.
func (e *Engine) loadPrograms(ctx context.Context) error {
	xs, err := e.store.Experiments(ctx)
	if err != nil {
		return err
	}
	for _, x := range xs {
		pop, err := loadExpression("population", x.Population)
		if err != nil {
			e.log.Warn("stored experiment population no longer accepted: no new customer enters the experiment until it is replaced", "experiment", x.ID, "err", err)
		}
		e.experiments[x.ID] = &experimentState{exp: x, population: pop}
	}
	cs, err := e.store.Campaigns(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		seg, err := loadExpression("segment", c.Segment)
		if err != nil {
			e.log.Warn("stored campaign segment no longer accepted: the campaign matches no customer until its segment is replaced (PUT /v1/campaigns/{id})", "campaign", c.ID, "err", err)
		}
		e.campaigns[c.ID] = &campaignState{c: c, segment: seg}
	}
	e.noteCampaignChannels()
	return nil
}

// sameModelConfig reports whether two model configurations describe the same model.
func sameModelConfig(a, b bandit.Config) bool {
	return a.Dim == b.Dim && a.Form == b.Form && a.PriorMean == b.PriorMean && a.PriorPrecision == b.PriorPrecision &&
		a.HalfLife == b.HalfLife && a.HalfLifeUnit == b.HalfLifeUnit && a.Value == b.Value
}

func decodeModel(b []byte) (*bandit.Model, error) {
	m := new(bandit.Model)
	if err := m.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return m, nil
}

// apply updates an action's model with one journal event. Only the committer and Open call it.
func (e *Engine) apply(st *actionState, ev *Event) {
	learnEvent(st.model.Load(), ev)
	st.seq.Store(ev.Seq)
}

// learnEvent updates a response model with one journal event, as the committer does: the
// outcome if it was learnt, and the reward if the model learns values. Off-policy
// evaluation rebuilds the models a decision was made with by the same updates
// (evalmodels.go).
func learnEvent(m *bandit.Model, ev *Event) {
	x := bandit.Vector(ev.Features)
	if positive, ok := ev.Outcome.Positive(); ok && ev.Learned {
		m.Update(x, positive, ev.Time)
	}
	if ev.RewardLearned && ev.Reward != nil && m.Config().Value {
		m.UpdateValue(x, *ev.Reward)
	}
}

// Run runs the group committer until ctx is cancelled, then drains queued work and writes a
// final snapshot of every changed model, and cancels the evaluation jobs still running.
// Call it once, after Open.
func (e *Engine) Run(ctx context.Context) error {
	defer e.evals.stop() // before the store closes: the jobs read it
	if e.repl != nil {
		dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { defer close(done); e.deliverLoop(dctx) }()
		defer func() { cancel(); <-done }()
	}
	return e.journal.run(ctx)
}

func (e *Engine) resort() {
	e.sorted = e.sorted[:0]
	for _, st := range e.actions {
		e.sorted = append(e.sorted, st)
	}
	sort.Slice(e.sorted, func(i, j int) bool { return e.sorted[i].action.ID < e.sorted[j].action.ID })
}

// newActionState compiles a stored action and gives it a model from its spec's prior. An
// eligibility rule that no longer compiles is logged and keeps the action from being
// offered (loadExpression), rather than keeping the server from starting.
func (e *Engine) newActionState(a Action) (*actionState, error) {
	elig, err := loadExpression("eligibility", a.Eligibility)
	if err != nil {
		e.log.Warn("stored eligibility rule no longer accepted: the action is never eligible until its rule is replaced (PUT /v1/actions/{id})", "action", a.ID, "err", err)
	}
	m, err := e.priorModel(a.Model, e.enc.Dim())
	if err != nil {
		return nil, err
	}
	st := &actionState{action: a, elig: elig}
	st.key = a.ID
	st.model.Store(m)
	if err := loadAmounts(st); err != nil {
		e.log.Warn("stored action amount no longer accepted: the action is filtered until it is replaced (PUT /v1/actions/{id})", "action", a.ID, "err", err)
	}
	if a.Objective != "" {
		if e.objectives[a.Objective] == nil {
			e.log.Warn("the action's objective is not defined: the action is filtered until it is (PUT /v1/objectives/{outcome})", "action", a.ID, "objective", a.Objective)
		}
		if st.uplift, err = e.freshUplift(a, e.enc.Dim()); err != nil {
			return nil, err
		}
		st.uplift.dirty.Store(false)
	}
	return st, nil
}

// modelConfig is the bandit configuration of a model spec over an encoding of dim
// dimensions.
func (e *Engine) modelConfig(s ModelSpec, dim int) bandit.Config {
	form := bandit.Diagonal
	if s.Form == "full" {
		form = bandit.Full
	}
	unit := bandit.Events
	if s.HalfLifeUnit == "seconds" {
		unit = bandit.Seconds
	}
	prec := s.PriorPrecision
	if prec == 0 {
		prec = 1
	}
	return bandit.Config{
		Dim:            dim,
		Form:           form,
		PriorMean:      s.PriorMean,
		PriorPrecision: prec,
		HalfLife:       s.HalfLife,
		HalfLifeUnit:   unit,
		Value:          s.Value,
	}.WithDefaults()
}

// rng borrows a random source; return it with putRNG.
func (e *Engine) rng() *mrand.Rand     { return e.rngs.Get().(*mrand.Rand) }
func (e *Engine) putRNG(r *mrand.Rand) { e.rngs.Put(r) }

// errStopped is returned when work is submitted after Run has returned.
var errStopped = errorf(ErrUnavailable, "shutting_down", "the engine is shutting down")
