package record

import (
	"time"

	"github.com/nextbest/nextbest/experiments"
)

// Experiment compares decision policies on randomly assigned customers: typically NBA
// against the legacy campaigns it replaces and a no-contact holdout.
type Experiment struct {
	ID          ExperimentID        `json:"id"`
	Description string              `json:"description,omitempty"`
	Arms        []experiments.Arm   `json:"arms"`
	Control     string              `json:"control"`
	Salt        string              `json:"salt"`
	Population  string              `json:"population,omitempty"` // who is enrolled; empty = everyone
	Start       *time.Time          `json:"start,omitempty"`
	End         *time.Time          `json:"end,omitempty"`
	Metrics     []string            `json:"metrics"` // primary metrics, Holm-corrected together
	State       string              `json:"state"`
	Ranges      []experiments.Range `json:"ranges"` // bucket ranges per arm (sticky under weight changes)
	Created     time.Time           `json:"created"`
	Updated     time.Time           `json:"updated"`
	Started     *time.Time          `json:"started,omitempty"`
	Stopped     *time.Time          `json:"stopped,omitempty"`
}

// Campaign is a legacy marketing campaign, the kind of rule NBA replaces: a segment, an
// action to offer, a channel, and a schedule for outbound runs. It serves the legacy arm of
// an experiment: inbound, a legacy-arm customer gets the highest-priority campaign whose
// segment matches on the channel; outbound, each run contacts the legacy-arm customers in
// its segment.
type Campaign struct {
	ID          CampaignID `json:"id"`
	Description string     `json:"description,omitempty"`
	Segment     string     `json:"segment"` // expression over profile, context, channel, customer_id
	Action      ActionID   `json:"action"`
	Channel     string     `json:"channel"`
	Schedule    string     `json:"schedule,omitempty"` // cron spec of outbound runs; empty = inbound only
	Priority    float64    `json:"priority"`           // higher wins when several segments match
	Cap         int        `json:"cap,omitempty"`      // most customers contacted per run; 0 = no cap
	Enabled     bool       `json:"enabled"`
	Created     time.Time  `json:"created"`
	Updated     time.Time  `json:"updated"`
}

// Enrollment is a customer's membership of an experiment: the arm, fixed at the first
// assignment, and what happened to the customer since. It is written only by the journal's
// committer, together with the event that changed it.
type Enrollment struct {
	Experiment ExperimentID `json:"experiment"`
	Customer   CustomerID   `json:"customer"`
	Arm        string       `json:"arm"`
	Assigned   time.Time    `json:"assigned"`
	Contacts   int64        `json:"contacts"`
	Responses  int64        `json:"responses"`
	Responded  bool         `json:"responded"`
	Churned    bool         `json:"churned"`
	Discount   float64      `json:"discount"`
	NPS        *float64     `json:"nps,omitempty"` // first NPS answer, as +100/0/-100
	Revenue    float64      `json:"revenue,omitempty"`
	// Net is the customer's net value so far (Rollup.NetSum).
	Net float64 `json:"net,omitempty"`
}

// Rollup is one day of one arm of an experiment: increments of every count and sum the
// report needs. Reports add the days up, so they never scan the decision log.
// Per-customer metrics are counted once per customer, on the day the customer first did
// the thing; DiscountSumSq holds increments of Σ(total_i²), so the sum over days is the
// sum of squares of each customer's total discount.
type Rollup struct {
	Experiment    ExperimentID        `json:"experiment"`
	Day           string              `json:"day"` // YYYY-MM-DD, UTC
	Arm           string              `json:"arm"`
	Assigned      int64               `json:"assigned"`   // customers first assigned that day
	Decisions     int64               `json:"decisions"`  // decisions made, contact or not
	Contacts      int64               `json:"contacts"`   // decisions that offered something
	Responses     int64               `json:"responses"`  // contacts with a positive response, plus response outcomes
	Responders    int64               `json:"responders"` // customers who first responded that day
	Churned       int64               `json:"churned"`    // customers whose churn was recorded that day
	DiscountSum   float64             `json:"discount_sum"`
	DiscountSumSq float64             `json:"discount_sum_sq"`
	NPS           experiments.Summary `json:"nps"` // first answer per respondent, +100/0/-100
	RevenueSum    float64             `json:"revenue_sum,omitempty"`
	RevenueSumSq  float64             `json:"revenue_sum_sq,omitempty"`
	// NetSum is the arm's net value: the value of the responses to its offers (each at
	// the value its decision logged), plus its objectives' outcomes at their value (a
	// churn at what losing the customer costs), minus the retention discounts granted,
	// minus the contact costs of its offers. NetSumSq, like DiscountSumSq, holds
	// increments of the per-customer totals' squares.
	NetSum   float64 `json:"net_sum,omitempty"`
	NetSumSq float64 `json:"net_sum_sq,omitempty"`
}

// CustomerOutcome is a business outcome of a customer: churn, a retention discount
// granted, an NPS survey answer, or a response recorded outside feedback.
type CustomerOutcome struct {
	ID       string     `json:"id,omitempty"` // optional client id: the same id twice counts once
	Customer CustomerID `json:"customer_id"`
	Type     string     `json:"type"`
	Value    float64    `json:"value"`
	Time     time.Time  `json:"time"`
	// Money is what the outcome is worth to the business, in the experiment report's net
	// value: a churn at its objective's value for the customer (set by RecordOutcomes; 0
	// without a churn objective), a retention discount at minus its amount.
	Money float64 `json:"money,omitempty"`
}
