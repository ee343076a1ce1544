// Package api serves nextbest's JSON HTTP API (v1) with fiber: it parses a request, calls
// the engine, and renders the result. Every error is rendered by one function, writeError,
// as {"error": {"code", "message"}} with the status that its kind calls for.
package api
