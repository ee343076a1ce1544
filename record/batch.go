package record

import (
	"time"

	"github.com/nextbest/nextbest/features"
)

// Batch is one group commit. The store writes it durably before Commit returns. It may
// split a large batch over several transactions, but never inside one EventWrite or one
// Snapshot: an event, its outcome state and its resolved pending entry land together.
type Batch struct {
	Decisions []*Decision // each also records a pending entry per chosen action (if Deadline is set)
	Events    []EventWrite
	Snapshots []Snapshot
	Settings  map[string][]byte
	Prune     []VersionKey // old model versions to delete
	// Experiment bookkeeping, written by the committer with the events that caused it.
	Enrollments []Enrollment
	Rollups     []Rollup
	Contacts    []ContactEvent
	Outcomes    []CustomerOutcome
	// Delayed labels (engine/labels.go): labels opened or marked, labels dropped unlearnt, and
	// when customers left. A resolved label is deleted with its event (EventWrite).
	Labels     []*Label
	DropLabels []Label
	Left       map[CustomerID]time.Time
	// Lazy marks a batch no request waits for (decision records and their bookkeeping):
	// the store may make it durable a little later, and does so before any later batch
	// that is not lazy is acknowledged.
	Lazy bool
}

// EventWrite is one journal event with the idempotency state it establishes.
type EventWrite struct {
	Event   *Event
	Outcome OutcomeState
	Resolve *PendingKey // the pending response this event answers, if any
	// ResolveLabel is the open label a label event resolves (Event.Objective set): it is
	// deleted with the event, which has no outcome state.
	ResolveLabel *Label
}

// OutcomeKey names a (decision, action) pair.
type OutcomeKey struct {
	Decision DecisionID
	Action   ActionID
}

// PendingKey names an offered action awaiting a response until Deadline.
type PendingKey struct {
	Deadline time.Time
	Decision DecisionID
	Action   ActionID
}

// VersionKey names one stored model version.
type VersionKey struct {
	Action  ActionID
	Version uint64
}

// Snapshot is one stored version of an action's model: its encoded posterior and the last
// journal sequence it includes.
type Snapshot struct {
	Action    ActionID  `json:"action"`
	Version   uint64    `json:"version"`
	Seq       uint64    `json:"seq"`       // journal sequence the snapshot covers
	ModelSeq  uint64    `json:"model_seq"` // last journal event applied to this model
	Time      time.Time `json:"time"`
	Responses int64     `json:"responses"`
	Positives int64     `json:"positives"`
	Reason    string    `json:"reason"`   // "periodic", "shutdown", "recovery", "rollback", "reset"
	AUC       *float64  `json:"auc"`      // windowed AUC when stored (null until defined)
	LogLoss   *float64  `json:"log_loss"` // windowed log-loss when stored
	Chosen    int64     `json:"chosen"`   // NBA decisions that chose this action, to date
	Explored  int64     `json:"explored"` // of those, how many the greedy choice would not have made
	Schema    string    `json:"schema"`   // features schema hash the model was trained on
	Model     []byte    `json:"-"`
}

// LabelKey names an open label: the decision and objective it is for, and its horizon's
// end.
type LabelKey struct {
	Deadline  time.Time
	Decision  DecisionID
	Objective string
}

// Label is an open label of a decision.
type Label struct {
	LabelKey
	Customer CustomerID
	Time     time.Time       // the decision's time
	Treated  ActionID        // the action offered; "" when nothing was
	Schema   string          // the features schema of Features
	Features features.Vector // the decision's encoded context
	Hit      bool            // the outcome occurred within the horizon (so far)
}

// ContactEvent is one entry of a customer's contact history: a contact on a channel, or a
// negative response.
type ContactEvent struct {
	Customer CustomerID `json:"customer"`
	Time     time.Time  `json:"time"`
	Channel  string     `json:"channel"`
	Negative bool       `json:"negative"`
}
