package client

import (
	"context"
	"net/http"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// Objectives lists the objectives (GET /v1/objectives).
func (c *Client) Objectives(ctx context.Context) ([]engine.Objective, error) {
	var out wire.ObjectiveList
	err := c.do(ctx, http.MethodGet, "/v1/objectives", nil, &out)
	return out.Objectives, err
}

// Objective returns the objective of an outcome type (GET /v1/objectives/{outcome}).
func (c *Client) Objective(ctx context.Context, outcome string) (engine.Objective, error) {
	var out engine.Objective
	err := c.do(ctx, http.MethodGet, "/v1/objectives/"+esc(outcome), nil, &out)
	return out, err
}

// PutObjective creates or changes the objective of an outcome type (PUT
// /v1/objectives/{outcome}).
func (c *Client) PutObjective(ctx context.Context, outcome string, req wire.ObjectiveRequest) (engine.Objective, error) {
	var out engine.Objective
	err := c.do(ctx, http.MethodPut, "/v1/objectives/"+esc(outcome), req, &out)
	return out, err
}

// DeleteObjective deletes the objective of an outcome type (DELETE
// /v1/objectives/{outcome}).
func (c *Client) DeleteObjective(ctx context.Context, outcome string) error {
	return c.do(ctx, http.MethodDelete, "/v1/objectives/"+esc(outcome), nil, nil)
}
