package record

import (
	"encoding/json"
	"time"
)

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

// MarshalJSON writes "value" as the expression when there is one, else as the number.
func (a Action) MarshalJSON() ([]byte, error) {
	type plain Action
	return MarshalNoEscape(struct {
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
