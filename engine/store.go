package engine

import (
	"context"
	"time"
)

// The engine declares the storage it needs as small interfaces; package store implements
// them on Badger.

// Catalog stores action definitions and the features schema.
type Catalog interface {
	Actions(ctx context.Context) ([]Action, error)
	PutAction(ctx context.Context, a Action) error
	Setting(ctx context.Context, name string) ([]byte, error) // ErrNotFound if absent
	PutSetting(ctx context.Context, name string, value []byte) error
}

// Profiles stores customer profiles.
type Profiles interface {
	Customer(ctx context.Context, id CustomerID) (Customer, error) // ErrNotFound if absent
	PutCustomer(ctx context.Context, c Customer) error
	// Customers calls fn for every profile, in id order.
	Customers(ctx context.Context, fn func(Customer) error) error
}

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
	// Delayed labels (labels.go): labels opened or marked, labels dropped unlearnt, and
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

// Journal is the durable log: decisions, events and model snapshots, written in atomic
// group commits.
type Journal interface {
	// Commit writes the batch atomically and durably (fsync) before returning.
	Commit(ctx context.Context, b *Batch) error
	// LastSeq returns the highest event sequence in the journal, 0 if none.
	LastSeq(ctx context.Context) (uint64, error)
	// Replay calls fn for every event with Seq > after, in sequence order.
	Replay(ctx context.Context, after uint64, fn func(*Event) error) error
	// Outcome returns the state of a (decision, action) pair, ErrNotFound if none.
	Outcome(ctx context.Context, k OutcomeKey) (OutcomeState, error)
}

// Trimmer applies the store's retention to the journal.
type Trimmer interface {
	// TrimJournal deletes events at or below covered that are older than the store's
	// retention, never one above covered; it returns how many it deleted.
	TrimJournal(ctx context.Context, covered uint64) (int, error)
}

// DecisionLog reads the decision log.
type DecisionLog interface {
	Decision(ctx context.Context, id DecisionID) (*Decision, error) // ErrNotFound if absent
	// DecisionRecord is Decision without the outcomes (Decision.Outcomes is empty).
	DecisionRecord(ctx context.Context, id DecisionID) (*Decision, error)
	// Decisions calls fn for each decision from since on, oldest first, with its outcomes.
	Decisions(ctx context.Context, since time.Time, fn func(*Decision) error) error
	// Recent returns up to n decisions, newest first, with their outcomes.
	Recent(ctx context.Context, n int) ([]*Decision, error)
	// Expired calls fn for every pending response whose deadline is before t.
	Expired(ctx context.Context, before time.Time, limit int, fn func(PendingKey) error) error
}

// DecisionStrings gives the dictionary the store's decision records name things by
// (Strings): the engine encodes records with it, the store writes its new strings with
// them and decodes with it.
type DecisionStrings interface {
	DecisionStrings() *Strings
}

// Models reads stored model versions.
type Models interface {
	// LatestSnapshots returns the newest snapshot of every action that has one.
	LatestSnapshots(ctx context.Context) ([]Snapshot, error)
	// Versions lists an action's stored versions, newest first, without model bytes.
	Versions(ctx context.Context, id ActionID) ([]Snapshot, error)
	// Snapshot returns one version with its model bytes, ErrNotFound if absent.
	Snapshot(ctx context.Context, k VersionKey) (Snapshot, error)
}

// Programs stores experiments and legacy campaigns.
type Programs interface {
	Experiments(ctx context.Context) ([]Experiment, error)
	PutExperiment(ctx context.Context, x Experiment) error
	Campaigns(ctx context.Context) ([]Campaign, error)
	PutCampaign(ctx context.Context, c Campaign) error
}

// Results reads what experiments have recorded.
type Results interface {
	// Enrollment returns a customer's enrollment, ErrNotFound if not enrolled.
	Enrollment(ctx context.Context, x ExperimentID, c CustomerID) (Enrollment, error)
	// Rollups returns an experiment's daily rollups, by day then arm.
	Rollups(ctx context.Context, x ExperimentID) ([]Rollup, error)
	// Contacts returns a customer's contact history since t, oldest first.
	Contacts(ctx context.Context, c CustomerID, since time.Time) ([]ContactEvent, error)
	// Outbox calls fn for each outbound decision on channel from since on, oldest first.
	Outbox(ctx context.Context, channel string, since time.Time, fn func(*Decision) error) error
}

// OutcomeLog remembers which client outcome ids have been recorded.
type OutcomeLog interface {
	OutcomeSeen(ctx context.Context, id string) (bool, error)
}

// Store is everything the engine needs from storage.
type Store interface {
	Catalog
	Profiles
	Journal
	Trimmer
	DecisionLog
	DecisionStrings
	Models
	Programs
	Results
	OutcomeLog
	Labels
}
