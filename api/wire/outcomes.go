package wire

import (
	"time"

	"github.com/nextbest/nextbest/engine"
)

// Outcome is one business outcome of POST /v1/outcomes, which takes one such object or
// an array of them and answers an engine.OutcomesResult.
type Outcome struct {
	// ID is an optional client id: the same id twice counts once.
	ID         string            `json:"id,omitempty"`
	CustomerID engine.CustomerID `json:"customer_id"`
	Type       string            `json:"type"` // churn, retention_discount, nps (value 0-10) or response
	Value      *float64          `json:"value,omitempty"`
	Time       *time.Time        `json:"time,omitempty"` // absent: the server's clock
}
