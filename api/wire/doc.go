// Package wire declares the bodies of nextbest's JSON HTTP API (v1) that are not domain
// types: the requests the server decodes and the envelopes it answers with. The server
// (package api) decodes and encodes them, and the Go client (package client) sends and
// reads them, so that each body is declared once.
//
// Answers that are domain types stay the engine's: a decide answers an
// engine.DecideResult, GET /v1/actions/{id} an engine.Action, a report an engine.Report.
// This package holds only what has no domain type: request bodies, whose optional fields
// are pointers where absent and zero mean different things (the server applies the
// defaults); lists wrapped in an object ({"actions": [...]}); and small answers such as
// the clock's or a rollback's.
//
// The package is pure: it imports the domain packages for their types and nothing of
// HTTP or storage.
package wire
