package client

import (
	"context"
	"net/http"

	"github.com/nextbest/nextbest/engine"
)

// StartEvaluation starts an off-policy evaluation as a job on the server (POST
// /v1/evaluations; docs/evaluation.md): an invalid spec is an error at once, and the job,
// running, is returned; follow it with Evaluation.
func (c *Client) StartEvaluation(ctx context.Context, spec engine.EvaluationSpec) (engine.EvaluationJob, error) {
	var out engine.EvaluationJob
	err := c.do(ctx, http.MethodPost, "/v1/evaluations", spec, &out)
	return out, err
}

// Evaluation returns an evaluation job with its progress and, once done, its result (GET
// /v1/evaluations/{id}).
func (c *Client) Evaluation(ctx context.Context, id string) (engine.EvaluationJob, error) {
	var out engine.EvaluationJob
	err := c.do(ctx, http.MethodGet, "/v1/evaluations/"+esc(id), nil, &out)
	return out, err
}

// Evaluations lists the server's evaluation jobs, newest first, without their results
// (GET /v1/evaluations).
func (c *Client) Evaluations(ctx context.Context) ([]engine.EvaluationJob, error) {
	var out struct {
		Evaluations []engine.EvaluationJob `json:"evaluations"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/evaluations", nil, &out)
	return out.Evaluations, err
}

// CancelEvaluation cancels a running evaluation job and returns it once stopped; a
// finished job is returned as it is (DELETE /v1/evaluations/{id}).
func (c *Client) CancelEvaluation(ctx context.Context, id string) (engine.EvaluationJob, error) {
	var out engine.EvaluationJob
	err := c.do(ctx, http.MethodDelete, "/v1/evaluations/"+esc(id), nil, &out)
	return out, err
}
