package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// Actions returns the catalog, disabled actions included (GET /v1/actions).
func (c *Client) Actions(ctx context.Context) ([]engine.Action, error) {
	var out wire.ActionList
	err := c.do(ctx, http.MethodGet, "/v1/actions", nil, &out)
	return out.Actions, err
}

// Action returns one action (GET /v1/actions/{id}).
func (c *Client) Action(ctx context.Context, id engine.ActionID) (engine.Action, error) {
	var out engine.Action
	err := c.do(ctx, http.MethodGet, "/v1/actions/"+esc(id), nil, &out)
	return out, err
}

// PutAction creates or changes an action (PUT /v1/actions/{id}) and returns it as stored.
func (c *Client) PutAction(ctx context.Context, id engine.ActionID, req wire.ActionRequest) (engine.Action, error) {
	var out engine.Action
	err := c.do(ctx, http.MethodPut, "/v1/actions/"+esc(id), req, &out)
	return out, err
}

// DisableAction disables an action (DELETE /v1/actions/{id}): it is offered no more, and
// its model and history are kept.
func (c *Client) DisableAction(ctx context.Context, id engine.ActionID) (engine.Action, error) {
	var out engine.Action
	err := c.do(ctx, http.MethodDelete, "/v1/actions/"+esc(id), nil, &out)
	return out, err
}

// Model summarises an action's model with its top weights, at most top of them (GET
// /v1/models/{id}; top 0 is the server's default, 20).
func (c *Client) Model(ctx context.Context, id engine.ActionID, top int) (engine.ModelInfo, error) {
	var out engine.ModelInfo
	q := ""
	if top != 0 {
		q = query("top", strconv.Itoa(top))
	}
	err := c.do(ctx, http.MethodGet, "/v1/models/"+esc(id)+q, nil, &out)
	return out, err
}

// ModelVersions lists the stored versions of an action's model (GET
// /v1/models/{id}/versions).
func (c *Client) ModelVersions(ctx context.Context, id engine.ActionID) ([]engine.Snapshot, error) {
	var out wire.ModelVersions
	err := c.do(ctx, http.MethodGet, "/v1/models/"+esc(id)+"/versions", nil, &out)
	return out.Versions, err
}

// UpliftReport returns an action's uplift report over the labelled decisions since since
// (GET /v1/models/{id}/uplift; the zero time: all the log holds).
func (c *Client) UpliftReport(ctx context.Context, id engine.ActionID, since time.Time) (*engine.UpliftReport, error) {
	var out engine.UpliftReport
	if err := c.do(ctx, http.MethodGet, "/v1/models/"+esc(id)+"/uplift"+query("since", sinceParam(since)), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Rollback makes an earlier version of an action's model the current one (POST
// /v1/models/{id}/rollback).
func (c *Client) Rollback(ctx context.Context, id engine.ActionID, version uint64) (wire.Rollback, error) {
	var out wire.Rollback
	err := c.do(ctx, http.MethodPost, "/v1/models/"+esc(id)+"/rollback", wire.RollbackRequest{Version: &version}, &out)
	return out, err
}

// Schema returns the features schema and its encoding (GET /v1/schema).
func (c *Client) Schema(ctx context.Context) (wire.Schema, error) {
	var out wire.Schema
	err := c.do(ctx, http.MethodGet, "/v1/schema", nil, &out)
	return out, err
}

// PutSchema fixes the features schema (PUT /v1/schema): schema is the document, JSON or
// YAML (features.Schema). Every model whose encoding changes restarts from its prior.
func (c *Client) PutSchema(ctx context.Context, schema []byte) (wire.Schema, error) {
	var out wire.Schema
	ct := "" // YAML: the API refuses other types than JSON, and takes a body without one
	if t := bytes.TrimSpace(schema); len(t) > 0 && t[0] == '{' {
		ct = "application/json"
	}
	err := c.do(ctx, http.MethodPut, "/v1/schema", body{data: schema, contentType: ct}, &out)
	return out, err
}

// DecisionsQuery selects decisions from the log.
type DecisionsQuery struct {
	Since time.Time // the zero time: from the oldest the log holds
	Limit int       // the most to return; 0: no limit
}

// Decisions streams the decision log, oldest first (GET /v1/decisions, JSON lines),
// calling fn with each decision; an error of fn stops the stream and is returned.
func (c *Client) Decisions(ctx context.Context, q DecisionsQuery, fn func(*engine.Decision) error) error {
	return lines(ctx, c, "/v1/decisions"+query("since", sinceParam(q.Since), "limit", limitParam(q.Limit)), fn)
}

// ExportQuery selects the decisions of an export and its format. Since and Until are sent
// as given, for the server to read: an RFC 3339 time, a duration before the server's
// clock ("30d") or Unix seconds; empty: from the oldest decision, up to now.
type ExportQuery struct {
	Format string // "parquet" (the server's default when empty) or "jsonl"
	Since  string
	Until  string // exclusive
}

// ExportDecisions writes the decision log with its outcomes, one row per decision, to w
// as Apache Parquet or JSON lines (GET /v1/decisions/export, analyst role; docs/evaluation.md
// has the columns). A bad query is an *Error wrapping engine.ErrInvalid, before any byte
// is written. A failure of the server after its first byte cannot change the status: a
// Parquet file then lacks its footer (export.Verify refuses it), and JSON lines end with a
// line {"error":{...}}; read the file back before trusting it.
func (c *Client) ExportDecisions(ctx context.Context, q ExportQuery, w io.Writer) error {
	return c.copyTo(ctx, "/v1/decisions/export"+query("format", q.Format, "since", q.Since, "until", q.Until), w)
}

// Decision returns one logged decision (GET /v1/decisions/{id}).
func (c *Client) Decision(ctx context.Context, id engine.DecisionID) (*engine.Decision, error) {
	var out engine.Decision
	if err := c.do(ctx, http.MethodGet, "/v1/decisions/"+esc(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func limitParam(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
