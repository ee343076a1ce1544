package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/nextbest/nextbest/bandit"
	"github.com/nextbest/nextbest/experiments"
	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/record"
)

// RunResult reports one outbound run.
type RunResult struct {
	Run       string    `json:"run"` // "campaign <id>" or "nba outbound"
	Channel   string    `json:"channel"`
	Time      time.Time `json:"time"`
	Customers int       `json:"customers"` // customers looked at
	Eligible  int       `json:"eligible"`  // in the run's arm (and segment, for a campaign)
	Contacted int       `json:"contacted"`
	Capped    int       `json:"capped"`   // refused by the contact policy
	Declined  int       `json:"declined"` // NBA: best priority under the outbound threshold
	CapHit    bool      `json:"cap_hit"`  // a campaign's per-run cap stopped the run
	Elapsed   string    `json:"elapsed"`  // wall time the run took
	Errors    int       `json:"errors"`   // customers skipped because of an error
	LastError string    `json:"last_error,omitempty"`
}

// RunCampaign runs a legacy campaign now: it contacts the legacy-arm customers of the
// running experiment who are in the campaign's segment, up to the campaign's cap, within the
// contact policy, and logs each contact as a decision (source "campaign") that sending
// systems read from the outbound feed. With no experiment running, it contacts every
// customer in the segment: the legacy policy is then the only one.
func (e *Engine) RunCampaign(ctx context.Context, id CampaignID) (RunResult, error) {
	if e.proposing(ctx) {
		// Every replica runs it at the same point of the log, on the same state and with
		// the cluster's seed, so each logs the same contacts (replicate.go).
		return proposeCall[RunResult](ctx, e, callRunCampaign, runArgs{Campaign: id, Now: e.clock.Now().UTC()})
	}
	return e.runCampaign(ctx, id, e.now(ctx))
}

func (e *Engine) runCampaign(ctx context.Context, id CampaignID, now time.Time) (RunResult, error) {
	e.progMu.RLock()
	cs := e.campaigns[id]
	e.progMu.RUnlock()
	if cs == nil {
		return RunResult{}, errorf(ErrNotFound, "unknown_campaign", "no campaign %q", truncate(string(id), 64))
	}
	st := e.actionState(cs.c.Action)
	if st == nil {
		return RunResult{}, errorf(ErrUnprocessable, "unknown_action", "campaign %q offers %q, which is not in the catalog", id, cs.c.Action)
	}
	now = now.UTC()
	res := RunResult{Run: "campaign " + string(id), Channel: cs.c.Channel, Time: now}
	began := time.Now()
	var machine vm.VM
	var x features.Vector
	err := e.store.Customers(ctx, func(cust Customer) error {
		res.Customers++
		if cs.c.Cap > 0 && res.Contacted >= cs.c.Cap {
			res.CapHit = true
			return nil // keep counting customers; contact no more
		}
		env := Env{Profile: orEmpty(cust.Attributes), Context: map[string]any{}, Channel: cs.c.Channel, Customer: string(cust.ID)}
		asg, err := e.assign(ctx, now, cust.ID, &env, &machine)
		if err != nil {
			res.Errors++
			res.LastError = err.Error()
			return nil
		}
		if asg != nil && asg.policy != experiments.PolicyLegacy {
			return e.enroll(ctx, asg, cust.ID, now)
		}
		if ok, err := cs.segment.Eval(&machine, &env); err != nil || !ok {
			if err != nil { // not in the segment, and counted with the reason
				res.Errors++
				res.LastError = err.Error()
			}
			return e.enroll(ctx, asg, cust.ID, now)
		}
		res.Eligible++
		reason, err := e.checkContact(ctx, cust.ID, cs.c.Channel, now, true)
		if err != nil {
			res.Errors++
			res.LastError = err.Error()
			return nil
		}
		e.mu.RLock()
		enc := e.enc
		e.mu.RUnlock()
		if _, err := enc.Encode(env.Profile, env.Context, &x); err != nil {
			x.Reset()
		}
		rng := e.decisionRNG(cust.ID, now, cs.c.Channel, "campaign", string(id))
		did := e.newDecisionID(now, rng)
		e.releaseRNG(rng)
		d := &Decision{
			ID: did, CustomerID: cust.ID, Channel: cs.c.Channel, Time: now, Arm: ArmNone, Source: "campaign",
			Schema: enc.SchemaHash(), Features: features.Vector{Index: slices.Clone(x.Index), Value: slices.Clone(x.Value)},
		}
		if asg != nil {
			d.Arm, d.Experiment = asg.arm, asg.exp.exp.ID
		}
		c := Candidate{ID: cs.c.Action, Rank: 1, Priority: cs.c.Priority, Detail: "campaign " + string(id), ModelSeq: st.seq.Load()}
		c.Propensity = st.model.Load().Propensity(bandit.Vector(x))
		priceFixed(st, bandit.Vector(x), &machine, &env, &c)
		if reason != "" {
			res.Capped++
			c.Filtered, c.Detail = "contact_policy", reason
			d.NoAction, d.Reason = true, ReasonContactLimit+": "+reason
		} else {
			res.Contacted++
			c.Probability = 1
			d.Chosen = []ActionID{cs.c.Action}
			if e.opts.ImplicitNegatives {
				if t := e.opts.channel(cs.c.Channel).Timeout; t > 0 {
					d.Deadline = now.Add(t)
				}
			}
		}
		d.Candidates = []Candidate{c}
		return e.logDecision(ctx, d)
	})
	if err == nil {
		err = e.Flush(ctx) // the run's contacts are in the outbound feed when it returns
	}
	res.Elapsed = time.Since(began).Round(time.Millisecond).String()
	if err != nil {
		return res, fmt.Errorf("run campaign %q: %w", id, err)
	}
	return res, nil
}

// ArmNone marks decisions outside any experiment.
const ArmNone = ""

// RunOutbound is the NBA outbound pass: it decides for every NBA-arm customer of the
// running experiment (every customer, with no experiment) on channel, and contacts only
// where the best priority clears the outbound threshold and the contact policy allows it.
func (e *Engine) RunOutbound(ctx context.Context, channel string) (RunResult, error) {
	if channel == "" {
		channel = e.opts.OutboundChannel
	}
	if err := e.checkChannel("channel", channel); err != nil {
		return RunResult{}, err
	}
	if e.proposing(ctx) {
		return proposeCall[RunResult](ctx, e, callRunOutbound, runArgs{Channel: channel, Now: e.clock.Now().UTC()})
	}
	now := e.now(ctx).UTC()
	res := RunResult{Run: "nba outbound", Channel: channel, Time: now}
	began := time.Now()
	var machine vm.VM
	err := e.store.Customers(ctx, func(cust Customer) error {
		res.Customers++
		env := Env{Profile: orEmpty(cust.Attributes), Context: map[string]any{}, Channel: channel, Customer: string(cust.ID)}
		asg, err := e.assign(ctx, now, cust.ID, &env, &machine)
		if err != nil {
			res.Errors++
			res.LastError = err.Error()
			return nil
		}
		if asg != nil && asg.policy != experiments.PolicyNBA {
			return e.enroll(ctx, asg, cust.ID, now)
		}
		res.Eligible++
		out, err := e.Decide(ctx, DecideRequest{CustomerID: cust.ID, Channel: channel, Source: "outbound", Time: now})
		if err != nil {
			res.Errors++
			res.LastError = err.Error()
			return nil
		}
		switch {
		case !out.NoAction:
			res.Contacted++
		case len(out.Reason) >= len(ReasonContactLimit) && out.Reason[:len(ReasonContactLimit)] == ReasonContactLimit:
			res.Capped++
		default:
			res.Declined++
		}
		return nil
	})
	if err == nil {
		err = e.Flush(ctx) // the run's contacts are in the outbound feed when it returns
	}
	res.Elapsed = time.Since(began).Round(time.Millisecond).String()
	if err != nil {
		return res, fmt.Errorf("nba outbound run: %w", err)
	}
	return res, nil
}

// enroll records a customer a run assigned but does not contact (the holdout, or another
// arm's customers): intention to treat counts every assigned customer. Only new
// assignments are recorded; the committer ignores a customer already enrolled.
func (e *Engine) enroll(ctx context.Context, asg *assignment, cust CustomerID, now time.Time) error {
	if asg == nil || !asg.fresh {
		return nil
	}
	if e.proposing(ctx) {
		en := Enrollment{Experiment: asg.exp.exp.ID, Customer: cust, Arm: asg.arm, Assigned: now}
		raw, err := json.Marshal(en)
		if err != nil {
			return fmt.Errorf("encode enrollment: %w", err)
		}
		return e.repl.log.AppendAsync("enroll:"+string(en.Experiment)+":"+string(cust), e.repl.encodeCommand(cmdEnroll, 0, now, raw))
	}
	return e.journal.enqueue(&request{enroll: &Enrollment{Experiment: asg.exp.exp.ID, Customer: cust, Arm: asg.arm, Assigned: now}})
}

// recordBufs holds the buffers decision records are encoded into before logDecision
// copies each at its exact size: a record stays in the commit queue and the recent
// decisions until it is written, and a buffer sized for the largest record would be two
// to three times the record (4.7 KB against 1.7 KB in the load test).
var recordBufs = sync.Pool{New: func() any { return new([]byte) }}

// logDecision queues a decision for the log without a response to a client.
func (e *Engine) logDecision(ctx context.Context, d *Decision) error {
	// The record keeps feature values as float32 (decisioncodec.go). The decision in
	// memory keeps what the record keeps, so that feedback learns the same vector whether
	// it finds the decision among the recent ones or reads it from the log, and the log
	// replayed gives the served models exactly.
	record.RoundFeatures(d.Features)
	if e.proposing(ctx) {
		// A replica logs through the replicated log: every replica (this one too) writes
		// the record when it applies it. The decision is answered without waiting; until
		// its record comes back from the log, feedback finds it among the served ones.
		e.repl.served.put(d)
		if err := e.repl.log.AppendAsync(string(d.ID), e.repl.encodeCommand(cmdDecision, 0, d.Time, encodeWireDecision(d))); err != nil {
			e.repl.served.forget(d.ID)
			return errorf(ErrUnavailable, "cluster_unavailable", "the decision could not be logged to the cluster: %v", err)
		}
		return nil
	}
	buf := recordBufs.Get().(*[]byte)
	*buf = record.EncodeDecision((*buf)[:0], d, e.store.DecisionStrings())
	d.Encoded = bytes.Clone(*buf)
	recordBufs.Put(buf)
	e.recent.put(d)
	return e.journal.enqueueDecision(d)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// Outbound calls fn for each outbound contact (NBA outbound and campaign runs) on channel
// from since on, oldest first: the feed that sending systems poll.
func (e *Engine) Outbound(ctx context.Context, channel string, since time.Time, fn func(*Decision) error) error {
	if !ValidID(channel) {
		return Invalid("invalid_query", "channel: required, e.g. channel=email")
	}
	return e.store.Outbox(ctx, channel, since, fn)
}
