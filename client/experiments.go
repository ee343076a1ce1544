package client

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// Experiments lists the experiments (GET /v1/experiments).
func (c *Client) Experiments(ctx context.Context) ([]engine.Experiment, error) {
	var out wire.ExperimentList
	err := c.do(ctx, http.MethodGet, "/v1/experiments", nil, &out)
	return out.Experiments, err
}

// Experiment returns one experiment (GET /v1/experiments/{id}).
func (c *Client) Experiment(ctx context.Context, id engine.ExperimentID) (engine.Experiment, error) {
	var out engine.Experiment
	err := c.do(ctx, http.MethodGet, "/v1/experiments/"+esc(id), nil, &out)
	return out, err
}

// PutExperiment creates or changes an experiment (PUT /v1/experiments/{id}).
func (c *Client) PutExperiment(ctx context.Context, id engine.ExperimentID, req wire.ExperimentRequest) (engine.Experiment, error) {
	var out engine.Experiment
	err := c.do(ctx, http.MethodPut, "/v1/experiments/"+esc(id), req, &out)
	return out, err
}

// Assignment returns a customer's arm in an experiment (GET
// /v1/experiments/{id}/assignments/{customer}).
func (c *Client) Assignment(ctx context.Context, id engine.ExperimentID, customer engine.CustomerID) (engine.AssignmentInfo, error) {
	var out engine.AssignmentInfo
	err := c.do(ctx, http.MethodGet, "/v1/experiments/"+esc(id)+"/assignments/"+esc(customer), nil, &out)
	return out, err
}

// Report returns an experiment's report (GET /v1/experiments/{id}/report).
func (c *Client) Report(ctx context.Context, id engine.ExperimentID) (*engine.Report, error) {
	var out engine.Report
	if err := c.do(ctx, http.MethodGet, "/v1/experiments/"+esc(id)+"/report", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReportCSV writes an experiment report's daily series as CSV to w (GET
// /v1/experiments/{id}/report?format=csv).
func (c *Client) ReportCSV(ctx context.Context, id engine.ExperimentID, w io.Writer) error {
	return c.copyTo(ctx, "/v1/experiments/"+esc(id)+"/report?format=csv", w)
}

// PowerQuery is a power calculation: give MDE for the customers needed per arm, or N for
// the smallest effect N treatment-arm customers detect. Zero fields are the server's
// defaults.
type PowerQuery struct {
	Kind     string  // "binary" (default) or "mean"
	Baseline float64 // binary: the control's rate
	SD       float64 // mean: the metric's standard deviation
	MDE      float64 // the effect to detect
	N        int     // the treatment arm's customers
	Level    float64 // confidence level; default 0.95
	Power    float64 // default 0.8
	Ratio    float64 // control size / treatment size; default 1
}

// Power runs the power and minimum-detectable-effect calculator (GET /v1/power).
func (c *Client) Power(ctx context.Context, q PowerQuery) (wire.Power, error) {
	f := func(x float64) string {
		if x == 0 {
			return ""
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	var out wire.Power
	err := c.do(ctx, http.MethodGet, "/v1/power"+query("kind", q.Kind, "baseline", f(q.Baseline), "sd", f(q.SD), "mde", f(q.MDE),
		"n", limitParam(q.N), "level", f(q.Level), "power", f(q.Power), "ratio", f(q.Ratio)), nil, &out)
	return out, err
}
