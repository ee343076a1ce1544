package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/nextbest/nextbest/bandit"
)

// ModelInfo is an action's model: posterior summary and health.
type ModelInfo struct {
	Action     ActionID `json:"action"`
	Form       string   `json:"form"`
	Dim        int      `json:"dim"`
	Schema     string   `json:"schema"`
	Seq        uint64   `json:"seq"`     // last journal event applied
	Version    uint64   `json:"version"` // newest stored version
	Health     Health   `json:"health"`
	TopWeights []Weight `json:"top_weights"`
	Chosen     int64    `json:"chosen"`   // NBA decisions that chose this action first
	Explored   int64    `json:"explored"` // of those, exploration (not the greedy choice)
	// Uplift is the model of the action's effect on its objective; absent without one.
	Uplift *UpliftInfo `json:"uplift,omitempty"`
}

// UpliftInfo summarises an action's uplift model (uplift.go): its health as a predictor of
// the objective's outcome within the horizon (AUC, calibration), and its top weights, in
// the logit of the outcome's probability: Baseline, what makes the outcome likely without
// the action; Effect, where the action changes it (negative: it prevents the outcome).
type UpliftInfo struct {
	Objective string   `json:"objective"`
	Model     ActionID `json:"model"` // the name its versions are stored under
	Seq       uint64   `json:"seq"`
	Version   uint64   `json:"version"`
	Health    Health   `json:"health"`
	Baseline  []Weight `json:"baseline"`
	Effect    []Weight `json:"effect"`
}

// Health is a model's health in the API's terms: undefined figures (an AUC before both
// outcomes have been seen) are null.
type Health struct {
	Responses   int64            `json:"responses"`
	Positives   int64            `json:"positives"`
	Rejected    int64            `json:"rejected"` // events refused for non-finite features
	Evidence    float64          `json:"evidence"` // decayed event count; = responses without forgetting
	AUC         *float64         `json:"auc"`      // over the last auc_window predict-then-learn pairs
	AUCWindow   int              `json:"auc_window"`
	LogLoss     *float64         `json:"log_loss"`
	Calibration []CalibrationBin `json:"calibration"`
}

// CalibrationBin compares predicted and observed response rates over one propensity range.
type CalibrationBin struct {
	Lo            float64  `json:"lo"`
	Hi            float64  `json:"hi"`
	Count         int      `json:"count"`
	MeanPredicted *float64 `json:"mean_predicted"`
	ObservedRate  *float64 `json:"observed_rate"`
}

func finitePtr(f float64) *float64 {
	if !finite(f) {
		return nil
	}
	return &f
}

func healthOf(h bandit.Health) Health {
	out := Health{Responses: h.Responses, Positives: h.Positives, Rejected: h.Rejected, Evidence: h.Evidence, AUC: finitePtr(h.AUC), AUCWindow: h.AUCWindow, LogLoss: finitePtr(h.LogLoss)}
	for _, b := range h.Calibration {
		cb := CalibrationBin{Lo: b.Lo, Hi: b.Hi, Count: b.Count}
		if b.Count > 0 {
			cb.MeanPredicted, cb.ObservedRate = finitePtr(b.MeanPredicted), finitePtr(b.ObservedRate)
		}
		out.Calibration = append(out.Calibration, cb)
	}
	return out
}

// Weight is one posterior weight with its uncertainty and the feature it belongs to.
type Weight struct {
	Index   int     `json:"index"`
	Feature string  `json:"feature"`
	Mean    float64 `json:"mean"`
	SD      float64 `json:"sd"`
}

// Model returns an action's model summary with its top weights by |mean|.
func (e *Engine) Model(id ActionID, top int) (ModelInfo, error) {
	e.mu.RLock()
	st := e.actions[id]
	enc := e.enc
	e.mu.RUnlock()
	if st == nil {
		return ModelInfo{}, errorf(ErrNotFound, "unknown_action", "no action %q", truncate(string(id), 128))
	}
	m := st.model.Load()
	cfg := m.Config()
	info := ModelInfo{Action: id, Form: cfg.Form.String(), Dim: cfg.Dim, Schema: enc.SchemaHash(), Seq: st.seq.Load(), Version: st.version.Load(), Health: healthOf(m.Health()), Chosen: st.chosen.Load(), Explored: st.explored.Load()}
	mean := make([]float64, cfg.Dim)
	sd := make([]float64, cfg.Dim)
	m.Weights(mean, sd)
	// Keep the top weights by |mean|; weights still at the prior (mean 0) say nothing.
	for i := range mean {
		if mean[i] == 0 {
			continue
		}
		w := Weight{Index: i, Feature: enc.FeatureName(i), Mean: mean[i], SD: sd[i]}
		info.TopWeights = insertTop(info.TopWeights, w, top)
	}
	if ms := st.uplift; ms != nil {
		um := ms.model.Load()
		ucfg := um.Config()
		u := &UpliftInfo{Objective: st.action.Objective, Model: ms.key, Seq: ms.seq.Load(), Version: ms.version.Load(), Health: healthOf(um.Health()),
			Baseline: []Weight{}, Effect: []Weight{}}
		d := ucfg.Dim / 2
		mean := make([]float64, ucfg.Dim)
		sd := make([]float64, ucfg.Dim)
		um.Weights(mean, sd)
		s := effectScale(st.action.Model)
		for i := range d {
			if mean[i] != 0 {
				u.Baseline = insertTop(u.Baseline, Weight{Index: i, Feature: enc.FeatureName(i), Mean: mean[i], SD: sd[i]}, top)
			}
			if mean[d+i] != 0 { // the effect weight is s times the stored one
				u.Effect = insertTop(u.Effect, Weight{Index: i, Feature: enc.FeatureName(i), Mean: s * mean[d+i], SD: s * sd[d+i]}, top)
			}
		}
		info.Uplift = u
	}
	return info, nil
}

func insertTop(ws []Weight, w Weight, top int) []Weight {
	pos := len(ws)
	for pos > 0 && math.Abs(ws[pos-1].Mean) < math.Abs(w.Mean) {
		pos--
	}
	if pos >= top {
		return ws
	}
	ws = append(ws, Weight{})
	copy(ws[pos+1:], ws[pos:])
	ws[pos] = w
	if len(ws) > top {
		ws = ws[:top]
	}
	return ws
}

// Versions lists an action's stored model versions, newest first.
func (e *Engine) Versions(ctx context.Context, id ActionID) ([]Snapshot, error) {
	if _, err := e.Action(id); err != nil {
		return nil, err
	}
	return e.store.Versions(ctx, id)
}

// Rollback makes a stored version of an action's model live again. It is stored as a new
// version, so the rollback itself can be undone; events after it learn on top of it.
func (e *Engine) Rollback(ctx context.Context, id ActionID, version uint64) (uint64, error) {
	if e.proposing(ctx) {
		// Replicas number their stored versions each on its own schedule: the command
		// carries the version this replica stores, model bytes and all.
		sn, err := e.store.Snapshot(ctx, VersionKey{Action: id, Version: version})
		if errors.Is(err, ErrNotFound) {
			return 0, errorf(ErrNotFound, "unknown_version", "model %q has no version %d", id, version)
		}
		if err != nil {
			return 0, err
		}
		return proposeCall[uint64](ctx, e, callRollback, rollbackArgs{Action: id, Version: version, Snapshot: &sn, Model: sn.Model})
	}
	return e.rollback(ctx, rollbackArgs{Action: id, Version: version})
}

// rollback makes version a.Version live: a.Snapshot if given (a replicated rollback),
// else the version this store holds.
func (e *Engine) rollback(ctx context.Context, a rollbackArgs) (uint64, error) {
	if _, err := e.Action(a.Action); err != nil {
		return 0, err
	}
	if a.Snapshot != nil {
		if len(a.Model) == 0 {
			return 0, Invalid("invalid_command", "rollback of %q: the command carries no model", a.Action)
		}
		a.Snapshot.Model = a.Model
	}
	res := e.journal.submit(ctx, &request{rollback: &rollbackReq{action: a.Action, version: a.Version, snap: a.Snapshot}})
	return res.version, res.err
}

// Snapshot stores a new version of every model changed since its last snapshot. The
// scheduler calls it on the schedule.snapshots cron spec; it returns the newest version written.
func (e *Engine) Snapshot(ctx context.Context, reason string) (uint64, error) {
	res := e.journal.submit(ctx, &request{snapshot: reason})
	return res.version, res.err
}

// TrimJournal deletes the journal events that the store's retention lets go: events older
// than the retention that every model's stored snapshot includes (at or below the stored
// checkpoint). An event no snapshot covers is never deleted, so a model can always be
// rebuilt. The scheduler calls it after each snapshot; it returns how many events went.
func (e *Engine) TrimJournal(ctx context.Context) (int, error) {
	raw, err := e.store.Setting(ctx, settingCheckpoint)
	if errors.Is(err, ErrNotFound) {
		return 0, nil // no snapshot yet: every event is needed
	}
	if err != nil {
		return 0, fmt.Errorf("trim journal: %w", err)
	}
	covered, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("trim journal: bad checkpoint %q: %w", raw, err)
	}
	return e.store.TrimJournal(ctx, covered) // its errors say "trim journal"
}
