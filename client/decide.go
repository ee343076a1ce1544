package client

import (
	"context"
	"net/http"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// Decide asks for the next best actions for a customer (POST /v1/decide).
func (c *Client) Decide(ctx context.Context, req wire.DecideRequest) (*engine.DecideResult, error) {
	var res engine.DecideResult
	if err := c.do(ctx, http.MethodPost, "/v1/decide", req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Feedback reports a customer's response to an action a decision offered (POST
// /v1/feedback); it returns once the event is durable.
func (c *Client) Feedback(ctx context.Context, req wire.FeedbackRequest) (engine.FeedbackResult, error) {
	var res engine.FeedbackResult
	err := c.do(ctx, http.MethodPost, "/v1/feedback", req, &res)
	return res, err
}

// RecordOutcomes records business outcomes, all or none (POST /v1/outcomes).
func (c *Client) RecordOutcomes(ctx context.Context, outcomes []wire.Outcome) (engine.OutcomesResult, error) {
	var res engine.OutcomesResult
	err := c.do(ctx, http.MethodPost, "/v1/outcomes", outcomes, &res)
	return res, err
}

// Customer returns a customer's profile (GET /v1/customers/{id}).
func (c *Client) Customer(ctx context.Context, id engine.CustomerID) (engine.Customer, error) {
	var out engine.Customer
	err := c.do(ctx, http.MethodGet, "/v1/customers/"+esc(id), nil, &out)
	return out, err
}

// PutCustomer replaces a customer's profile (PUT /v1/customers/{id}).
func (c *Client) PutCustomer(ctx context.Context, id engine.CustomerID, attributes map[string]any) (engine.Customer, error) {
	var out engine.Customer
	err := c.do(ctx, http.MethodPut, "/v1/customers/"+esc(id), wire.CustomerRequest{Attributes: attributes}, &out)
	return out, err
}
