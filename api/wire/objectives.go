package wire

import "github.com/nextbest/nextbest/engine"

// ObjectiveRequest is the body of PUT /v1/objectives/{outcome}; the answer is the stored
// engine.Objective.
type ObjectiveRequest struct {
	// Outcome, if given, must be the URL's.
	Outcome     string `json:"outcome,omitempty"`
	Description string `json:"description,omitempty"`
	// Value is required: what one occurrence is worth for a customer, a number or an
	// expression; negative for churn.
	Value *engine.Money `json:"value"`
	// Horizon is required: how long after a decision an occurrence counts, such as "14d".
	Horizon  *string `json:"horizon"`
	BaseRate float64 `json:"base_rate,omitempty"` // default engine.DefaultBaseRate
}

// ObjectiveList is the answer of GET /v1/objectives.
type ObjectiveList struct {
	Objectives []engine.Objective `json:"objectives"`
}
