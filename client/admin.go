package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api/wire"
)

// Healthz reports whether the server answers at all (GET /healthz): Status "ok".
func (c *Client) Healthz(ctx context.Context) (wire.Health, error) {
	var out wire.Health
	err := c.do(ctx, http.MethodGet, "/healthz", nil, &out)
	return out, err
}

// Readyz reports whether the server is ready to serve (GET /readyz): Status "ready", or
// "degraded" with a reason. A server that is loading or shutting down answers 503, an
// *Error of kind engine.ErrUnavailable and code not_ready.
func (c *Client) Readyz(ctx context.Context) (wire.Health, error) {
	var out wire.Health
	err := c.do(ctx, http.MethodGet, "/readyz", nil, &out)
	return out, err
}

// Metrics returns the server's metrics in the Prometheus text format (GET /metrics).
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	resp, err := c.stream(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	return b, nil
}

// OpenAPI returns the server's API reference, the OpenAPI 3.1 document in YAML
// (GET /v1/openapi.yaml): the contract of the server this client talks to.
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	resp, err := c.stream(ctx, "/v1/openapi.yaml")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /v1/openapi.yaml: %w", err)
	}
	return b, nil
}

// Clock returns the service's clock (GET /v1/clock).
func (c *Client) Clock(ctx context.Context) (wire.ClockState, error) {
	var out wire.ClockState
	err := c.do(ctx, http.MethodGet, "/v1/clock", nil, &out)
	return out, err
}

// AdvanceClock moves a manual clock forward, running the scheduled work that falls due on
// the way, and returns the clock with the jobs it ran (POST /v1/clock).
func (c *Client) AdvanceClock(ctx context.Context, req wire.ClockRequest) (wire.ClockState, error) {
	var out wire.ClockState
	err := c.do(ctx, http.MethodPost, "/v1/clock", req, &out)
	return out, err
}

// Cluster returns the replicas of the cluster the server belongs to, with their lag;
// a single node answers Clustered false (GET /v1/cluster).
func (c *Client) Cluster(ctx context.Context) (wire.Cluster, error) {
	var out wire.Cluster
	err := c.do(ctx, http.MethodGet, "/v1/cluster", nil, &out)
	return out, err
}

// Keys lists the API keys, revoked ones included, without their hashes (GET /v1/keys).
func (c *Client) Keys(ctx context.Context) ([]access.Key, error) {
	var out wire.KeyList
	err := c.do(ctx, http.MethodGet, "/v1/keys", nil, &out)
	return out.Keys, err
}

// CreateKey makes an API key (POST /v1/keys). The answer holds the secret, which the
// server never shows again.
func (c *Client) CreateKey(ctx context.Context, req wire.KeyRequest) (wire.CreatedKey, error) {
	var out wire.CreatedKey
	err := c.do(ctx, http.MethodPost, "/v1/keys", req, &out)
	return out, err
}

// RevokeKey revokes an API key (DELETE /v1/keys/{id}); it is refused from the next
// request on.
func (c *Client) RevokeKey(ctx context.Context, id access.KeyID) (access.Key, error) {
	var out access.Key
	err := c.do(ctx, http.MethodDelete, "/v1/keys/"+esc(id), nil, &out)
	return out, err
}

// Backup writes a consistent backup of the live store to w (GET /v1/admin/backup), for
// nextbest restore. A backup cut short by an error on the server is truncated, which
// restore refuses.
func (c *Client) Backup(ctx context.Context, w io.Writer) error {
	return c.copyTo(ctx, "/v1/admin/backup", w)
}

// Profile writes one of the server's Go runtime profiles to w (GET
// /v1/admin/debug/pprof/{name}), such as "heap", "goroutine", or "profile" (CPU) over
// seconds; seconds 0 leaves the parameter out.
func (c *Client) Profile(ctx context.Context, name string, seconds int, w io.Writer) error {
	q := ""
	if seconds > 0 {
		q = query("seconds", strconv.Itoa(seconds))
	}
	return c.copyTo(ctx, "/v1/admin/debug/pprof/"+esc(name)+q, w)
}
