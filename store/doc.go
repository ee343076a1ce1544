// Package store keeps nextbest's state in an embedded Badger database: the action catalog,
// customer profiles, the decision log, the feedback journal and model snapshots. It speaks
// the types of package record (what nextbest stores) and never imports the engine; Badger
// types never leave it.
//
// Every key starts with a layout version ("v1/"), then a one-word table name, so a future
// layout can be migrated key by key. The records written on every contact and response
// (decisions, journal events, outcome states, contacts) are record's versioned binary
// forms (record.EncodeDecision, EncodeEvent, EncodeOutcomeState, EncodeContact), which
// also read the JSON written before them; model bytes are the bandit package's versioned
// binary encoding; everything else (catalog, profiles, experiments, keys) is JSON.
//
// Durability: with Options.SyncWrites (the default) every write someone waits for is
// fsync'd before it returns, so an acknowledged write survives a killed process and a
// power loss; a batch of decision records (record.Batch.Lazy) is fsync'd within
// Options.LazySync (see syncer). Without SyncWrites, writes survive a killed process (they
// are in the OS page cache) but not a power loss.
package store
