package wire

import (
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/features"
)

// ActionRequest is the body of PUT /v1/actions/{id}; the answer is the stored
// engine.Action. Pointer fields tell "absent" from zero where the default is not zero.
type ActionRequest struct {
	// ID, if given, must be the URL's.
	ID          engine.ActionID `json:"id,omitempty"`
	Issue       string          `json:"issue,omitempty"`
	Group       string          `json:"group,omitempty"`
	Description string          `json:"description,omitempty"`
	Channels    []string        `json:"channels,omitempty"`
	// Value is required: the business value of a positive response, a number or an
	// expression; 0 for an action worth only its objective.
	Value       *engine.Money    `json:"value"`
	Cost        engine.Money     `json:"cost,omitzero"`
	ContactCost engine.Money     `json:"contact_cost,omitzero"`
	Objective   string           `json:"objective,omitempty"`
	Eligibility string           `json:"eligibility,omitempty"`
	Lever       *float64         `json:"lever,omitempty"`   // default 1
	Enabled     *bool            `json:"enabled,omitempty"` // default true
	Model       engine.ModelSpec `json:"model,omitzero"`
}

// ActionRequestOf returns the body that puts a as it is: read an action, change a field,
// put it back.
func ActionRequestOf(a engine.Action) ActionRequest {
	value := engine.Money{Const: a.Value, Expr: a.ValueExpr}
	lever, enabled := a.Lever, a.Enabled
	return ActionRequest{ID: a.ID, Issue: a.Issue, Group: a.Group, Description: a.Description, Channels: a.Channels, Value: &value,
		Cost: a.Cost, ContactCost: a.ContactCost, Objective: a.Objective, Eligibility: a.Eligibility, Lever: &lever, Enabled: &enabled, Model: a.Model}
}

// ActionList is the answer of GET /v1/actions: the whole catalog, disabled actions
// included.
type ActionList struct {
	Actions []engine.Action `json:"actions"`
}

// ModelVersions is the answer of GET /v1/models/{id}/versions: the stored versions of an
// action's model, oldest first.
type ModelVersions struct {
	Action   engine.ActionID   `json:"action"`
	Versions []engine.Snapshot `json:"versions"`
}

// RollbackRequest is the body of POST /v1/models/{id}/rollback.
type RollbackRequest struct {
	// Version is required: a version number from GET /v1/models/{id}/versions.
	Version *uint64 `json:"version"`
}

// Rollback is the answer of POST /v1/models/{id}/rollback: the model of Action is the one
// of version RolledBackTo again, stored anew as Version.
type Rollback struct {
	Action       engine.ActionID `json:"action"`
	RolledBackTo uint64          `json:"rolled_back_to"`
	Version      uint64          `json:"version"`
}

// Schema is the answer of GET and PUT /v1/schema: the features schema and its encoding.
// PUT takes the schema itself (features.Schema, as JSON or YAML).
type Schema struct {
	Mode   string           `json:"mode"` // "schema", or "auto" when none was put
	Hash   string           `json:"hash"` // of the encoding; models record the one they learnt under
	Dim    int              `json:"dim"`  // dimension of the feature vectors
	Schema *features.Schema `json:"schema"`
}
