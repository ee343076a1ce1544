package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Objective is a business outcome that decisions are judged by: what one occurrence is
// worth for a customer, and the horizon within which an occurrence after a decision is
// attributed to that decision. An action whose Objective names it learns its incremental
// effect on the outcome (uplift.go), and the experiment report counts occurrences at this
// value in every arm's net value.
//
// The one outcome that can be an objective is churn: an occurrence is a churn outcome
// (POST /v1/outcomes, type "churn") within Horizon after a decision. Its Value is
// negative: what losing this customer costs, such as a year of margin,
// "-9 * (profile.monthly_spend ?? 0)".
type Objective struct {
	Outcome     string   `json:"outcome"`
	Description string   `json:"description,omitempty"`
	Value       Money    `json:"value"`
	Horizon     Duration `json:"horizon"`
	// BaseRate is the prior belief of how often the outcome follows a decision within the
	// horizon, for a customer one knows nothing about (a telco with 1.3% monthly churn
	// sees about 0.6% within 14 days). The uplift models start from it instead of from
	// an even chance, so that before the first labels arrive an action's effect is not
	// thought able to move a coin toss. Default DefaultBaseRate.
	BaseRate float64   `json:"base_rate"`
	Updated  time.Time `json:"updated"`
}

// DefaultBaseRate is Objective.BaseRate's default: a rare outcome.
const DefaultBaseRate = 0.05

// ObjectiveOutcomes are the outcome types an objective can be defined for.
var ObjectiveOutcomes = []string{OutcomeChurn}

// Bounds of an objective's horizon: long enough for an outcome to follow a decision, short
// enough that labels resolve while the decision log and the models are still about the
// same customers.
const (
	minHorizon = time.Hour
	maxHorizon = 366 * 24 * time.Hour
)

// Validate checks an objective; every error names the field.
func (o *Objective) Validate() error {
	if !slices.Contains(ObjectiveOutcomes, o.Outcome) {
		return Invalid("invalid_field", "outcome: %q cannot be an objective; the outcomes that can: %s", truncate(o.Outcome, 40), strings.Join(ObjectiveOutcomes, ", "))
	}
	if len(o.Description) > maxDescLength {
		return Invalid("invalid_field", "description: longer than %d characters", maxDescLength)
	}
	if len(o.Value.Expr) > maxExprLength {
		return errorf(ErrTooLarge, "expression_too_long", "value: longer than %d characters", maxExprLength)
	}
	if !(o.BaseRate > 0 && o.BaseRate < 1) {
		return Invalid("invalid_field", "base_rate: %v is not a probability in (0, 1) (how often the outcome follows a decision within the horizon; default %g)", o.BaseRate, DefaultBaseRate)
	}
	h := time.Duration(o.Horizon)
	if h < minHorizon || h > maxHorizon {
		return Invalid("invalid_field", "horizon: %s is outside [1h, 366d]: an outcome is attributed to the decisions of the horizon before it (such as \"14d\")", o.Horizon)
	}
	return nil
}

// objectiveState is an objective with its compiled value.
type objectiveState struct {
	obj   Objective
	value *amount
}

// settingObjectives holds the objectives, a JSON list.
const settingObjectives = "objectives"

// loadObjectives reads the objectives from the store. A stored value expression that no
// longer compiles is logged and fails each evaluation, with the reason.
func (e *Engine) loadObjectives(ctx context.Context) error {
	raw, err := e.store.Setting(ctx, settingObjectives)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load objectives: %w", err)
	}
	var objs []Objective
	if err := json.Unmarshal(raw, &objs); err != nil {
		return fmt.Errorf("load objectives: %w", err)
	}
	for _, o := range objs {
		if o.BaseRate == 0 {
			o.BaseRate = DefaultBaseRate
		}
		v, err := loadMoney("value", o.Value, true)
		if err != nil {
			e.log.Warn("stored objective value no longer accepted: its actions' net value cannot be computed until it is replaced (PUT /v1/objectives/{outcome})", "objective", o.Outcome, "err", err)
		}
		e.objectives[o.Outcome] = &objectiveState{obj: o, value: v}
	}
	return nil
}

// Objectives returns every objective, by outcome.
func (e *Engine) Objectives() []Objective {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Objective, 0, len(e.objectives))
	for _, o := range e.objectives {
		out = append(out, o.obj)
	}
	slices.SortFunc(out, func(a, b Objective) int { return strings.Compare(a.Outcome, b.Outcome) })
	return out
}

// Objective returns one objective.
func (e *Engine) Objective(outcome string) (Objective, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	o := e.objectives[outcome]
	if o == nil {
		return Objective{}, errorf(ErrNotFound, "unknown_objective", "no objective %q (PUT /v1/objectives/%s defines it)", truncate(outcome, 40), truncate(outcome, 40))
	}
	return o.obj, nil
}

// PutObjective defines or replaces an objective. The value expression is compiled here
// (an invalid one is a 422 that says where). A new horizon changes what the actions aiming
// at the objective learn, so their uplift models restart from the prior (older versions
// stay for rollback); a new value changes only how their effect is priced.
func (e *Engine) PutObjective(ctx context.Context, o Objective) (Objective, error) {
	if e.proposing(ctx) {
		return proposeCall[Objective](ctx, e, callPutObjective, o)
	}
	if o.BaseRate == 0 {
		o.BaseRate = DefaultBaseRate
	}
	if err := o.Validate(); err != nil {
		return Objective{}, err
	}
	v, err := compileMoney("value", o.Value, true)
	if err != nil {
		return Objective{}, err
	}
	o.Updated = e.now(ctx).UTC()
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.objectives[o.Outcome]
	e.objectives[o.Outcome] = &objectiveState{obj: o, value: v} // freshUplift reads the base rate; restored below on failure
	restore := func() {
		if old == nil {
			delete(e.objectives, o.Outcome)
		} else {
			e.objectives[o.Outcome] = old
		}
	}
	next := make([]Objective, 0, len(e.objectives)+1)
	for k, s := range e.objectives {
		if k != o.Outcome {
			next = append(next, s.obj)
		}
	}
	next = append(next, o)
	slices.SortFunc(next, func(a, b Objective) int { return strings.Compare(a.Outcome, b.Outcome) })
	raw, err := json.Marshal(next)
	if err != nil {
		return Objective{}, fmt.Errorf("encode objectives: %w", err)
	}
	reset := old != nil && (old.obj.Horizon != o.Horizon || old.obj.BaseRate != o.BaseRate)
	var fresh map[ActionID]*modelState
	if reset {
		fresh = map[ActionID]*modelState{}
		for _, st := range e.sorted {
			if st.uplift == nil || st.action.Objective != o.Outcome {
				continue
			}
			ms, err := e.freshUplift(st.action, e.enc.Dim())
			if err != nil {
				restore()
				return Objective{}, err
			}
			ms.version.Store(st.uplift.version.Load())
			ms.seq.Store(st.uplift.seq.Load())
			fresh[st.action.ID] = ms
		}
	}
	if err := e.store.PutSetting(ctx, settingObjectives, raw); err != nil {
		restore()
		return Objective{}, fmt.Errorf("put objective %q: %w", o.Outcome, err)
	}
	for id, ms := range fresh {
		e.actions[id].uplift = ms
	}
	return o, nil
}

// DeleteObjective removes an objective no action aims at.
func (e *Engine) DeleteObjective(ctx context.Context, outcome string) error {
	if e.proposing(ctx) {
		_, err := proposeCall[any](ctx, e, callDeleteObjective, outcome)
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.objectives[outcome] == nil {
		return errorf(ErrNotFound, "unknown_objective", "no objective %q", truncate(outcome, 40))
	}
	var users []string
	for _, st := range e.sorted {
		if st.action.Objective == outcome {
			users = append(users, string(st.action.ID))
		}
	}
	if len(users) > 0 {
		return errorf(ErrUnprocessable, "objective_in_use", "objective %q is the objective of %s; change those actions first", outcome, strings.Join(users, ", "))
	}
	next := make([]Objective, 0, len(e.objectives))
	for k, s := range e.objectives {
		if k != outcome {
			next = append(next, s.obj)
		}
	}
	slices.SortFunc(next, func(a, b Objective) int { return strings.Compare(a.Outcome, b.Outcome) })
	raw, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("encode objectives: %w", err)
	}
	if err := e.store.PutSetting(ctx, settingObjectives, raw); err != nil {
		return fmt.Errorf("delete objective %q: %w", outcome, err)
	}
	delete(e.objectives, outcome)
	return nil
}

// Duration is a length of time that reads and writes as "14d", "36h" or "90m" (Go's
// durations with days added). In JSON it is a string.
type Duration time.Duration

// ParseDuration reads a Go duration ("36h", "90m") or a number of days ("14d").
func ParseDuration(s string) (Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || !finite(n) || n < 0 || n > 100000 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return Duration(time.Duration(n * float64(24*time.Hour))), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as \"14d\" or \"36h\"", s)
	}
	return Duration(d), nil
}

// String writes whole days as "14d", anything else as Go does.
func (d Duration) String() string {
	t := time.Duration(d)
	if t > 0 && t%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(t/(24*time.Hour)), 10) + "d"
	}
	return t.String()
}

// MarshalText writes String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what ParseDuration reads.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
