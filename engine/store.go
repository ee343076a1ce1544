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
