package engine

import (
	"encoding/json"
	"math"
	"time"
)

// ActionID identifies an action in the catalog.
type ActionID string

// CustomerID identifies a customer.
type CustomerID string

// DecisionID identifies one decision; IDs sort in time order.
type DecisionID string

// ValidID reports whether s is a well-formed id: 1 to 128 characters of letters, digits
// and . _ : @ -, starting with a letter or digit (the regular expression
// ^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$, which the tests hold it to). Ids appear in URLs,
// store keys and logs. Every decide and feedback checks a few, so this is a loop rather
// than the regular expression (about 1% of a loaded server's CPU).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 128 || !idAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !idAlnum(c) && c != '.' && c != '_' && c != ':' && c != '@' && c != '-' {
			return false
		}
	}
	return true
}

func idAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// Action is one thing nextbest can do for a customer: an offer, a retention save, a service
// fix. Its fields follow Pega's action hierarchy (issue, group) and arbitration inputs.
type Action struct {
	ID          ActionID `json:"id"`
	Issue       string   `json:"issue"` // business issue, e.g. "retention", "service", "sales"
	Group       string   `json:"group"` // group within the issue, e.g. "discounts"
	Description string   `json:"description,omitempty"`
	Channels    []string `json:"channels"` // channels on which it may be offered; empty = all
	Value       float64  `json:"value"`    // business value of a positive response
	// ValueExpr, when set, is the value of a positive response as an expression over the
	// customer (JSON: "value" given as a string); Value is then unused.
	ValueExpr string `json:"-"`
	// Cost is what an accepted offer costs the business (a discount's money, a device
	// subsidy); ContactCost what making the offer costs, taken or not (the channel's cost,
	// fatigue). Each a constant or an expression; both 0 by default.
	Cost        Money `json:"cost,omitzero"`
	ContactCost Money `json:"contact_cost,omitzero"`
	// Objective names the business outcome the action aims to change (an objective defined
	// with PutObjective, such as "churn"): nextbest then learns the action's incremental
	// effect on it and counts that effect, in money, in the action's net value. Empty: the
	// action is worth its response value only.
	Objective   string    `json:"objective,omitempty"`
	Eligibility string    `json:"eligibility"` // expression over profile and context; empty = always
	Lever       float64   `json:"lever"`       // business lever, multiplies priority; default 1
	Enabled     bool      `json:"enabled"`
	Model       ModelSpec `json:"model"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// ModelSpec configures an action's bandit model.
type ModelSpec struct {
	Form           string  `json:"form,omitempty"`            // "diagonal" (default) or "full"
	PriorMean      float64 `json:"prior_mean,omitempty"`      // prior mean of every weight
	PriorPrecision float64 `json:"prior_precision,omitempty"` // prior precision; default 1
	HalfLife       float64 `json:"half_life,omitempty"`       // forgetting half-life; 0 = off
	HalfLifeUnit   string  `json:"half_life_unit,omitempty"`  // "events" (default) or "seconds"
	WarmStartFrom  string  `json:"warm_start_from,omitempty"` // sibling action to copy the posterior from
	WarmStartScale float64 `json:"warm_start_scale,omitempty"`
	Value          bool    `json:"value,omitempty"` // also learn a Gaussian model of the reward
	// EffectScale is s, the prior standard deviation of the action's effect on its
	// objective relative to the baseline's (bandit.StackTreated); default 0.5.
	EffectScale float64 `json:"effect_scale,omitempty"`
	// BaseRate, when set, is the prior belief of how often the action is taken (a few
	// percent for most offers): the response model's intercept starts at its logit
	// instead of at an even chance, so that a new action is not offered to everyone
	// before its first responses arrive. 0 keeps the even chance (Pega's 0.5).
	BaseRate float64 `json:"base_rate,omitempty"`
}

// DefaultEffectScale is ModelSpec.EffectScale's default: a prior on an action's effect
// 0.4 times as wide, in the logit, as the prior on the outcome's level (a standard
// deviation of 1 for each effect weight, against 2.5 for the baseline's).
const DefaultEffectScale = 0.4

// effectScale returns EffectScale or its default.
func (m ModelSpec) effectScale() float64 {
	if m.EffectScale == 0 {
		return DefaultEffectScale
	}
	return m.EffectScale
}

// MarshalJSON writes "value" as the expression when there is one, else as the number.
func (a Action) MarshalJSON() ([]byte, error) {
	type plain Action
	return marshalNoEscape(struct {
		plain
		Value Money `json:"value"`
	}{plain(a), Money{Const: a.Value, Expr: a.ValueExpr}})
}

// UnmarshalJSON reads "value" as a number or an expression string.
func (a *Action) UnmarshalJSON(b []byte) error {
	type plain Action
	v := struct {
		*plain
		Value Money `json:"value"`
	}{plain: (*plain)(a)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	a.Value, a.ValueExpr = v.Value.Const, v.Value.Expr
	return nil
}

// Limits on an action definition.
const (
	maxChannels      = 32
	maxLabelLength   = 128
	maxExprLength    = 4096
	maxDescLength    = 1024
	maxActionValue   = 1e12
	maxLeverMagnitde = 1e6
)

// Validate checks an action definition; every error names the field at fault.
func (a *Action) Validate() error {
	if !ValidID(string(a.ID)) {
		return Invalid("invalid_id", "id %q: want 1-128 letters, digits or . _ : @ -", truncate(string(a.ID), 40))
	}
	if len(a.Issue) > maxLabelLength {
		return Invalid("invalid_field", "issue: longer than %d characters", maxLabelLength)
	}
	if len(a.Group) > maxLabelLength {
		return Invalid("invalid_field", "group: longer than %d characters", maxLabelLength)
	}
	if len(a.Description) > maxDescLength {
		return Invalid("invalid_field", "description: longer than %d characters", maxDescLength)
	}
	if len(a.Channels) > maxChannels {
		return errorf(ErrTooLarge, "too_many_channels", "channels: %d given, at most %d", len(a.Channels), maxChannels)
	}
	for i, c := range a.Channels {
		if !ValidID(c) {
			return Invalid("invalid_field", "channels[%d]: %q is not a valid channel name", i, truncate(c, 40))
		}
	}
	if !finite(a.Value) || math.Abs(a.Value) > maxActionValue {
		return Invalid("invalid_number", "value: must be a finite number with magnitude at most %g", maxActionValue)
	}
	if a.Value < 0 {
		return Invalid("invalid_field", "value: must not be negative")
	}
	if len(a.ValueExpr) > maxExprLength || len(a.Cost.Expr) > maxExprLength || len(a.ContactCost.Expr) > maxExprLength {
		return errorf(ErrTooLarge, "expression_too_long", "value, cost and contact_cost: expressions longer than %d characters", maxExprLength)
	}
	if a.Objective != "" && !ValidID(a.Objective) {
		return Invalid("invalid_field", "objective: %q is not a valid objective name", truncate(a.Objective, 40))
	}
	if !finite(a.Lever) || a.Lever < 0 || a.Lever > maxLeverMagnitde {
		return Invalid("invalid_number", "lever: must be a finite number in [0, %g]", maxLeverMagnitde)
	}
	if len(a.Eligibility) > maxExprLength {
		return errorf(ErrTooLarge, "expression_too_long", "eligibility: longer than %d characters", maxExprLength)
	}
	return a.Model.validate()
}

func (m *ModelSpec) validate() error {
	switch m.Form {
	case "", "diagonal", "diag", "full":
	default:
		return Invalid("invalid_field", "model.form: %q is not \"diagonal\" or \"full\"", truncate(m.Form, 20))
	}
	switch m.HalfLifeUnit {
	case "", "events", "seconds":
	default:
		return Invalid("invalid_field", "model.half_life_unit: %q is not \"events\" or \"seconds\"", truncate(m.HalfLifeUnit, 20))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"model.prior_mean", m.PriorMean}, {"model.prior_precision", m.PriorPrecision}, {"model.half_life", m.HalfLife}, {"model.warm_start_scale", m.WarmStartScale}} {
		if !finite(f.v) {
			return Invalid("invalid_number", "%s: must be a finite number", f.name)
		}
	}
	if m.PriorPrecision < 0 || m.HalfLife < 0 {
		return Invalid("invalid_field", "model: prior_precision and half_life must not be negative")
	}
	if !finite(m.BaseRate) || m.BaseRate < 0 || m.BaseRate >= 1 {
		return Invalid("invalid_field", "model.base_rate: must be a probability in (0, 1); 0 or absent means an even chance")
	}
	if !finite(m.EffectScale) || m.EffectScale < 0 || m.EffectScale > 10 {
		return Invalid("invalid_field", "model.effect_scale: must be in (0, 10]; 0 or absent means %g", DefaultEffectScale)
	}
	if m.WarmStartScale < 0 || m.WarmStartScale > 1 {
		return Invalid("invalid_field", "model.warm_start_scale: must be in (0, 1]")
	}
	if m.WarmStartFrom != "" && !ValidID(m.WarmStartFrom) {
		return Invalid("invalid_field", "model.warm_start_from: %q is not a valid action id", truncate(m.WarmStartFrom, 40))
	}
	return nil
}

// offeredOn reports whether the action may be offered on channel.
func (a *Action) offeredOn(channel string) bool {
	if len(a.Channels) == 0 {
		return true
	}
	for _, c := range a.Channels {
		if c == channel {
			return true
		}
	}
	return false
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
