package export

import (
	"encoding/json"
	"time"

	"github.com/nextbest/nextbest/engine"
)

// Row is one decision of an export, and the file's schema: Parquet columns and JSON
// fields by the names in the tags. Times are UTC, to the microsecond (what DuckDB, Spark
// and pandas all read; the decision id keeps the nanoseconds). A column marked optional
// is null (JSON: absent or null) where the decision has no such value.
type Row struct {
	DecisionID string    `parquet:"decision_id" json:"decision_id"`
	Time       time.Time `parquet:"time,timestamp(microsecond)" json:"time"`
	CustomerID string    `parquet:"customer_id" json:"customer_id"`
	Channel    string    `parquet:"channel" json:"channel"`
	Source     string    `parquet:"source" json:"source"` // inbound, outbound or campaign
	Arm        string    `parquet:"arm,optional" json:"arm,omitempty"`
	Experiment string    `parquet:"experiment,optional" json:"experiment,omitempty"`
	SchemaHash string    `parquet:"schema_hash" json:"schema_hash"` // the features schema of Features
	// Context is the context as the client sent it, JSON text (in JSON lines, the object
	// itself: ContextJSON).
	Context     string          `parquet:"context,optional" json:"-"`
	ContextJSON json.RawMessage `parquet:"-" json:"context,omitempty"`
	Features    Features        `parquet:"features" json:"features"`
	Candidates  []Candidate     `parquet:"candidates,list" json:"candidates"`
	Chosen      []string        `parquet:"chosen,list" json:"chosen"` // the actions offered, best first
	// Action is the first chosen action, and Probability the probability that the
	// logging policy offered it first: the propensity of the logged action.
	Action      string   `parquet:"action,optional" json:"action,omitempty"`
	Probability *float64 `parquet:"probability,optional" json:"probability"`
	NoAction    bool     `parquet:"no_action" json:"no_action"`
	Reason      string   `parquet:"reason,optional" json:"reason,omitempty"`
	// NoActionProbability is, for a decision that offered nothing, the probability that
	// its policy offers nothing in this context; 0 when it offered something.
	NoActionProbability float64 `parquet:"no_action_probability" json:"no_action_probability"`
	// Reward is the response to Action as the engine learned it (RewardOf): 1 positive,
	// 0 negative or timed out, null while unanswered.
	Reward   *float64   `parquet:"reward,optional" json:"reward"`
	Deadline *time.Time `parquet:"deadline,optional,timestamp(microsecond)" json:"deadline,omitempty"`
	Outcomes []Outcome  `parquet:"outcomes,list" json:"outcomes"`
}

// Features is the encoded context every model scored: a sparse vector.
type Features struct {
	Index []int32   `parquet:"index,list" json:"index"`
	Value []float64 `parquet:"value,list" json:"value"`
}

// Candidate is one action the decision considered: filtered out (with the reason), or
// scored, with every logged term (engine.Candidate).
type Candidate struct {
	ID          string  `parquet:"id" json:"id"`
	Filtered    string  `parquet:"filtered,optional" json:"filtered,omitempty"`
	Detail      string  `parquet:"detail,optional" json:"detail,omitempty"`
	Rank        int32   `parquet:"rank" json:"rank"` // 1 = best; 0 when filtered
	Propensity  float64 `parquet:"propensity" json:"propensity"`
	Score       float64 `parquet:"score" json:"score"`
	Value       float64 `parquet:"value" json:"value"`
	Weight      float64 `parquet:"weight" json:"weight"`
	Priority    float64 `parquet:"priority" json:"priority"`
	Probability float64 `parquet:"probability" json:"probability"`
	ModelSeq    uint64  `parquet:"model_seq" json:"model_seq"`
	Cost        float64 `parquet:"cost" json:"cost"`
	ContactCost float64 `parquet:"contact_cost" json:"contact_cost"`
	Effect      float64 `parquet:"effect" json:"effect"`
	EffectSD    float64 `parquet:"effect_sd" json:"effect_sd"`
	EffectValue float64 `parquet:"effect_value" json:"effect_value"`
	NetValue    float64 `parquet:"net_value" json:"net_value"`
}

// Outcome is one journal event of the decision: a response to an offered action
// (explicit, or "timeout"), or a label (Objective set, "occurred" or "not_occurred").
type Outcome struct {
	Seq       uint64    `parquet:"seq" json:"seq"`
	Time      time.Time `parquet:"time,timestamp(microsecond)" json:"time"`
	Action    string    `parquet:"action,optional" json:"action,omitempty"`
	Outcome   string    `parquet:"outcome" json:"outcome"`
	Objective string    `parquet:"objective,optional" json:"objective,omitempty"`
	Reward    *float64  `parquet:"reward,optional" json:"reward,omitempty"` // a reward reported with a response
}

// RowOf returns the row of a decision read with its outcomes.
func RowOf(d *engine.Decision) Row {
	r := Row{
		DecisionID: string(d.ID), Time: micro(d.Time), CustomerID: string(d.CustomerID), Channel: d.Channel, Source: d.Source,
		Arm: d.Arm, Experiment: string(d.Experiment), SchemaHash: d.Schema, Context: string(d.Context), ContextJSON: json.RawMessage(d.Context),
		Features:   Features{Index: d.Features.Index, Value: d.Features.Value},
		Candidates: make([]Candidate, len(d.Candidates)), Chosen: make([]string, len(d.Chosen)),
		NoAction: d.NoAction, Reason: d.Reason, NoActionProbability: d.NoActionProbability,
		Reward: RewardOf(d), Outcomes: make([]Outcome, len(d.Outcomes)),
	}
	if r.Features.Index == nil {
		r.Features = Features{Index: []int32{}, Value: []float64{}}
	}
	for i, c := range d.Candidates {
		r.Candidates[i] = Candidate{ID: string(c.ID), Filtered: c.Filtered, Detail: c.Detail, Rank: int32(c.Rank), Propensity: c.Propensity,
			Score: c.Score, Value: c.Value, Weight: c.Weight, Priority: c.Priority, Probability: c.Probability, ModelSeq: c.ModelSeq,
			Cost: c.Cost, ContactCost: c.ContactCost, Effect: c.Effect, EffectSD: c.EffectSD, EffectValue: c.EffectValue, NetValue: c.Net}
	}
	for i, a := range d.Chosen {
		r.Chosen[i] = string(a)
	}
	if len(d.Chosen) > 0 {
		r.Action = string(d.Chosen[0])
		for _, c := range d.Candidates {
			if c.ID == d.Chosen[0] {
				p := c.Probability
				r.Probability = &p
				break
			}
		}
	}
	if !d.Deadline.IsZero() {
		t := micro(d.Deadline)
		r.Deadline = &t
	}
	for i, e := range d.Outcomes {
		r.Outcomes[i] = Outcome{Seq: e.Seq, Time: micro(e.Time), Action: string(e.ActionID), Outcome: string(e.Outcome), Objective: e.Objective, Reward: e.Reward}
	}
	return r
}

// micro returns t in UTC, truncated to the microsecond.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// RewardOf returns the response to a decision's first chosen action as the engine learned
// it: 1 if positive, 0 if negative or timed out; nil if the decision offered nothing or
// no response was recorded. The learned response is the first one (explicit, or the
// timeout), or a positive that came after the timeout (engine.Event.Learned); a response
// logged after the learned one (a conversion after a click) does not change it.
func RewardOf(d *engine.Decision) *float64 {
	if len(d.Chosen) == 0 {
		return nil
	}
	var first, learned *engine.Event
	for i := range d.Outcomes {
		e := &d.Outcomes[i]
		if e.ActionID != d.Chosen[0] || e.Objective != "" {
			continue
		}
		if _, ok := e.Outcome.Positive(); !ok {
			continue
		}
		if first == nil {
			first = e
		}
		if e.Learned {
			learned = e
		}
	}
	label := learned
	if label == nil {
		label = first // a response no model learned (its schema had changed): as recorded
	}
	if label == nil {
		return nil
	}
	v := 0.0
	if positive, _ := label.Outcome.Positive(); positive {
		v = 1
	}
	return &v
}
