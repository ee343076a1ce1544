package record

import (
	"encoding/json"
	"time"

	"github.com/nextbest/nextbest/features"
)

// Decision is one entry of the decision log: everything needed to explain the decision and
// to evaluate other policies on it off-line (the context, every candidate with its scores
// and selection probability, the model state each score came from, and the outcomes).
type Decision struct {
	ID         DecisionID      `json:"decision_id"`
	CustomerID CustomerID      `json:"customer_id"`
	Channel    string          `json:"channel"`
	Time       time.Time       `json:"time"`
	Arm        string          `json:"arm"`
	Experiment ExperimentID    `json:"experiment,omitempty"`
	Source     string          `json:"source"` // "inbound", "outbound" or "campaign"
	Context    json.RawMessage `json:"context,omitempty"`
	Schema     string          `json:"schema"`   // features schema hash of Features
	Features   features.Vector `json:"features"` // the encoded context every model scored
	Candidates []Candidate     `json:"candidates"`
	Chosen     []ActionID      `json:"chosen"` // the actions returned, best first
	NoAction   bool            `json:"no_action"`
	Reason     string          `json:"reason,omitempty"`
	// NoActionProbability is, for a decision that offered nothing, the probability that
	// its policy offers nothing in this context: the logging propensity of "no action" for
	// off-policy evaluation (1 for a deterministic rule: a holdout, a legacy arm with no
	// campaign, a contact cap, nothing eligible). 0 when the decision offered something.
	NoActionProbability float64   `json:"no_action_probability,omitempty"`
	Deadline            time.Time `json:"deadline"`           // response timeout of the channel
	Outcomes            []Event   `json:"outcomes,omitempty"` // filled in when the log is read
	// Encoded is the stored record (EncodeDecision), made once by the deciding goroutine.
	Encoded []byte `json:"-"`
}

// Candidate is one action considered for a decision: either filtered out, with the reason,
// or scored and ranked.
type Candidate struct {
	ID          ActionID `json:"id"`
	Filtered    string   `json:"filtered,omitempty"` // "disabled", "channel", "eligibility", "contact_policy"
	Detail      string   `json:"detail,omitempty"`   // e.g. the eligibility error
	Rank        int      `json:"rank,omitempty"`     // 1 = best; 0 when filtered
	Propensity  float64  `json:"propensity"`         // posterior mean P(positive)
	Score       float64  `json:"score"`              // Thompson-sampled P(positive) used for ranking
	Value       float64  `json:"value"`
	Weight      float64  `json:"weight"` // channel weight x lever
	Priority    float64  `json:"priority"`
	Probability float64  `json:"probability"` // Monte Carlo P(ranked first | context)
	ModelSeq    uint64   `json:"model_seq"`   // journal sequence the model had applied
	// The terms of a priced action's net value (engine.netChoice), zero for an action
	// worth its response value only: the cost if accepted and the contact cost, for this
	// customer; the posterior mean and standard deviation of the action's effect on the
	// probability of its objective's outcome, and that effect in money (times what one
	// occurrence is worth); and the posterior mean net value, before channel weight and
	// lever.
	Cost        float64 `json:"cost,omitempty"`
	ContactCost float64 `json:"contact_cost,omitempty"`
	Effect      float64 `json:"effect,omitempty"`
	EffectSD    float64 `json:"effect_sd,omitempty"`
	EffectValue float64 `json:"effect_value,omitempty"`
	Net         float64 `json:"net_value,omitempty"`
}

// priced reports whether any of the candidate's net-value terms is set.
func (c *Candidate) priced() bool {
	return c.Cost != 0 || c.ContactCost != 0 || c.Effect != 0 || c.EffectSD != 0 || c.EffectValue != 0 || c.Net != 0
}

// Outcome names a response to an offered action.
type Outcome string

// The outcomes a client may report. Accepted, clicked and converted are positive.
const (
	Accepted  Outcome = "accepted"
	Rejected  Outcome = "rejected"
	Clicked   Outcome = "clicked"
	Ignored   Outcome = "ignored"
	Converted Outcome = "converted"
	// Timeout is the implicit negative recorded when no response arrives in time.
	Timeout Outcome = "timeout"
)

// Label event outcomes: the objective's outcome occurred within the horizon, or not.
const (
	LabelHit  Outcome = "occurred"
	LabelMiss Outcome = "not_occurred"
)

// Positive reports whether the outcome is a positive response, and whether it is known.
func (o Outcome) Positive() (positive, ok bool) {
	switch o {
	case Accepted, Clicked, Converted:
		return true, true
	case Rejected, Ignored, Timeout:
		return false, true
	}
	return false, false
}

// Event is one journal entry: a response to an offered action, explicit or implicit. The
// journal is the source of truth for learning: models are snapshots of it.
type Event struct {
	Seq           uint64     `json:"seq"`
	Time          time.Time  `json:"time"`
	DecisionID    DecisionID `json:"decision_id"`
	ActionID      ActionID   `json:"action_id"`
	CustomerID    CustomerID `json:"customer_id,omitempty"`
	Outcome       Outcome    `json:"outcome"`
	Reward        *float64   `json:"reward,omitempty"`
	Learned       bool       `json:"learned"`                  // the outcome updated the model
	RewardLearned bool       `json:"reward_learned,omitempty"` // the reward updated the value model
	// Objective is set on a label event (engine/labels.go): the decision's label for this
	// objective, resolved at its horizon; Outcome says whether the outcome occurred, and
	// ActionID is the action the decision offered ("" for none).
	Objective string          `json:"objective,omitempty"`
	Features  features.Vector `json:"features,omitzero"`
}

// OutcomeState is what the journal knows about one (decision, action) pair; it makes
// feedback idempotent.
type OutcomeState struct {
	Seq      uint64  `json:"seq"` // the event that recorded Outcome
	Outcome  Outcome `json:"outcome"`
	Implicit bool    `json:"implicit"` // the recorded label is a timeout negative
	Rewarded bool    `json:"rewarded"` // a reward has been learned
	// Also lists the other explicit outcomes logged for the pair (logged, not learned,
	// such as a conversion after a click), so that a repeat of any of them is a duplicate.
	Also []LoggedOutcome `json:"also,omitempty"`
}

// LoggedOutcome is an outcome with the sequence of the event that logged it.
type LoggedOutcome struct {
	Outcome Outcome `json:"outcome"`
	Seq     uint64  `json:"seq"`
}
