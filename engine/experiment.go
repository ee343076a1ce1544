package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/nextbest/nextbest/experiments"
)

// Experiment states. An experiment is created as a draft, runs, and stops for good.
const (
	Draft   = "draft"
	Running = "running"
	Stopped = "stopped"
)

// Metric names an experiment can report. The first four are the primary metrics by default.
const (
	MetricResponseRate = "response_rate"      // responses per contact
	MetricChurn        = "churn"              // churned per assigned customer (intention to treat)
	MetricDiscount     = "retention_discount" // discount money per assigned customer
	MetricNPS          = "nps"                // mean of +100/0/-100 per respondent
	MetricResponders   = "responders"         // responders per assigned customer
	MetricNetValue     = "net_value"          // net value (Rollup.NetSum) per assigned customer
	MetricRevenue      = "revenue"            // revenue outcomes per assigned customer
)

var allMetrics = []string{MetricResponseRate, MetricChurn, MetricDiscount, MetricNPS, MetricResponders, MetricNetValue, MetricRevenue}

// experimentActive reports whether experiment x enrolls customers at t.
func experimentActive(x *Experiment, t time.Time) bool {
	if x.State != Running {
		return false
	}
	if x.Start != nil && t.Before(*x.Start) {
		return false
	}
	return x.End == nil || t.Before(*x.End)
}

// armOf returns the named arm.
func armOf(x *Experiment, name string) (experiments.Arm, bool) {
	for _, a := range x.Arms {
		if a.Name == name {
			return a, true
		}
	}
	return experiments.Arm{}, false
}

// experimentState is an experiment with its compiled population expression.
type experimentState struct {
	exp        Experiment
	population *Expression
}

// PutExperiment creates or updates an experiment. States move draft -> running ->
// stopped; at most one experiment runs at a time. Changing the weights of a running
// experiment moves as few buckets as possible, and never an assigned customer: each
// customer's first assignment is stored and kept.
func (e *Engine) PutExperiment(ctx context.Context, x Experiment) (Experiment, error) {
	if e.proposing(ctx) {
		return proposeCall[Experiment](ctx, e, callPutExperiment, x)
	}
	if !ValidID(string(x.ID)) {
		return Experiment{}, Invalid("invalid_id", "experiment id %q: want 1-128 letters, digits or . _ : @ -", truncate(string(x.ID), 40))
	}
	if x.State == "" {
		x.State = Draft
	}
	if !slices.Contains([]string{Draft, Running, Stopped}, x.State) {
		return Experiment{}, Invalid("invalid_field", "state: %q is not draft, running or stopped", truncate(x.State, 20))
	}
	if x.Salt == "" {
		x.Salt = string(x.ID)
	}
	if len(x.Salt) > 128 || len(x.Description) > maxDescLength {
		return Experiment{}, Invalid("invalid_field", "salt (128) or description (%d) too long", maxDescLength)
	}
	if len(x.Metrics) == 0 {
		x.Metrics = []string{MetricResponseRate, MetricChurn, MetricDiscount, MetricNPS, MetricNetValue}
	}
	for i, m := range x.Metrics {
		if !slices.Contains(allMetrics, m) {
			return Experiment{}, Invalid("invalid_field", "metrics[%d]: %q is not one of %v", i, truncate(m, 40), allMetrics)
		}
	}
	if x.Start != nil && x.End != nil && !x.End.After(*x.Start) {
		return Experiment{}, Invalid("invalid_field", "end: must be after start")
	}
	for i, a := range x.Arms {
		if !ValidID(a.Name) {
			return Experiment{}, Invalid("invalid_field", "arms[%d].name: %q is not a valid name", i, truncate(a.Name, 40))
		}
	}
	if _, ok := armOf(&x, x.Control); !ok {
		return Experiment{}, Invalid("invalid_field", "control: %q is not one of the arms", truncate(x.Control, 40))
	}
	pop, err := CompileExpression("population", x.Population)
	if err != nil {
		return Experiment{}, err
	}
	now := e.now(ctx).UTC()

	e.progMu.Lock()
	defer e.progMu.Unlock()
	old, exists := e.experiments[x.ID]
	switch {
	case !exists:
		if x.Ranges, err = experiments.Allocate(x.Arms); err != nil {
			return Experiment{}, Invalid("invalid_field", "arms: %v", err)
		}
		x.Created = now
	default:
		prev := old.exp
		if prev.State == Stopped && x.State != Stopped {
			return Experiment{}, errorf(ErrUnprocessable, "invalid_state", "experiment %q is stopped; stopped experiments cannot restart (create a new one)", x.ID)
		}
		if prev.State == Running && x.State == Draft {
			return Experiment{}, errorf(ErrUnprocessable, "invalid_state", "experiment %q is running; it can be stopped, not returned to draft", x.ID)
		}
		if prev.State != Draft && (x.Salt != prev.Salt || !sameArmNames(prev.Arms, x.Arms)) {
			return Experiment{}, errorf(ErrUnprocessable, "invalid_state", "experiment %q has started: its salt and arm names are fixed (weights may change)", x.ID)
		}
		if prev.State == Draft {
			x.Ranges, err = experiments.Allocate(x.Arms)
		} else {
			x.Ranges, err = experiments.Reallocate(prev.Ranges, x.Arms)
		}
		if err != nil {
			return Experiment{}, Invalid("invalid_field", "arms: %v", err)
		}
		x.Created, x.Started, x.Stopped = prev.Created, prev.Started, prev.Stopped
	}
	if x.State == Running && x.Started == nil {
		x.Started = &now
		for id, other := range e.experiments {
			if id != x.ID && other.exp.State == Running {
				return Experiment{}, errorf(ErrUnprocessable, "invalid_state", "experiment %q is already running; stop it first (one experiment runs at a time)", id)
			}
		}
	}
	if x.State == Stopped && x.Stopped == nil {
		x.Stopped = &now
	}
	x.Updated = now
	if err := e.store.PutExperiment(ctx, x); err != nil {
		return Experiment{}, fmt.Errorf("put experiment %q: %w", x.ID, err)
	}
	e.experiments[x.ID] = &experimentState{exp: x, population: pop}
	return x, nil
}

func sameArmNames(a, b []experiments.Arm) bool {
	if len(a) != len(b) {
		return false
	}
	names := func(arms []experiments.Arm) []string {
		out := make([]string, len(arms))
		for i, x := range arms {
			out[i] = x.Name + "/" + string(x.Policy)
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(names(a), names(b))
}

// Experiments returns every experiment, ordered by id.
func (e *Engine) Experiments() []Experiment {
	e.progMu.RLock()
	defer e.progMu.RUnlock()
	out := make([]Experiment, 0, len(e.experiments))
	for _, s := range e.experiments {
		out = append(out, s.exp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Experiment returns one experiment.
func (e *Engine) Experiment(id ExperimentID) (Experiment, error) {
	e.progMu.RLock()
	defer e.progMu.RUnlock()
	s := e.experiments[id]
	if s == nil {
		return Experiment{}, errorf(ErrNotFound, "unknown_experiment", "no experiment %q", truncate(string(id), 64))
	}
	return s.exp, nil
}

// running returns the experiment that enrolls customers at t, if any.
func (e *Engine) running(t time.Time) *experimentState {
	e.progMu.RLock()
	defer e.progMu.RUnlock()
	for _, s := range e.experiments {
		if experimentActive(&s.exp, t) {
			return s
		}
	}
	return nil
}
