package engine

import (
	"math/rand/v2"
	"time"

	"github.com/nextbest/nextbest/record"
)

// The records the engine writes and the store keeps are declared in package record, below
// both (what nextbest stores: the types and their binary codecs). The engine re-exports
// them under the same names, so engine.Decision is record.Decision and every caller of
// the engine is unchanged.

// ActionID identifies an action in the catalog.
type ActionID = record.ActionID

// CustomerID identifies a customer.
type CustomerID = record.CustomerID

// DecisionID identifies one decision; IDs sort in time order.
type DecisionID = record.DecisionID

// ExperimentID identifies an experiment.
type ExperimentID = record.ExperimentID

// CampaignID identifies a legacy campaign.
type CampaignID = record.CampaignID

// Action is one thing nextbest can do for a customer (record.Action).
type Action = record.Action

// ModelSpec configures an action's bandit model (record.ModelSpec).
type ModelSpec = record.ModelSpec

// Money is an amount of money for one customer: a constant or an expression (record.Money).
type Money = record.Money

// Customer is a customer profile (record.Customer).
type Customer = record.Customer

// Decision is one entry of the decision log (record.Decision).
type Decision = record.Decision

// Candidate is one action considered for a decision (record.Candidate).
type Candidate = record.Candidate

// Outcome names a response to an offered action (record.Outcome).
type Outcome = record.Outcome

// Event is one journal entry (record.Event).
type Event = record.Event

// OutcomeState is what the journal knows about one (decision, action) pair (record.OutcomeState).
type OutcomeState = record.OutcomeState

// LoggedOutcome is an outcome with the sequence of the event that logged it (record.LoggedOutcome).
type LoggedOutcome = record.LoggedOutcome

// Experiment compares decision policies on randomly assigned customers (record.Experiment).
type Experiment = record.Experiment

// Campaign is a legacy marketing campaign (record.Campaign).
type Campaign = record.Campaign

// Enrollment is a customer's membership of an experiment (record.Enrollment).
type Enrollment = record.Enrollment

// Rollup is one day of one arm of an experiment (record.Rollup).
type Rollup = record.Rollup

// CustomerOutcome is a business outcome of a customer (record.CustomerOutcome).
type CustomerOutcome = record.CustomerOutcome

// Batch is one group commit (record.Batch).
type Batch = record.Batch

// EventWrite is one journal event with the idempotency state it establishes (record.EventWrite).
type EventWrite = record.EventWrite

// OutcomeKey names a (decision, action) pair (record.OutcomeKey).
type OutcomeKey = record.OutcomeKey

// PendingKey names an offered action awaiting a response (record.PendingKey).
type PendingKey = record.PendingKey

// VersionKey names one stored model version (record.VersionKey).
type VersionKey = record.VersionKey

// Snapshot is one stored version of an action's model (record.Snapshot).
type Snapshot = record.Snapshot

// LabelKey names an open label (record.LabelKey).
type LabelKey = record.LabelKey

// Label is an open label of a decision (record.Label).
type Label = record.Label

// ContactEvent is one entry of a customer's contact history (record.ContactEvent).
type ContactEvent = record.ContactEvent

// Strings is the dictionary the decision records name things by (record.Strings).
type Strings = record.Strings

// The outcomes a client may report (record.Accepted, ...). Accepted, clicked and converted
// are positive; Timeout is the implicit negative recorded when no response arrives in time.
const (
	Accepted  = record.Accepted
	Rejected  = record.Rejected
	Clicked   = record.Clicked
	Ignored   = record.Ignored
	Converted = record.Converted
	Timeout   = record.Timeout
)

// Label event outcomes: the objective's outcome occurred within the horizon, or not.
const (
	LabelHit  = record.LabelHit
	LabelMiss = record.LabelMiss
)

// DefaultEffectScale is ModelSpec.EffectScale's default (record.DefaultEffectScale).
const DefaultEffectScale = record.DefaultEffectScale

// ValidID reports whether s is a well-formed id (record.ValidID).
func ValidID(s string) bool { return record.ValidID(s) }

// NewDecisionID returns a decision id that sorts in time order (record.NewDecisionID).
func NewDecisionID(t time.Time, rng *rand.Rand) DecisionID { return record.NewDecisionID(t, rng) }

// DecisionIDPrefix returns the smallest decision id for decisions at or after t
// (record.DecisionIDPrefix).
func DecisionIDPrefix(t time.Time) DecisionID { return record.DecisionIDPrefix(t) }
