package wire

import (
	"time"

	"github.com/nextbest/nextbest/engine"
)

// CampaignRequest is the body of PUT /v1/campaigns/{id}, a legacy campaign; the answer is
// the stored engine.Campaign.
type CampaignRequest struct {
	// ID, if given, must be the URL's.
	ID          engine.CampaignID `json:"id,omitempty"`
	Description string            `json:"description,omitempty"`
	Segment     string            `json:"segment"`
	Action      engine.ActionID   `json:"action"`
	Channel     string            `json:"channel"`
	Schedule    string            `json:"schedule,omitempty"` // cron spec of outbound runs; empty: inbound only
	Priority    *float64          `json:"priority,omitempty"` // default 0
	Cap         int               `json:"cap,omitempty"`      // most customers contacted per run; 0: no cap
	Enabled     *bool             `json:"enabled,omitempty"`  // default true
}

// CampaignList is the answer of GET /v1/campaigns.
type CampaignList struct {
	Campaigns []engine.Campaign `json:"campaigns"`
}

// OutboundRunRequest is the body, optional, of POST /v1/outbound/run; the answer is an
// engine.RunResult.
type OutboundRunRequest struct {
	Channel string `json:"channel,omitempty"` // empty: every outbound channel
}

// OutboundItem is one line of GET /v1/outbound (JSON lines): one contact for a sending
// system, whom to contact with what, and the decision id to report the response against.
type OutboundItem struct {
	DecisionID engine.DecisionID `json:"decision_id"`
	CustomerID engine.CustomerID `json:"customer_id"`
	Channel    string            `json:"channel"`
	Time       time.Time         `json:"time"`
	Actions    []engine.ActionID `json:"actions"`
	Arm        string            `json:"arm,omitempty"`
	Source     string            `json:"source"`
	// The terms the decision logged for the first action: its value if taken, its cost
	// if taken and what the contact costs.
	Value       float64 `json:"value"`
	Cost        float64 `json:"cost,omitempty"`
	ContactCost float64 `json:"contact_cost,omitempty"`
}
