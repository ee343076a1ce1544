package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/nextbest/nextbest/bandit"
	"github.com/nextbest/nextbest/experiments"
	"github.com/nextbest/nextbest/features"
)

// DecideRequest asks for the best actions for a customer on a channel.
type DecideRequest struct {
	CustomerID CustomerID
	Channel    string
	Context    map[string]any
	RawContext json.RawMessage // the context as sent, logged verbatim
	Actions    []ActionID      // optional candidate subset
	Limit      int             // how many actions to return; default 1
	Time       time.Time       // event time; zero means the engine's clock
	Source     string          // "inbound" (default), "outbound", "campaign"
	// Arm and Experiment are filled in by the engine from the running experiment.
	Arm        string
	Experiment string
}

// Ranked is one returned action.
type Ranked struct {
	ID          ActionID `json:"id"`
	Propensity  float64  `json:"propensity"`  // posterior mean P(positive response)
	Score       float64  `json:"score"`       // Thompson-sampled P(positive) used for ranking
	Value       float64  `json:"value"`       // business value of a positive response
	Priority    float64  `json:"priority"`    // score x value x channel weight x lever
	Probability float64  `json:"probability"` // estimated P(this action ranked first | context)
	// The terms of a priced action's net value (an action with a cost, a contact cost or
	// an objective; see Candidate): absent for an action worth its response value only.
	Cost        float64 `json:"cost,omitempty"`
	ContactCost float64 `json:"contact_cost,omitempty"`
	Effect      float64 `json:"effect,omitempty"`
	EffectSD    float64 `json:"effect_sd,omitempty"`
	EffectValue float64 `json:"effect_value,omitempty"`
	NetValue    float64 `json:"net_value,omitempty"`
}

// DecideResult is the answer to a DecideRequest, best action first.
type DecideResult struct {
	DecisionID DecisionID `json:"decision_id"`
	CustomerID CustomerID `json:"customer_id"`
	Arm        string     `json:"arm"`
	Actions    []Ranked   `json:"actions"`
	NoAction   bool       `json:"no_action"`
	Reason     string     `json:"reason,omitempty"`
}

// Reasons for "no action". The contact policy's reason goes on with what it found, such
// as "contact policy: cap: 2 email contacts in 168h0m0s"; ReasonCode gives each a code.
const (
	ReasonNoEligible   = "no eligible action"
	ReasonBelowThresh  = "best priority below threshold"
	ReasonHoldout      = "holdout arm: no contact"
	ReasonContactLimit = "contact policy"
	ReasonNoCampaign   = "legacy arm: no campaign matches"
	// ReasonExploreNone is the exploration floor's "no action" (Options.NoActionFloor):
	// the best action aims at an objective, and this decision shows what doing nothing
	// does, so that the action's effect can be learnt.
	ReasonExploreNone = "exploration: no action, to learn what doing nothing does"
)

// ReasonCode returns the fixed code of a "no action" reason: no_eligible,
// below_threshold, holdout, contact_policy, no_campaign, or other. Metrics label by it,
// not by the reason, whose details (counts, windows) would make a series of each.
func ReasonCode(reason string) string {
	switch reason {
	case ReasonNoEligible:
		return "no_eligible"
	case ReasonBelowThresh:
		return "below_threshold"
	case ReasonHoldout:
		return "holdout"
	case ReasonNoCampaign:
		return "no_campaign"
	case ReasonExploreNone:
		return "explore_no_action"
	}
	if strings.HasPrefix(reason, ReasonContactLimit) {
		return "contact_policy"
	}
	return "other"
}

// scratch holds per-decision buffers, reused through a pool.
type scratch struct {
	x       features.Vector
	models  []*bandit.Model
	weights []float64
	arms    []bandit.Arm
	scores  []float64
	idx     []int
	order   []int
	states  []*actionState
	objs    []*objectiveState // each state's objective, read with the states
	terms   []netTerms        // each scored candidate's amounts
	net     []bandit.NetArm
	buf     bandit.Vector
	floored []bandit.Arm // arms and the threshold's arm (selectionProbability)
}

// netTerms are a scored candidate's amounts and, with an objective, the posterior of its
// effect and what one occurrence of the outcome is worth.
type netTerms struct {
	gain    float64 // value - cost
	contact float64
	priced  bool
	effect  bool
	money   float64 // the objective's value for this customer
	uplift  bandit.Uplift
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Decide answers one contact: it finds the customer's arm in the running experiment (if
// any), applies that arm's policy (the bandits for nba, the legacy campaign rules for
// legacy, nothing for a no-contact holdout), enforces the contact policy, and logs the
// decision. The decision is queued for a group commit; Feedback on it is accepted at once,
// because the journal writes in order.
func (e *Engine) Decide(ctx context.Context, req DecideRequest) (*DecideResult, error) {
	start := time.Now()
	if err := e.validateDecide(&req); err != nil {
		return nil, err
	}
	profile, err := e.profile(ctx, req.CustomerID)
	if err != nil {
		return nil, err
	}
	now := req.Time
	if now.IsZero() {
		now = e.clock.Now()
	}
	now = now.UTC()

	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	rng := e.decisionRNG(req.CustomerID, now, req.Channel, req.Source, "")
	defer e.releaseRNG(rng)
	machine := e.vms.Get().(*vm.VM)
	defer e.vms.Put(machine)
	env := Env{Profile: profile, Context: req.Context, Channel: req.Channel, Customer: string(req.CustomerID)}

	asg, err := e.assign(ctx, now, req.CustomerID, &env, machine)
	if err != nil {
		return nil, err
	}
	policy := experiments.PolicyNBA
	if asg != nil {
		req.Arm, req.Experiment, policy = asg.arm, string(asg.exp.exp.ID), asg.policy
	}

	e.mu.RLock()
	enc := e.enc
	states, err := e.candidates(req.Actions, sc.states[:0])
	sc.objs = sc.objs[:0]
	for _, st := range states {
		var o *objectiveState
		if st.action.Objective != "" {
			o = e.objectives[st.action.Objective]
		}
		sc.objs = append(sc.objs, o)
	}
	e.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	sc.states = states

	if _, err := enc.EncodeObserve(profile, req.Context, &sc.x); err != nil {
		return nil, errorf(ErrInvalid, "invalid_field", "%v", err)
	}

	d := &Decision{
		ID:         e.newDecisionID(now, rng),
		CustomerID: req.CustomerID,
		Channel:    req.Channel,
		Time:       now,
		Arm:        req.Arm,
		Experiment: ExperimentID(req.Experiment),
		Source:     req.Source,
		Context:    req.RawContext,
		Schema:     enc.SchemaHash(),
		Features:   features.Vector{Index: slices.Clone(sc.x.Index), Value: slices.Clone(sc.x.Value)},
		Candidates: make([]Candidate, 0, len(states)),
	}
	res := &DecideResult{DecisionID: d.ID, CustomerID: req.CustomerID, Arm: req.Arm, Actions: []Ranked{}}

	switch policy {
	case experiments.PolicyNone:
		for _, st := range states {
			d.Candidates = append(d.Candidates, Candidate{ID: st.action.ID, Filtered: "holdout"})
		}
		res.NoAction, res.Reason = true, ReasonHoldout
		d.NoActionProbability = 1
		return e.finish(ctx, d, res, start)
	case experiments.PolicyLegacy:
		e.legacyChoice(d, res, &env, machine, bandit.Vector(sc.x))
	default:
		e.nbaChoice(d, res, &req, &env, machine, sc, rng)
	}
	if len(d.Chosen) > 0 {
		reason, err := e.checkContact(ctx, req.CustomerID, req.Channel, now, true)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			for i := range d.Candidates {
				if slices.Contains(d.Chosen, d.Candidates[i].ID) {
					d.Candidates[i].Filtered, d.Candidates[i].Detail = "contact_policy", reason
				}
			}
			d.Chosen, res.Actions = nil, []Ranked{}
			res.NoAction, res.Reason = true, ReasonContactLimit+": "+reason
			d.NoActionProbability = 1 // the cap blocks any action on this channel
			return e.finish(ctx, d, res, start)
		}
		if e.opts.ImplicitNegatives {
			if t := e.opts.channel(req.Channel).Timeout; t > 0 {
				d.Deadline = now.Add(t)
			}
		}
	}
	return e.finish(ctx, d, res, start)
}

// nbaChoice fills d and res with the bandits' choice: filter by enabled, channel and
// eligibility; score by Thompson sampling; arbitrate by priority; apply the threshold.
func (e *Engine) nbaChoice(d *Decision, res *DecideResult, req *DecideRequest, env *Env, machine *vm.VM, sc *scratch, rng *mrand.Rand) {
	ch := e.opts.channel(req.Channel)
	sc.models, sc.weights, sc.idx, sc.terms = sc.models[:0], sc.weights[:0], sc.idx[:0], sc.terms[:0]
	x := bandit.Vector(sc.x)
	netMode := false
	for k, st := range sc.states {
		a := &st.action
		c := Candidate{ID: a.ID}
		switch {
		case !a.Enabled:
			c.Filtered = "disabled"
		case !offeredOn(a, req.Channel):
			c.Filtered = "channel"
		default:
			ok, err := st.elig.Eval(machine, env)
			if err != nil {
				c.Filtered, c.Detail = "eligibility", err.Error()
			} else if !ok {
				c.Filtered = "eligibility"
			}
		}
		var t netTerms
		if c.Filtered == "" {
			m := st.model.Load()
			if err := e.amounts(st, sc.objs[k], m, x, machine, env, &c, &t, &sc.buf); err != nil {
				c.Filtered, c.Detail = "amount", err.Error()
			}
		}
		if c.Filtered == "" {
			c.Weight = ch.Weight * a.Lever
			c.ModelSeq = st.seq.Load()
			sc.models = append(sc.models, st.model.Load())
			sc.weights = append(sc.weights, c.Value*c.Weight)
			sc.terms = append(sc.terms, t)
			sc.idx = append(sc.idx, len(d.Candidates))
			netMode = netMode || t.priced
		}
		d.Candidates = append(d.Candidates, c)
	}
	if len(sc.models) == 0 {
		res.NoAction, res.Reason = true, ReasonNoEligible
		d.NoActionProbability = 1
		return
	}
	if netMode {
		e.netChoice(d, res, req, sc, rng)
		return
	}

	// Score: Thompson sampling in score space (one normal draw per action), then arbitrate
	// by priority = sampled propensity x value x channel weight x lever.
	sc.arms = bandit.Prepare(sc.models, x, e.opts.Alpha, nil, sc.arms[:0])
	if cap(sc.scores) < len(sc.arms) {
		sc.scores = make([]float64, len(sc.arms))
	}
	sc.scores = sc.scores[:len(sc.arms)]
	bandit.Sample(sc.arms, rng, sc.scores)
	for i, ci := range sc.idx {
		c := &d.Candidates[ci]
		c.Propensity = sc.arms[i].Propensity() // the posterior Prepare read, not a second read
		c.Score = sc.scores[i]
		sc.arms[i].Weight = sc.weights[i]
		c.Priority = c.Score * sc.weights[i]
		sc.scores[i] = c.Priority
	}
	order := sc.order[:0]
	for i := range sc.idx {
		order = append(order, i)
	}
	sc.order = order
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sc.scores[b], sc.scores[a]) })
	for rank, i := range order {
		d.Candidates[sc.idx[i]].Rank = rank + 1
	}
	// Exploration: the greedy policy would pick the highest posterior-mean priority.
	greedy := 0
	for i := range sc.idx {
		c, g := &d.Candidates[sc.idx[i]], &d.Candidates[sc.idx[greedy]]
		if c.Propensity*c.Value*c.Weight > g.Propensity*g.Value*g.Weight {
			greedy = i
		}
	}

	threshold, limit := e.threshold(req)
	for _, i := range order {
		if len(res.Actions) == limit {
			break
		}
		c := &d.Candidates[sc.idx[i]]
		if c.Priority < threshold || c.Priority <= 0 && threshold > 0 {
			break
		}
		c.Probability = e.sel.firstResponse(sc.arms, &sc.floored, i, threshold, rng)
		if len(d.Chosen) == 0 {
			st := sc.states[sc.idx[i]] // one candidate per state, in order
			st.chosen.Add(1)
			if i != greedy {
				st.explored.Add(1)
				c.Detail = "explore"
			}
		}
		d.Chosen = append(d.Chosen, c.ID)
		res.Actions = append(res.Actions, Ranked{ID: c.ID, Propensity: c.Propensity, Score: c.Score, Value: c.Value, Priority: c.Priority, Probability: c.Probability})
	}
	if len(res.Actions) == 0 {
		res.NoAction, res.Reason = true, ReasonBelowThresh
		d.NoActionProbability = e.sel.noneResponse(sc.arms, threshold) // arms carry their weights (above)
	}
}

// threshold returns the request's threshold (inbound or outbound) and how many actions it
// may return.
func (e *Engine) threshold(req *DecideRequest) (float64, int) {
	threshold := e.opts.Threshold
	if req.Source != "inbound" {
		threshold = e.opts.OutboundThreshold
	}
	return threshold, max(req.Limit, 1)
}

// amounts evaluates a candidate's value, cost and contact cost for this customer and,
// for an action with an objective, the objective's value and the uplift model's posterior
// of the action's effect, into c and t. An amount that cannot be evaluated (a run-time
// error, a result that is not a finite number, a negative cost), or an objective that is
// not defined, is an error: the candidate is filtered with it.
func (e *Engine) amounts(st *actionState, obj *objectiveState, m *bandit.Model, x bandit.Vector, machine *vm.VM, env *Env, c *Candidate, t *netTerms, buf *bandit.Vector) error {
	a := &st.action
	v, err := st.value.eval(machine, env, false)
	if err != nil {
		return err
	}
	if a.Model.Value && m.Config().Value {
		pv, _ := m.PredictValue(x)
		v = max(pv, 0)
	}
	c.Value = v
	if !st.priced() {
		return nil
	}
	t.priced = true
	if c.Cost, err = st.cost.eval(machine, env, false); err != nil {
		return err
	}
	if c.ContactCost, err = st.contact.eval(machine, env, false); err != nil {
		return err
	}
	t.gain, t.contact = v-c.Cost, c.ContactCost
	if a.Objective == "" {
		return nil
	}
	if obj == nil || st.uplift == nil {
		return fmt.Errorf("objective: %q is not defined (PUT /v1/objectives/%s)", a.Objective, a.Objective)
	}
	if t.money, err = obj.value.eval(machine, env, true); err != nil {
		return fmt.Errorf("objective %s: %w", a.Objective, err)
	}
	t.effect = true
	t.uplift = st.uplift.model.Load().PredictUplift(x, effectScale(a.Model), buf)
	c.Effect = t.uplift.MeanEffect()
	c.EffectSD = math.Sqrt(t.uplift.EffectVariance())
	c.EffectValue = t.money * c.Effect
	return nil
}

// netChoice is nbaChoice for a decision with a priced candidate (a cost, a contact cost
// or an objective): every candidate is judged by its net value, the money it is expected
// to create against offering nothing,
//
//	net = P(accept)·(value − cost) − contact cost + Σ money per occurrence · effect,
//
// times channel weight and lever. Thompson sampling draws each candidate's net value from
// the normal with its posterior mean and α times its posterior standard deviation
// (bandit.NetArm): the response probability's moments from the response model, the
// effect's from the uplift model. The best draw wins if it is above 0 and the threshold:
// "no action" is the answer when nothing is worth more than nothing. When the winner aims
// at an objective, the exploration floor (Options.NoActionFloor) answers "no action"
// instead with that probability, so that what doing nothing does is seen in every context
// where the action is offered.
func (e *Engine) netChoice(d *Decision, res *DecideResult, req *DecideRequest, sc *scratch, rng *mrand.Rand) {
	x := bandit.Vector(sc.x)
	alpha := e.opts.Alpha
	sc.arms = bandit.Prepare(sc.models, x, alpha, nil, sc.arms[:0])
	sc.net = sc.net[:0]
	greedy := 0
	for i, ci := range sc.idx {
		c, t, arm := &d.Candidates[ci], &sc.terms[i], &sc.arms[i]
		c.Propensity = arm.Propensity()
		pm, pv := bandit.ResponseMoments(arm.Mean, arm.Var)
		mean, variance := pm*t.gain-t.contact, t.gain*t.gain*pv
		if t.effect {
			mean += c.EffectValue
			variance += t.money * t.money * c.EffectSD * c.EffectSD
		}
		c.Net = mean
		sc.net = append(sc.net, bandit.NetArm{Mean: c.Weight * mean, SD: alpha * c.Weight * math.Sqrt(variance)})
		if sc.net[i].Mean > sc.net[greedy].Mean {
			greedy = i
		}
	}
	if cap(sc.scores) < len(sc.net) {
		sc.scores = make([]float64, len(sc.net))
	}
	sc.scores = sc.scores[:len(sc.net)]
	bandit.SampleNet(sc.net, rng, sc.scores)
	order := sc.order[:0]
	for i, ci := range sc.idx {
		c := &d.Candidates[ci]
		c.Priority = sc.scores[i]
		if c.Weight != 0 {
			c.Score = c.Priority / c.Weight
		}
		order = append(order, i)
	}
	sc.order = order
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sc.scores[b], sc.scores[a]) })
	for rank, i := range order {
		d.Candidates[sc.idx[i]].Rank = rank + 1
	}
	threshold, limit := e.threshold(req)
	floor := max(threshold, 0)
	for _, i := range order {
		if len(res.Actions) == limit {
			break
		}
		c := &d.Candidates[sc.idx[i]]
		if c.Priority < threshold || c.Priority <= 0 {
			break
		}
		c.Probability = e.sel.firstNet(sc.net, i, floor)
		st := sc.states[sc.idx[i]] // one candidate per state, in order
		if len(d.Chosen) == 0 {
			if st.uplift != nil && e.opts.NoActionFloor > 0 {
				if rng.Float64() < e.opts.NoActionFloor {
					c.Detail = "explore: no action"
					res.NoAction, res.Reason = true, ReasonExploreNone
					d.NoActionProbability = e.netNoAction(sc, floor)
					return
				}
				c.Probability *= 1 - e.opts.NoActionFloor
			}
			st.chosen.Add(1)
			if i != greedy {
				st.explored.Add(1)
				c.Detail = "explore"
			}
		}
		d.Chosen = append(d.Chosen, c.ID)
		res.Actions = append(res.Actions, Ranked{ID: c.ID, Propensity: c.Propensity, Score: c.Score, Value: c.Value, Priority: c.Priority, Probability: c.Probability,
			Cost: c.Cost, ContactCost: c.ContactCost, Effect: c.Effect, EffectSD: c.EffectSD, EffectValue: c.EffectValue, NetValue: c.Net})
	}
	if len(res.Actions) == 0 {
		res.NoAction, res.Reason = true, ReasonBelowThresh
		d.NoActionProbability = e.netNoAction(sc, floor)
	}
}

// netNoAction is the probability that a net-value decision offers nothing
// (selector.noneNet): an arm aims at an objective when its action has an uplift model.
func (e *Engine) netNoAction(sc *scratch, floor float64) float64 {
	return e.sel.noneNet(sc.net, func(i int) bool { return sc.states[sc.idx[i]].uplift != nil }, floor, e.opts.NoActionFloor, nil)
}

// legacyChoice fills d and res with the legacy campaigns' choice: the highest-priority
// enabled campaign on the channel whose segment matches. The campaign's action is logged
// with the bandit's propensity too (for off-policy evaluation) and selection probability 1,
// because the legacy policy is deterministic.
func (e *Engine) legacyChoice(d *Decision, res *DecideResult, env *Env, machine *vm.VM, x bandit.Vector) {
	camps := e.matchingCampaigns(d.Channel, env, func(x *Expression) bool {
		ok, err := x.Eval(machine, env)
		return err == nil && ok
	})
	for rank, cs := range camps {
		st := e.actionState(cs.c.Action)
		c := Candidate{ID: cs.c.Action, Rank: rank + 1, Priority: cs.c.Priority, Detail: "campaign " + string(cs.c.ID)}
		switch {
		case st == nil:
			c.Filtered = "unknown_action"
		case !st.action.Enabled:
			c.Filtered = "disabled"
		default:
			c.Propensity = st.model.Load().Propensity(x)
			c.ModelSeq = st.seq.Load()
		}
		if c.Filtered == "" && len(d.Chosen) == 0 {
			c.Probability = 1
			priceFixed(st, x, machine, env, &c)
			d.Chosen = append(d.Chosen, c.ID)
			res.Actions = append(res.Actions, Ranked{ID: c.ID, Propensity: c.Propensity, Value: c.Value, Priority: c.Priority, Probability: 1,
				Cost: c.Cost, ContactCost: c.ContactCost})
		}
		d.Candidates = append(d.Candidates, c)
	}
	if len(d.Chosen) == 0 {
		res.NoAction, res.Reason = true, ReasonNoCampaign
		d.NoActionProbability = 1
	}
}

// priceFixed logs the value, cost and contact cost of an action offered by a fixed rule (a
// legacy campaign), which the experiment report counts in the arm's net value as it does
// NBA's. An amount that cannot be evaluated counts 0, and the reason joins c.Detail: the
// rule offers the action all the same.
func priceFixed(st *actionState, x bandit.Vector, machine *vm.VM, env *Env, c *Candidate) {
	var err error
	note := func(e error) {
		if e != nil {
			err = e
		}
	}
	v, e := st.value.eval(machine, env, false)
	note(e)
	if m := st.model.Load(); st.action.Model.Value && m.Config().Value {
		pv, _ := m.PredictValue(x) // the learnt value, as NBA counts it
		v = max(pv, 0)
	}
	c.Value = v
	c.Cost, e = st.cost.eval(machine, env, false)
	note(e)
	c.ContactCost, e = st.contact.eval(machine, env, false)
	note(e)
	if err != nil {
		c.Detail += "; " + err.Error()
	}
}

// actionState returns the state of an action, or nil.
func (e *Engine) actionState(id ActionID) *actionState {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.actions[id]
}

// finish logs the decision and returns the result.
func (e *Engine) finish(ctx context.Context, d *Decision, res *DecideResult, start time.Time) (*DecideResult, error) {
	res.NoAction = res.NoAction || len(res.Actions) == 0
	if res.NoAction && res.Reason == "" {
		res.Reason = ReasonBelowThresh
	}
	d.NoAction, d.Reason = res.NoAction, res.Reason
	if err := e.logDecision(ctx, d); err != nil {
		return nil, err
	}
	if e.obs != nil {
		e.obs.Decided(d, time.Since(start))
	}
	return res, nil
}

// candidates resolves the candidate subset; callers hold e.mu.
func (e *Engine) candidates(ids []ActionID, dst []*actionState) ([]*actionState, error) {
	if len(ids) == 0 {
		return append(dst, e.sorted...), nil
	}
	for _, id := range ids {
		st := e.actions[id]
		if st == nil {
			return nil, errorf(ErrNotFound, "unknown_action", "actions: no action %q", truncate(string(id), 128))
		}
		dst = append(dst, st)
	}
	return dst, nil
}

func (e *Engine) profile(ctx context.Context, id CustomerID) (map[string]any, error) {
	c, err := e.store.Customer(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return map[string]any{}, nil // a customer we have no profile for yet
	}
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	return c.Attributes, nil
}

func (e *Engine) validateDecide(r *DecideRequest) error {
	l := e.opts.Limits
	if !ValidID(string(r.CustomerID)) {
		return Invalid("invalid_field", "customer_id: want 1-128 letters, digits or . _ : @ -")
	}
	if err := e.checkChannel("channel", r.Channel); err != nil {
		return err
	}
	if err := checkTime("time", r.Time); err != nil {
		return err
	}
	if len(r.Actions) > l.MaxActionsPerRequest {
		return errorf(ErrTooLarge, "too_many_actions", "actions: %d given, at most %d", len(r.Actions), l.MaxActionsPerRequest)
	}
	if r.Limit < 0 || r.Limit > l.MaxLimit {
		return Invalid("invalid_field", "limit: must be in [0, %d]", l.MaxLimit)
	}
	if len(r.Context) > l.MaxContextFields {
		return errorf(ErrTooLarge, "too_many_fields", "context: %d fields given, at most %d", len(r.Context), l.MaxContextFields)
	}
	if err := CheckValues("context", r.Context, l.MaxStringLength, 4); err != nil {
		return err
	}
	seen := make(map[ActionID]struct{}, len(r.Actions))
	for i, id := range r.Actions {
		if _, dup := seen[id]; dup {
			return Invalid("invalid_field", "actions[%d]: %q is listed twice", i, truncate(string(id), 64))
		}
		seen[id] = struct{}{}
	}
	switch r.Source {
	case "":
		r.Source = "inbound"
	case "inbound", "outbound", "campaign":
	default:
		return Invalid("invalid_field", "source: %q is not inbound, outbound or campaign", truncate(r.Source, 20))
	}
	if r.Arm == "" {
		r.Arm = ArmNBA
	}
	return nil
}

// Arms that the engine itself knows.
const (
	ArmNBA     = "nba"
	ArmHoldout = "holdout"
)
