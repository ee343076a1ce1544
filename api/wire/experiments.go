package wire

import (
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

// ExperimentRequest is the body of PUT /v1/experiments/{id}; the answer is the stored
// engine.Experiment. The fields are engine.Experiment's that a client sets, so an
// experiment read with GET can be put back with a change.
type ExperimentRequest struct {
	// ID, if given, must be the URL's.
	ID          engine.ExperimentID `json:"id,omitempty"`
	Description string              `json:"description,omitempty"`
	Arms        []experiments.Arm   `json:"arms"` // 1 to experiments.MaxArms, each {name, policy, weight}
	Control     string              `json:"control,omitempty"`
	Salt        string              `json:"salt,omitempty"`
	Population  string              `json:"population,omitempty"` // who is enrolled; empty: everyone
	Start       *time.Time          `json:"start,omitempty"`
	End         *time.Time          `json:"end,omitempty"`
	Metrics     []string            `json:"metrics,omitempty"`
	State       string              `json:"state,omitempty"` // draft, running or stopped
	// Ranges is accepted and ignored: the server computes the arms' bucket ranges.
	Ranges []experiments.Range `json:"ranges,omitempty"`
}

// ExperimentList is the answer of GET /v1/experiments.
type ExperimentList struct {
	Experiments []engine.Experiment `json:"experiments"`
}

// Power is the answer of GET /v1/power, the power and minimum-detectable-effect
// calculator: given mde, the customers needed per arm (Treatment, Control, Total); given
// the treatment arm's size n, the smallest effect it detects (MDE).
type Power struct {
	Inputs    PowerInputs `json:"inputs"`
	MDE       float64     `json:"mde"`
	Treatment int         `json:"treatment"`
	Control   int         `json:"control,omitempty"` // sample size only
	Total     int         `json:"total,omitempty"`   // sample size only
}

// PowerInputs echoes a power calculation's inputs with their defaults applied.
type PowerInputs struct {
	Kind     string   `json:"kind"` // binary or mean
	Level    float64  `json:"level"`
	Power    float64  `json:"power"`
	Ratio    float64  `json:"ratio"`              // control size / treatment size
	Baseline *float64 `json:"baseline,omitempty"` // binary
	SD       *float64 `json:"sd,omitempty"`       // mean
}
