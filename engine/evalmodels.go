package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nextbest/nextbest/bandit"
)

// The models an "nba" target policy scores with (PolicySpec.Models): the live models as
// the evaluation starts, the stored versions in force at a time (or pinned), or the
// models each decision was made with, rebuilt from the journal.

// modelSet is a fixed set of response and uplift models, keyed by action id. A missing
// model scores with its action's prior.
type modelSet struct {
	key      string // "current", "at <time> <pins>"
	response map[ActionID]*bandit.Model
	uplift   map[ActionID]*bandit.Model
	// versions records the stored version each model came from (0: the live model, or
	// the prior), for the result.
	versions map[ActionID]uint64
}

// currentModels copies the live models, so that an evaluation of a running server is not
// moved by what they learn meanwhile.
func (e *Engine) currentModels() *modelSet {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ms := &modelSet{key: ModelsCurrent, response: map[ActionID]*bandit.Model{}, uplift: map[ActionID]*bandit.Model{}, versions: map[ActionID]uint64{}}
	for _, st := range e.sorted {
		ms.response[st.action.ID] = st.model.Load().Clone()
		ms.versions[st.action.ID] = st.version.Load()
		if st.uplift != nil {
			ms.uplift[st.action.ID] = st.uplift.model.Load().Clone()
			ms.versions[st.uplift.key] = st.uplift.version.Load()
		}
	}
	return ms
}

// storedModels loads, for every action of the catalog, the newest stored version of its
// response and uplift models at time at (zero: none), or the version pins names. A model
// with no version then scores with its prior. A pinned version that does not exist, or
// one trained on another features schema, is an ErrUnprocessable error.
func (e *Engine) storedModels(ctx context.Context, at time.Time, pins map[ActionID]uint64) (*modelSet, error) {
	e.mu.RLock()
	type model struct {
		key    ActionID
		action ActionID
		uplift bool
		prior  func() (*bandit.Model, error)
	}
	var models []model
	dim, schema := e.enc.Dim(), e.enc.SchemaHash()
	for _, st := range e.sorted {
		spec := st.action.Model
		models = append(models, model{st.action.ID, st.action.ID, false, func() (*bandit.Model, error) { return e.priorModel(spec, dim) }})
		if st.uplift != nil {
			a := st.action
			models = append(models, model{st.uplift.key, a.ID, true, func() (*bandit.Model, error) {
				ms, err := e.freshUplift(a, dim)
				if err != nil {
					return nil, err
				}
				return ms.model.Load(), nil
			}})
		}
	}
	e.mu.RUnlock()
	for key := range pins {
		found := false
		for _, m := range models {
			found = found || m.key == key
		}
		if !found {
			return nil, errorf(ErrUnprocessable, "unknown_model", "versions: no model %q in the catalog (an action id, or ACTION~OBJECTIVE for an uplift model)", truncate(string(key), 60))
		}
	}
	ms := &modelSet{key: fmt.Sprintf("at %s %v", at.UTC().Format(time.RFC3339Nano), pins), response: map[ActionID]*bandit.Model{}, uplift: map[ActionID]*bandit.Model{}, versions: map[ActionID]uint64{}}
	for _, m := range models {
		var sn Snapshot
		found := false
		if v, ok := pins[m.key]; ok {
			s, err := e.store.Snapshot(ctx, VersionKey{Action: m.key, Version: v})
			if errors.Is(err, ErrNotFound) {
				return nil, errorf(ErrUnprocessable, "unknown_version", "versions: model %q has no stored version %d", m.key, v)
			}
			if err != nil {
				return nil, fmt.Errorf("load model %q version %d: %w", m.key, v, err)
			}
			sn, found = s, true
		} else if !at.IsZero() {
			vs, err := e.store.Versions(ctx, m.key)
			if err != nil {
				return nil, fmt.Errorf("list the versions of model %q: %w", m.key, err)
			}
			for _, v := range vs { // newest first
				if !v.Time.After(at) {
					if sn, err = e.store.Snapshot(ctx, VersionKey{Action: m.key, Version: v.Version}); err != nil {
						return nil, fmt.Errorf("load model %q version %d: %w", m.key, v.Version, err)
					}
					found = true
					break
				}
			}
		}
		var model *bandit.Model
		if found {
			if sn.Schema != schema {
				return nil, errorf(ErrUnprocessable, "schema_mismatch", "model %q version %d was trained on another features schema than the current one: it cannot score the logged features", m.key, sn.Version)
			}
			dec, err := decodeModel(sn.Model)
			if err != nil {
				return nil, fmt.Errorf("decode model %q version %d: %w", m.key, sn.Version, err)
			}
			model = dec
			ms.versions[m.key] = sn.Version
		} else {
			prior, err := m.prior()
			if err != nil {
				return nil, err
			}
			model = prior
			ms.versions[m.key] = 0
		}
		if m.uplift {
			ms.uplift[m.action] = model
		} else {
			ms.response[m.action] = model
		}
	}
	return ms, nil
}

// replayer rebuilds the response models each decision was made with: it reads the
// journal in sequence order alongside the decision log and applies each event to a copy
// of its action's model, as the committer did (learnEvent), so that the model of a
// candidate logged with model_seq s has exactly the events up to s applied. It assumes
// what the log shows: the model_seq of an action's candidates does not decrease along
// the log (decisions are logged in time order and models only move forward). Where it
// does (a decision read models while a batch was being applied), the model is the one
// a little later, and approx counts it. Rollbacks, resets and warm starts are not in
// the journal: across one the rebuilt model differs from the one that decided. Label
// events teach uplift models, which the log itself records per candidate (its effect),
// so they are skipped.
type replayer struct {
	e      *Engine
	events chan []*Event
	errc   chan error
	cancel context.CancelFunc
	read   uint64 // the highest sequence read from the journal
	done   bool
	// models and their pending events: read, for an action whose model has not been
	// asked for up to them yet.
	models  map[ActionID]*replayModel
	pending map[ActionID][]*Event
	// Counts for the result: candidates scored exactly or approximately.
	exact, approx int64
}

type replayModel struct {
	m    *bandit.Model
	upto uint64 // every event of the action up to this sequence is applied
	last uint64 // the sequence of the last event applied
}

// maxPending bounds the events kept for one action before they are applied regardless.
const maxPending = 1 << 16

// newReplayer starts reading the journal and sets every action's model where the
// journal starts: the prior if it starts at the first event, else the oldest stored
// version that the retained journal continues (approximate for decisions before it).
func (e *Engine) newReplayer(ctx context.Context) (*replayer, error) {
	ctx, cancel := context.WithCancel(ctx)
	r := &replayer{e: e, events: make(chan []*Event, 4), errc: make(chan error, 1), cancel: cancel,
		models: map[ActionID]*replayModel{}, pending: map[ActionID][]*Event{}}
	go func() {
		batch := make([]*Event, 0, 256)
		err := e.store.Replay(ctx, 0, func(ev *Event) error {
			if ev.Objective != "" {
				return nil
			}
			batch = append(batch, ev)
			if len(batch) == cap(batch) {
				select {
				case r.events <- batch:
				case <-ctx.Done():
					return ctx.Err()
				}
				batch = make([]*Event, 0, 256)
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			select {
			case r.events <- batch:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		close(r.events)
		r.errc <- err
	}()
	// The first batch says where the journal starts.
	first, ok := <-r.events
	var firstSeq uint64 = 1
	if ok && len(first) > 0 {
		firstSeq = first[0].Seq
	}
	e.mu.RLock()
	dim := e.enc.Dim()
	type init struct {
		id   ActionID
		spec ModelSpec
	}
	var inits []init
	for _, st := range e.sorted {
		inits = append(inits, init{st.action.ID, st.action.Model})
	}
	e.mu.RUnlock()
	for _, in := range inits {
		rm := &replayModel{}
		if firstSeq > 1 {
			vs, err := e.store.Versions(ctx, in.id)
			if err != nil {
				r.stop()
				return nil, fmt.Errorf("list the versions of model %q: %w", in.id, err)
			}
			for i := len(vs) - 1; i >= 0; i-- { // oldest first
				if vs[i].Seq+1 >= firstSeq {
					sn, err := e.store.Snapshot(ctx, VersionKey{Action: in.id, Version: vs[i].Version})
					if err != nil {
						r.stop()
						return nil, fmt.Errorf("load model %q version %d: %w", in.id, vs[i].Version, err)
					}
					if m, err := decodeModel(sn.Model); err == nil && sn.Schema == e.enc.SchemaHash() {
						rm.m, rm.upto, rm.last = m, sn.Seq, sn.ModelSeq
					}
					break
				}
			}
		}
		if rm.m == nil {
			m, err := e.priorModel(in.spec, dim)
			if err != nil {
				r.stop()
				return nil, err
			}
			rm.m = m
		}
		r.models[in.id] = rm
	}
	if ok {
		r.take(first)
	}
	return r, nil
}

// take files a batch of events as pending for their actions.
func (r *replayer) take(batch []*Event) {
	for _, ev := range batch {
		r.read = ev.Seq
		rm := r.models[ev.ActionID]
		if rm == nil || ev.Seq <= rm.upto {
			continue // an action no longer in the catalog, or in its starting version
		}
		q := append(r.pending[ev.ActionID], ev)
		if len(q) > maxPending {
			learnEvent(rm.m, q[0])
			rm.last, q = q[0].Seq, q[1:]
		}
		r.pending[ev.ActionID] = q
	}
}

// model returns action id's response model with every event up to seq applied, and
// whether it is exactly that (not past it). It reads the journal as far as it needs to.
func (r *replayer) model(id ActionID, seq uint64) (*bandit.Model, bool, error) {
	rm := r.models[id]
	if rm == nil {
		return nil, false, nil
	}
	for !r.done && r.read < seq {
		batch, ok := <-r.events
		if !ok {
			r.done = true
			if err := <-r.errc; err != nil {
				return nil, false, fmt.Errorf("read the journal: %w", err)
			}
			break
		}
		r.take(batch)
	}
	q := r.pending[id]
	n := 0
	for n < len(q) && q[n].Seq <= seq {
		learnEvent(rm.m, q[n])
		rm.last = q[n].Seq
		n++
	}
	if n > 0 {
		r.pending[id] = q[n:]
	}
	rm.upto = max(rm.upto, seq)
	exact := rm.last <= seq
	if exact {
		r.exact++
	} else {
		r.approx++
	}
	return rm.m, exact, nil
}

// stop stops reading the journal.
func (r *replayer) stop() {
	r.cancel()
	for range r.events { // let the reader finish
	}
	if !r.done {
		<-r.errc
		r.done = true
	}
}
