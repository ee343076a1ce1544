// Package engine is nextbest's decision flow: for a customer and a contact it filters the
// action catalog by eligibility and channel, scores every candidate with its per-action
// Bayesian bandit, arbitrates by priority = propensity x value x channel weight x lever
// (Pega's formula), logs the decision, and learns from feedback.
//
// The engine holds the domain types (Action, Customer, Decision, Event) and declares the
// small storage interfaces it needs (see store.go); package store implements them on Badger.
// It has no HTTP: package api is a thin JSON layer over it.
//
// Durability: every feedback event goes through one group committer (journal.go) that
// writes many events per Badger transaction, fsyncs, then applies them to the in-memory
// models in sequence order and only then acknowledges them. Model snapshots record the
// sequence number they include, so a restart loads the snapshots and replays the journal
// after them: every acknowledged event is reflected exactly once.
package engine
