package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/nextbest/nextbest/experiments"
)

// addRollup adds o's counts and sums to r.
func addRollup(r, o *Rollup) {
	r.Assigned += o.Assigned
	r.Decisions += o.Decisions
	r.Contacts += o.Contacts
	r.Responses += o.Responses
	r.Responders += o.Responders
	r.Churned += o.Churned
	r.DiscountSum += o.DiscountSum
	r.DiscountSumSq += o.DiscountSumSq
	r.NPS = r.NPS.Merge(o.NPS)
	r.RevenueSum += o.RevenueSum
	r.RevenueSumSq += o.RevenueSumSq
	r.NetSum += o.NetSum
	r.NetSumSq += o.NetSumSq
}

// Outcome types for POST /v1/outcomes.
const (
	OutcomeChurn    = "churn"
	OutcomeDiscount = "retention_discount"
	OutcomeNPS      = "nps"
	OutcomeResponse = "response"
	OutcomeRevenue  = "revenue" // money received from the customer, such as a paid bill
)

// ValidateOutcome checks an outcome.
func ValidateOutcome(o *CustomerOutcome) error {
	if !ValidID(string(o.Customer)) {
		return Invalid("invalid_field", "customer_id: missing or malformed")
	}
	if o.ID != "" && !ValidID(o.ID) {
		return Invalid("invalid_field", "id: %q is malformed", truncate(o.ID, 40))
	}
	if !finite(o.Value) {
		return Invalid("invalid_number", "value: must be a finite number")
	}
	switch o.Type {
	case OutcomeChurn, OutcomeResponse:
		if o.Value == 0 {
			o.Value = 1
		}
		if o.Value != 1 {
			return Invalid("invalid_field", "value: a %s outcome has value 1 (or none)", o.Type)
		}
	case OutcomeDiscount, OutcomeRevenue:
		if o.Value < 0 || o.Value > maxActionValue {
			return Invalid("invalid_field", "value: a %s is an amount in [0, %g]", o.Type, maxActionValue)
		}
	case OutcomeNPS:
		if _, err := experiments.NPSScore(int(o.Value)); err != nil || o.Value != float64(int(o.Value)) {
			return Invalid("invalid_field", "value: an NPS answer is a whole number from 0 to 10")
		}
	default:
		return Invalid("invalid_field", "type: %q is not churn, retention_discount, revenue, nps or response", truncate(o.Type, 32))
	}
	return nil
}

// OutcomesResult says what became of a batch of outcomes.
type OutcomesResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Attributed int `json:"attributed"` // counted in an experiment (the customer is enrolled)
	// Labelled counts the open labels the outcomes marked: decisions of the customer's
	// within an objective's horizon before the outcome (labels.go).
	Labelled int `json:"labelled"`
	// Late counts outcomes of an objective that came after the horizon of every decision
	// they could be attributed to had passed: recorded and reported, but their labels were
	// already learnt, so they teach the models nothing.
	Late int `json:"late"`
}

// RecordOutcomes validates a batch of outcomes and records them durably: all or none.
func (e *Engine) RecordOutcomes(ctx context.Context, os []CustomerOutcome) (OutcomesResult, error) {
	if len(os) == 0 {
		return OutcomesResult{}, Invalid("invalid_field", "no outcomes given")
	}
	if len(os) > e.opts.Limits.MaxActionsPerRequest {
		return OutcomesResult{}, errorf(ErrTooLarge, "too_many_outcomes", "%d outcomes in one request, at most %d", len(os), e.opts.Limits.MaxActionsPerRequest)
	}
	now := e.clock.Now().UTC()
	for i := range os {
		if err := ValidateOutcome(&os[i]); err != nil {
			var ee *Error
			if errors.As(err, &ee) {
				ee.Message = fmt.Sprintf("outcomes[%d].%s", i, ee.Message)
			}
			return OutcomesResult{}, err
		}
		if os[i].Time.IsZero() {
			os[i].Time = now
		}
		os[i].Time = os[i].Time.UTC()
		if os[i].Time.After(now.Add(maxOutcomeAhead)) {
			return OutcomesResult{}, Invalid("invalid_field", "outcomes[%d].time: %s is more than %s after the engine's clock (%s): record an outcome once it has happened", i, os[i].Time.Format(time.RFC3339), maxOutcomeAhead, now.Format(time.RFC3339))
		}
		money, err := e.outcomeMoney(ctx, &os[i])
		if err != nil {
			return OutcomesResult{}, err
		}
		os[i].Money = money
	}
	if e.proposing(ctx) {
		raw, err := json.Marshal(os)
		if err != nil {
			return OutcomesResult{}, fmt.Errorf("encode outcomes: %w", err)
		}
		a, err := e.propose(ctx, cmdOutcomes, outcomesID(os), raw)
		if err == nil {
			err = a.err
		}
		if err != nil {
			return OutcomesResult{}, err
		}
		if a.res.duplicate { // a retry of a request the log holds: every outcome in it is recorded
			return OutcomesResult{Accepted: 0, Duplicates: len(os)}, nil
		}
		return a.res.outcomes, nil
	}
	res := e.journal.submit(ctx, &request{outcomes: os})
	if res.err != nil {
		return OutcomesResult{}, res.err
	}
	return res.outcomes, nil
}

// maxOutcomeAhead is how far after the engine's clock an outcome's time may be: clients'
// clocks differ by seconds, and a replay posts an hour's outcomes before it moves the
// clock to the hour's end.
const maxOutcomeAhead = 24 * time.Hour

// outcomeMoney is what an outcome is worth in the experiment report's net value: a churn
// at its objective's value for the customer (0 without a churn objective, or if the value
// cannot be evaluated for this customer, which is logged), a retention discount at minus
// its amount (counted in the tracker), nothing else.
func (e *Engine) outcomeMoney(ctx context.Context, o *CustomerOutcome) (float64, error) {
	if o.Type != OutcomeChurn {
		return 0, nil
	}
	e.mu.RLock()
	obj := e.objectives[OutcomeChurn]
	e.mu.RUnlock()
	if obj == nil {
		return 0, nil
	}
	if c, ok := obj.value.constant(); ok {
		return c, nil
	}
	profile, err := e.profile(ctx, o.Customer)
	if err != nil {
		return 0, err
	}
	machine := e.vms.Get().(*vm.VM)
	defer e.vms.Put(machine)
	env := Env{Profile: profile, Context: map[string]any{}, Customer: string(o.Customer)}
	v, err := obj.value.eval(machine, &env, true)
	if err != nil {
		e.log.Warn("the churn objective's value could not be evaluated for a customer; the churn counts 0 in the net value", "customer", o.Customer, "err", err)
		return 0, nil
	}
	return v, nil
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// tracker does the committer's experiment bookkeeping for one batch: it reads
// enrollments and rollups, updates them, and hands the changed ones to the batch.
type tracker struct {
	c       *committer
	ctx     context.Context
	enr     map[armKey]*Enrollment // read or created in this batch
	touched map[armKey]bool
	rolls   map[rollKey]*Rollup // increments in this batch
	err     error
}

type rollKey struct {
	exp ExperimentID
	day string
	arm string
}

func (c *committer) newTracker(ctx context.Context) *tracker {
	return &tracker{c: c, ctx: ctx, enr: map[armKey]*Enrollment{}, touched: map[armKey]bool{}, rolls: map[rollKey]*Rollup{}}
}

// enrollment returns a customer's enrollment, or nil if not enrolled.
func (t *tracker) enrollment(x ExperimentID, cust CustomerID) *Enrollment {
	k := armKey{x, cust}
	if en, ok := t.enr[k]; ok {
		return en
	}
	en, err := t.c.e.store.Enrollment(t.ctx, x, cust)
	switch {
	case err == nil:
		t.enr[k] = &en
		return &en
	case errors.Is(err, ErrNotFound):
		t.enr[k] = nil
		return nil
	default:
		t.err = err
		return nil
	}
}

func (t *tracker) roll(x ExperimentID, at time.Time, arm string) *Rollup {
	k := rollKey{x, day(at), arm}
	r := t.rolls[k]
	if r == nil {
		r = &Rollup{Experiment: x, Day: k.day, Arm: arm}
		t.rolls[k] = r
	}
	return r
}

// net adds delta to a customer's net value and to the arm's rollup of the day of at.
func (t *tracker) net(en *Enrollment, at time.Time, delta float64) {
	if delta == 0 || !finite(delta) {
		return
	}
	r := t.roll(en.Experiment, at, en.Arm)
	old := en.Net
	en.Net += delta
	r.NetSum += delta
	r.NetSumSq += en.Net*en.Net - old*old
}

// candidate returns the logged candidate of action id in d, or nil.
func candidate(d *Decision, id ActionID) *Candidate {
	for i := range d.Candidates {
		if d.Candidates[i].ID == id {
			return &d.Candidates[i]
		}
	}
	return nil
}

// decision counts a logged decision, enrolling the customer if this is the first.
func (t *tracker) decision(d *Decision) {
	if d.Experiment == "" {
		return
	}
	k := armKey{d.Experiment, d.CustomerID}
	en := t.enrollment(d.Experiment, d.CustomerID)
	if en == nil {
		if t.err != nil {
			return
		}
		en = &Enrollment{Experiment: d.Experiment, Customer: d.CustomerID, Arm: d.Arm, Assigned: d.Time}
		t.enr[k] = en
		t.roll(d.Experiment, d.Time, en.Arm).Assigned++
	}
	r := t.roll(d.Experiment, d.Time, en.Arm)
	r.Decisions++
	if len(d.Chosen) > 0 {
		en.Contacts++
		r.Contacts++
		if c := candidate(d, d.Chosen[0]); c != nil {
			t.net(en, d.Time, -c.ContactCost)
		}
	}
	t.touched[k] = true
}

// enrollOnly enrolls a customer that a run assigned without contacting, unless already
// enrolled.
func (t *tracker) enrollOnly(en *Enrollment) {
	if t.enrollment(en.Experiment, en.Customer) != nil || t.err != nil {
		return
	}
	k := armKey{en.Experiment, en.Customer}
	cp := *en
	t.enr[k] = &cp
	t.touched[k] = true
	t.roll(en.Experiment, en.Assigned, en.Arm).Assigned++
}

// response counts a positive response to a decision's offer of action (once per
// decision), and the value its decision logged for it in the customer's net value.
func (t *tracker) response(d *Decision, action ActionID, at time.Time) {
	if d.Experiment == "" {
		return
	}
	en := t.enrollment(d.Experiment, d.CustomerID)
	if en == nil {
		return
	}
	t.respond(en, at)
	if c := candidate(d, action); c != nil {
		t.net(en, at, c.Value)
	}
}

func (t *tracker) respond(en *Enrollment, at time.Time) {
	r := t.roll(en.Experiment, at, en.Arm)
	en.Responses++
	r.Responses++
	if !en.Responded {
		en.Responded = true
		r.Responders++
	}
	t.touched[armKey{en.Experiment, en.Customer}] = true
}

// outcome attributes a customer outcome to every experiment the customer is enrolled in
// that was running at the outcome's time. It reports whether it counted anywhere.
func (t *tracker) outcome(o *CustomerOutcome, exps []Experiment) bool {
	counted := false
	for i := range exps {
		x := &exps[i]
		if x.Started == nil || o.Time.Before(*x.Started) || (x.Stopped != nil && !o.Time.Before(*x.Stopped)) {
			continue
		}
		en := t.enrollment(x.ID, o.Customer)
		if en == nil || o.Time.Before(en.Assigned) {
			continue
		}
		counted = true
		r := t.roll(x.ID, o.Time, en.Arm)
		switch o.Type {
		case OutcomeChurn:
			if !en.Churned {
				en.Churned = true
				r.Churned++
				t.net(en, o.Time, o.Money)
			}
		case OutcomeDiscount:
			old := en.Discount
			en.Discount += o.Value
			r.DiscountSum += o.Value
			r.DiscountSumSq += en.Discount*en.Discount - old*old
			t.net(en, o.Time, -o.Value)
		case OutcomeRevenue:
			old := en.Revenue
			en.Revenue += o.Value
			r.RevenueSum += o.Value
			r.RevenueSumSq += en.Revenue*en.Revenue - old*old
		case OutcomeNPS:
			if en.NPS == nil {
				score, _ := experiments.NPSScore(int(o.Value))
				en.NPS = &score
				r.NPS.Add(score)
			}
		case OutcomeResponse:
			t.respond(en, o.Time)
		}
		t.touched[armKey{x.ID, o.Customer}] = true
	}
	return counted
}

// flush adds the changed enrollments and the rollups (merged with what is stored) to b.
func (t *tracker) flush(b *Batch) error {
	if t.err != nil {
		return t.err
	}
	for k := range t.touched {
		if en := t.enr[k]; en != nil {
			b.Enrollments = append(b.Enrollments, *en)
		}
	}
	for k, inc := range t.rolls {
		cur, err := t.c.rollup(t.ctx, k)
		if err != nil {
			return err
		}
		next := *cur
		addRollup(&next, inc)
		b.Rollups = append(b.Rollups, next)
	}
	return nil
}
