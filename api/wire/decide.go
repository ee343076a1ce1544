package wire

import (
	"time"

	"github.com/nextbest/nextbest/engine"
)

// DecideRequest is the body of POST /v1/decide; the answer is an engine.DecideResult.
type DecideRequest struct {
	CustomerID engine.CustomerID `json:"customer_id"`
	Channel    string            `json:"channel"`
	// Context is what is known of this interaction, as a JSON object of free-form values
	// (numbers, strings, booleans, null, arrays, objects); the decision log keeps it as sent.
	Context map[string]any    `json:"context,omitempty"`
	Actions []engine.ActionID `json:"actions,omitempty"` // candidate subset; empty: the whole catalog
	Limit   int               `json:"limit,omitempty"`   // how many actions to return; default 1
	Time    *time.Time        `json:"time,omitempty"`    // event time; absent: the server's clock
	Source  string            `json:"source,omitempty"`  // "inbound" (default), "outbound" or "campaign"
}

// FeedbackRequest is the body of POST /v1/feedback: a customer's response to an action a
// decision offered. The answer, 202 once the event is durable, is an
// engine.FeedbackResult.
type FeedbackRequest struct {
	DecisionID engine.DecisionID `json:"decision_id"`
	ActionID   engine.ActionID   `json:"action_id"`
	Outcome    engine.Outcome    `json:"outcome"`          // accepted, rejected, clicked, ignored or converted
	Reward     *float64          `json:"reward,omitempty"` // optional continuous reward, e.g. revenue
	Time       *time.Time        `json:"time,omitempty"`   // event time; absent: the server's clock
}
