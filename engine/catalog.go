package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/nextbest/nextbest/bandit"
	"github.com/nextbest/nextbest/features"
)

// Setting names in the store.
const (
	settingSchema  = "schema"
	settingEncoder = "encoder"
)

// PutAction creates or replaces an action. If the model spec changed, the action's model
// restarts from its prior (or warm-starts from WarmStartFrom); older versions are kept for
// rollback. The eligibility expression is compiled here: an invalid one is refused with a
// 422 that says where, and nothing is written.
func (e *Engine) PutAction(ctx context.Context, a Action) (Action, error) {
	if e.proposing(ctx) {
		return proposeCall[Action](ctx, e, callPutAction, a)
	}
	a, reset, err := e.putAction(ctx, a)
	if err != nil {
		return Action{}, err
	}
	if reset {
		e.snapshotNow(ctx, "reset")
	}
	return a, nil
}

// snapshotNow stores changed models at once if the committer runs; otherwise the next
// snapshot (at the latest, the one at shutdown) stores them.
func (e *Engine) snapshotNow(ctx context.Context, reason string) {
	if !e.journal.running.Load() {
		return
	}
	if _, err := e.Snapshot(ctx, reason); err != nil {
		e.log.Warn("snapshot after model reset failed; the next periodic snapshot retries", "err", err)
	}
}

func (e *Engine) putAction(ctx context.Context, a Action) (_ Action, reset bool, _ error) {
	if a.Lever == 0 {
		a.Lever = 1
	}
	if a.Model.Form == "diag" {
		a.Model.Form = "diagonal"
	}
	if err := ValidateAction(&a); err != nil {
		return Action{}, false, err
	}
	elig, err := CompileExpression("eligibility", a.Eligibility)
	if err != nil {
		return Action{}, false, err
	}
	now := e.now(ctx).UTC()

	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.actions[a.ID]
	if old == nil && len(e.actions) >= e.opts.Limits.MaxCatalog {
		return Action{}, false, errorf(ErrTooLarge, "too_many_actions", "the catalog holds %d actions, the limit (limits.max_catalog)", len(e.actions))
	}
	if a.Model.Form == "full" && e.enc.Dim() > maxFullDim {
		return Action{}, false, errorf(ErrUnprocessable, "invalid_field", "model.form: full covariance needs a feature schema of at most %d dimensions; the current encoding has %d (PUT /v1/schema to set one)", maxFullDim, e.enc.Dim())
	}
	a.Created = now
	if old != nil {
		a.Created = old.action.Created
	}
	a.Updated = now

	st := &actionState{action: a, elig: elig}
	st.key = a.ID
	if err := compileAmounts(st); err != nil {
		return Action{}, false, err
	}
	if a.Objective != "" {
		if e.objectives[a.Objective] == nil {
			return Action{}, false, errorf(ErrUnprocessable, "unknown_objective", "objective: %q is not defined (PUT /v1/objectives/%s first, with what one occurrence is worth and its horizon)", truncate(a.Objective, 40), truncate(a.Objective, 40))
		}
		if old != nil && old.uplift != nil && old.action.Objective == a.Objective && old.action.Model == a.Model {
			st.uplift = old.uplift
		} else {
			ms, err := e.freshUplift(a, e.enc.Dim())
			if err != nil {
				return Action{}, false, err
			}
			if prev := e.uplifts(a.ID, a.Objective, old); prev != nil {
				ms.version.Store(prev.version.Load())
				ms.seq.Store(prev.seq.Load())
			} else if vs, err := e.store.Versions(ctx, ms.key); err != nil {
				return Action{}, false, fmt.Errorf("put action %q: %w", a.ID, err)
			} else if len(vs) > 0 {
				ms.version.Store(vs[0].Version) // an earlier model under this key: continue its versions
			}
			st.uplift = ms
		}
	}
	if old != nil && old.action.Model == a.Model {
		st.model.Store(old.model.Load())
		st.seq.Store(old.seq.Load())
		st.version.Store(old.version.Load())
		st.snapSeq = old.snapSeq
		st.dirty.Store(old.dirty.Load())
		st.chosen.Store(old.chosen.Load())
		st.explored.Store(old.explored.Load())
	} else {
		m, err := e.freshModel(a, e.enc.Dim())
		if err != nil {
			return Action{}, false, err
		}
		st.model.Store(m)
		st.dirty.Store(true)
		if old != nil {
			st.version.Store(old.version.Load())
			st.seq.Store(old.seq.Load())
		}
	}
	if err := e.store.PutAction(ctx, a); err != nil {
		return Action{}, false, fmt.Errorf("put action %q: %w", a.ID, err)
	}
	// The committer applies events under e.mu.RLock, so no event lands on the old state
	// between the copy above and this swap. A new or reset model is dirty: the next
	// snapshot stores it.
	e.actions[a.ID] = st
	e.resort()
	e.noteActionChannels()
	return a, old != nil && old.model.Load() != st.model.Load() || st.uplift != nil && st.uplift.dirty.Load(), nil
}

// uplifts returns old's uplift model state if it is stored under the key of (id,
// objective), so that a new model for that key continues its version numbers.
func (e *Engine) uplifts(id ActionID, objective string, old *actionState) *modelState {
	if old == nil || old.uplift == nil || old.uplift.key != upliftKey(id, objective) {
		return nil
	}
	return old.uplift
}

// maxFullDim bounds full-covariance models: O(d^2) memory and time per decision.
const maxFullDim = 512

// freshModel builds a new model of dim dimensions for an action: from the prior, or
// warm-started from a sibling's posterior with its precision scaled down. Callers hold
// e.mu.
func (e *Engine) freshModel(a Action, dim int) (*bandit.Model, error) {
	m, err := e.priorModel(a.Model, dim)
	if err != nil {
		return nil, err
	}
	if a.Model.WarmStartFrom != "" {
		src := e.actions[ActionID(a.Model.WarmStartFrom)]
		if src == nil {
			return nil, errorf(ErrNotFound, "unknown_action", "model.warm_start_from: no action %q", a.Model.WarmStartFrom)
		}
		scale := a.Model.WarmStartScale
		if scale == 0 {
			scale = 0.5
		}
		if err := m.WarmStart(src.model.Load(), scale); err != nil {
			return nil, errorf(ErrUnprocessable, "invalid_field", "model.warm_start_from: %v", err)
		}
	}
	return m, nil
}

// priorModel is a new response model of a spec at its prior, its intercept (index 0, the
// features' convention) centred on the spec's base rate if it has one.
func (e *Engine) priorModel(s ModelSpec, dim int) (*bandit.Model, error) {
	m, err := bandit.New(e.modelConfig(s, dim))
	if err != nil {
		return nil, errorf(ErrInvalid, "invalid_field", "model: %v", err)
	}
	if s.BaseRate > 0 {
		if err := m.CenterWeight(0, math.Log(s.BaseRate/(1-s.BaseRate))); err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
	}
	return m, nil
}

// Action returns one action.
func (e *Engine) Action(id ActionID) (Action, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	st := e.actions[id]
	if st == nil {
		return Action{}, errorf(ErrNotFound, "unknown_action", "no action %q", truncate(string(id), 128))
	}
	return st.action, nil
}

// Actions returns every action, ordered by id.
func (e *Engine) Actions() []Action {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Action, len(e.sorted))
	for i, st := range e.sorted {
		out[i] = st.action
	}
	return out
}

// DisableAction disables an action; it keeps its definition, model and history.
func (e *Engine) DisableAction(ctx context.Context, id ActionID) (Action, error) {
	if e.proposing(ctx) {
		return proposeCall[Action](ctx, e, callDisableAction, id)
	}
	a, err := e.Action(id)
	if err != nil {
		return Action{}, err
	}
	a.Enabled = false
	return e.PutAction(ctx, a)
}

// loadSchema reads the features schema and encoder state from the store.
func (e *Engine) loadSchema(ctx context.Context) error {
	raw, err := e.store.Setting(ctx, settingSchema)
	switch {
	case errors.Is(err, ErrNotFound):
		e.enc, e.schema = features.NewAutoEncoder(e.opts.AutoFeatureBits), nil
	case err != nil:
		return fmt.Errorf("load schema: %w", err)
	default:
		s, err := features.ParseSchema(raw)
		if err != nil {
			return fmt.Errorf("load schema: %w", err)
		}
		enc, err := features.NewEncoder(s)
		if err != nil {
			return fmt.Errorf("load schema: %w", err)
		}
		e.enc, e.schema = enc, s
	}
	state, err := e.store.Setting(ctx, settingEncoder)
	if err == nil {
		if err := e.enc.UnmarshalBinary(state); err != nil {
			e.log.Warn("encoder state does not match the schema; standardisation restarts", "err", err)
		}
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("load encoder state: %w", err)
	}
	return nil
}

// Schema returns the features schema, or nil when the encoding is automatic, and the
// encoding's hash and dimension.
func (e *Engine) Schema() (s *features.Schema, hash string, dim int) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.schema, e.enc.SchemaHash(), e.enc.Dim()
}

// PutSchema fixes the feature encoding. Every model whose encoding changes restarts from
// its prior (old versions stay available); decisions logged under the old encoding are
// no longer learned from.
//
// The change is all or nothing. The committer, which is the only writer of models, makes
// it between two group commits: it builds every action's new model first (a model that
// cannot be built, such as a warm start from a model of the old dimension, refuses the
// whole change), then writes the schema, the encoder's state, a version of every new
// model and the checkpoint in one commit, and only then swaps the encoder and the models
// in memory. A refused change or a failed write leaves the engine and the store as they
// were; no event judged under the old encoding is applied to a new model; and a restart
// never replays events of the old encoding into models of the new one.
func (e *Engine) PutSchema(ctx context.Context, raw []byte) (string, error) {
	if e.proposing(ctx) {
		return proposeCall[string](ctx, e, callPutSchema, raw)
	}
	s, err := features.ParseSchema(raw)
	if err != nil {
		return "", errorf(ErrUnprocessable, "invalid_schema", "%v", err)
	}
	enc, err := features.NewEncoder(s)
	if err != nil {
		return "", errorf(ErrUnprocessable, "invalid_schema", "%v", err)
	}
	res := e.journal.submit(ctx, &request{schema: &schemaReq{raw: slices.Clone(raw), schema: s, enc: enc}})
	if res.err != nil {
		return "", res.err
	}
	return enc.SchemaHash(), nil
}

// schemaReq is a schema change for the committer.
type schemaReq struct {
	raw    []byte
	schema *features.Schema
	enc    *features.Encoder
}

// changeSchema makes a schema change on the committer goroutine (see PutSchema). It holds
// e.mu throughout, so that no action changes between building the new models and the
// swap; decisions wait for the one commit.
func (c *committer) changeSchema(ctx context.Context, r *schemaReq) error {
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	hash, dim := r.enc.SchemaHash(), r.enc.Dim()
	if hash == e.enc.SchemaHash() {
		return nil
	}
	last := c.nextSeq - 1
	now := e.now(ctx).UTC()
	b := Batch{Settings: map[string][]byte{settingSchema: r.raw}}
	actions := make(map[ActionID]*actionState, len(e.actions))
	for _, st := range e.sorted {
		id := st.action.ID
		if st.action.Model.Form == "full" && dim > maxFullDim {
			return errorf(ErrUnprocessable, "invalid_schema", "action %q uses a full-covariance model, which needs at most %d dimensions; this schema has %d", id, maxFullDim, dim)
		}
		m, err := e.freshModel(st.action, dim)
		if err != nil {
			var ee *Error
			if !errors.As(err, &ee) {
				return fmt.Errorf("action %q: %w", id, err)
			}
			hint := ""
			if st.action.Model.WarmStartFrom != "" {
				hint = " (it would warm-start from a model of the old encoding; PUT the action without model.warm_start_from first)"
			}
			return errorf(ee.Kind, "invalid_schema", "action %q cannot restart under this schema: %s%s", id, ee.Message, hint)
		}
		model, err := m.MarshalBinary()
		if err != nil {
			return fmt.Errorf("encode model %q: %w", id, err)
		}
		ns := &actionState{action: st.action, elig: st.elig, value: st.value, cost: st.cost, contact: st.contact}
		ns.key = id
		ns.model.Store(m)
		ns.seq.Store(st.seq.Load())
		ns.version.Store(st.version.Load() + 1)
		ns.snapSeq = last
		ns.chosen.Store(st.chosen.Load())
		ns.explored.Store(st.explored.Load())
		h := m.Health()
		b.Snapshots = append(b.Snapshots, Snapshot{Action: id, Version: ns.version.Load(), Seq: last, ModelSeq: ns.seq.Load(), Time: now,
			Responses: h.Responses, Positives: h.Positives, Reason: "schema", Schema: hash, Model: model,
			Chosen: ns.chosen.Load(), Explored: ns.explored.Load()})
		if keep := uint64(e.opts.KeepVersions); ns.version.Load() > keep {
			b.Prune = append(b.Prune, VersionKey{Action: id, Version: ns.version.Load() - keep})
		}
		if st.uplift != nil {
			ums, err := e.freshUplift(st.action, dim)
			if err != nil {
				return errorf(ErrUnprocessable, "invalid_schema", "action %q: its uplift model cannot restart under this schema: %v", id, err)
			}
			um := ums.model.Load()
			raw, err := um.MarshalBinary()
			if err != nil {
				return fmt.Errorf("encode model %q: %w", ums.key, err)
			}
			ums.seq.Store(st.uplift.seq.Load())
			ums.version.Store(st.uplift.version.Load() + 1)
			ums.snapSeq = last
			ums.dirty.Store(false)
			b.Snapshots = append(b.Snapshots, Snapshot{Action: ums.key, Version: ums.version.Load(), Seq: last, ModelSeq: ums.seq.Load(), Time: now,
				Reason: "schema", Schema: hash, Model: raw})
			ns.uplift = ums
		}
		actions[id] = ns
	}
	state, err := r.enc.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode feature encoder state: %w", err)
	}
	// Every model's newest version now includes every event up to last.
	b.Settings[settingEncoder] = state
	b.Settings[settingCheckpoint] = []byte(strconv.FormatUint(last, 10))
	if err := e.store.Commit(ctx, &b); err != nil {
		return fmt.Errorf("store schema change: %w", err)
	}
	// New states, not new models in the old ones: a decision that read the old encoder
	// keeps the old states, and so models of the old dimension.
	e.enc, e.schema, e.actions = r.enc, r.schema, actions
	e.resort()
	return nil
}
