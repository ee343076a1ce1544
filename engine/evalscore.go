package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/nextbest/nextbest/bandit"
	"github.com/nextbest/nextbest/experiments"
	"github.com/nextbest/nextbest/offpolicy"
)

// Scoring one logged decision for every target policy (a worker of Evaluate).
//
// The logged action a is the first action the decision offered, or "no action"; its
// logged probability π₀(a|x) is the candidate's probability, or the decision's
// no_action_probability. The rewards of a decision at time t:
//
//	response   r = 1 if a was offered and a positive response (accepted, clicked,
//	           converted) was recorded for it, else 0;
//	net value  r = 1[positive]·(value − cost) − contact cost
//	             + money · 1[the customer churned in [t, t + horizon)],
//
// with a's value, cost and contact cost as the decision logged them (0 for no action)
// and money the churn objective's value for the customer (−9 × monthly spend in the demo),
// evaluated on the customer's profile as it is when the evaluation runs (as the
// experiment report prices a churn when it is recorded). The churn term counts for
// every decision alike, whatever it offered: a policy is judged by the churn that
// follows its decisions, not only by the churn of decisions that opened a label.
//
// The reward model q̂(x, a) of DM and the DR family comes from the current models (the
// live models when the evaluation starts): in-sample, since they learnt from these very
// decisions' outcomes. For the response, q̂(x, a) = p̂(x, a), the response model's
// posterior mean propensity, and q̂(x, none) = 0. For the net value,
//
//	q̂(x, a)    = p̂(x, a)·(value − cost) − contact cost + money·(p̂₀(x) + τ̂_a(x)),
//	q̂(x, none) = money·p̂₀(x),
//
// with p̂₀ the baseline probability of churn within the horizon (the uplift model with
// the most labels, its untreated prediction) and τ̂_a the action's mean effect on it
// (its uplift model; 0 for an action without the objective, as the engine assumes).

// slot is one action of a decision: a logged candidate, or an action a policy adds.
type slot struct {
	id     ActionID
	cand   *Candidate // nil for an action the log did not list
	scored bool       // the log scored it (it was eligible)
	// The current response model's logit moments, and the propensity.
	mean, v, prop float64
	cur           bool
	// amounts the reward counts: as logged, or evaluated for an added action
	value, cost, contact float64
	// added: the log did not score it, so it is evaluated on the current profile
	// (evaluated: done; ok: eligible, with its amounts)
	added, evaluated, ok bool
	// The current uplift model's effect on the objective, if the action aims at it.
	up     bandit.Uplift
	hasUp  bool
	qResp  float64
	qNet   float64
	sets   []setArm // logits under other model sets, computed when asked for
	effect float64
}

type setArm struct {
	set     int
	mean, v float64
	up      bandit.Uplift
	hasUp   bool
}

// evalWorker scores decisions into its own summaries.
type evalWorker struct {
	ev        *evaluation
	resp, net []*offpolicy.Summary // per policy
	res       *offpolicy.Resampler
	pcg       *rand.PCG
	counts    []float64
	mcPCG     *rand.PCG
	mc        *rand.Rand
	machine   *vm.VM
	excluded  map[string]int64
	armsSeen  map[string]int64
	evaluated int64
	netN      int64
	first     time.Time
	last      time.Time
	gaps      []gapStats
	err       error

	// per decision
	item       *evalItem
	profile    map[string]any // the customer's, read for an added action
	money      float64        // the objective's value for the customer
	p0Base     float64        // p̂₀(x)
	tc         []int          // a target policy's candidates, as slot indices
	slots      []slot
	nbaIdx     []int
	models     []*bandit.Model
	arms       []bandit.Arm
	arb        arbitration
	probs      []float64
	buf        bandit.Vector
	ctxDecoded map[string]any
}

type gapStats struct {
	n, within  int64
	sum, worst float64
}

func (ev *evaluation) newWorker() (*evalWorker, error) {
	w := &evalWorker{ev: ev, machine: &vm.VM{}, excluded: map[string]int64{}, armsSeen: map[string]int64{}, gaps: make([]gapStats, len(ev.policies))}
	cfg := offpolicy.Config{Level: ev.spec.Level, Bootstrap: *ev.spec.Bootstrap}
	for range ev.policies {
		r, err := offpolicy.NewSummary(cfg)
		if err != nil {
			return nil, err
		}
		n, err := offpolicy.NewSummary(cfg)
		if err != nil {
			return nil, err
		}
		w.resp, w.net = append(w.resp, r), append(w.net, n)
	}
	w.pcg = rand.NewPCG(0, 0)
	w.res = offpolicy.NewResampler(*ev.spec.Bootstrap, w.pcg)
	w.mcPCG = rand.NewPCG(0, 0)
	w.mc = rand.New(w.mcPCG)
	return w, nil
}

// merge adds o's summaries and counts to w's.
func (w *evalWorker) merge(o *evalWorker) error {
	for j := range w.resp {
		if err := w.resp[j].Merge(o.resp[j]); err != nil {
			return err
		}
		if err := w.net[j].Merge(o.net[j]); err != nil {
			return err
		}
		g, h := &w.gaps[j], o.gaps[j]
		g.n, g.within, g.sum, g.worst = g.n+h.n, g.within+h.within, g.sum+h.sum, max(g.worst, h.worst)
	}
	for k, v := range o.excluded {
		w.excluded[k] += v
	}
	for k, v := range o.armsSeen {
		w.armsSeen[k] += v
	}
	w.evaluated += o.evaluated
	w.netN += o.netN
	if !o.first.IsZero() && (w.first.IsZero() || o.first.Before(w.first)) {
		w.first = o.first
	}
	if o.last.After(w.last) {
		w.last = o.last
	}
	return nil
}

// Exclusion reasons.
const (
	excludeSource      = "other_source"
	excludeArm         = "other_arm"
	excludeNoProb      = "no_probability"
	excludeSchema      = "schema"
	excludePending     = "pending"
	excludeNetPending  = "net_pending"
	excludeBadRecord   = "invalid_record"
	excludeMoneyErrors = "money_errors"
)

// nbaArm reports whether d was decided by the NBA policy: its experiment arm's policy,
// or, outside an experiment, NBA.
func (ev *evaluation) nbaArm(d *Decision) bool {
	if d.Experiment == "" {
		return d.Arm == ArmNBA || d.Arm == ""
	}
	if arms, ok := ev.arms[d.Experiment]; ok {
		if p, ok := arms[d.Arm]; ok {
			return p == experiments.PolicyNBA
		}
	}
	return d.Arm == ArmNBA
}

// loggedAction returns the decision's logged action ("" for none) and its logged
// probability.
func loggedAction(d *Decision) (ActionID, float64) {
	if len(d.Chosen) == 0 {
		return "", d.NoActionProbability
	}
	for i := range d.Candidates {
		if d.Candidates[i].ID == d.Chosen[0] {
			return d.Chosen[0], d.Candidates[i].Probability
		}
	}
	return d.Chosen[0], 0
}

// score scores one decision for every policy. It reports whether it was evaluated; an
// error that stops the evaluation is left in w.err.
func (w *evalWorker) score(ctx context.Context, it *evalItem) bool {
	ev, d := w.ev, it.d
	w.item, w.profile = it, nil
	if len(ev.spec.Sources) > 0 && !slices.Contains(ev.spec.Sources, d.Source) {
		w.excluded[excludeSource]++
		return false
	}
	if !ev.nbaArm(d) {
		w.excluded[excludeArm]++
		w.armsSeen[d.Arm]++
		return false
	}
	a, p0 := loggedAction(d)
	if !(p0 > 0) || math.IsNaN(p0) {
		w.excluded[excludeNoProb]++
		return false
	}
	p0 = min(p0, 1)
	if d.Schema != ev.schema {
		w.excluded[excludeSchema]++
		return false
	}
	if d.Time.Add(ev.channels(d.Channel).Timeout).After(ev.asOf) {
		w.excluded[excludePending]++
		return false
	}
	netOK := ev.objective == nil || !d.Time.Add(ev.horizon).After(ev.asOf)

	// The decision's slots: its candidates, with the current models' predictions.
	capped := d.NoAction && strings.HasPrefix(d.Reason, ReasonContactLimit)
	w.slots = w.slots[:0]
	w.ctxDecoded = nil
	x := bandit.Vector(d.Features)
	w.models, w.nbaIdx = w.models[:0], w.nbaIdx[:0]
	for i := range d.Candidates {
		c := &d.Candidates[i]
		s := slot{id: c.ID, cand: c, scored: c.Filtered == "" || c.Filtered == "contact_policy",
			value: c.Value, cost: c.Cost, contact: c.ContactCost, prop: c.Propensity}
		if m := ev.sets[0].response[c.ID]; m != nil {
			w.models = append(w.models, m)
			w.nbaIdx = append(w.nbaIdx, len(w.slots))
		}
		w.slots = append(w.slots, s)
	}
	w.arms = bandit.Prepare(w.models, x, 1, nil, w.arms[:0])
	for k, i := range w.nbaIdx {
		s := &w.slots[i]
		s.mean, s.v, s.cur = w.arms[k].Mean, w.arms[k].Var, true
		s.prop = w.arms[k].Propensity()
	}

	// Rewards.
	money, churned := 0.0, false
	if ev.objective != nil {
		info, err := ev.customers.get(ctx, ev, w.machine, d.CustomerID)
		if err != nil {
			w.err = fmt.Errorf("evaluate decision %s: %w", d.ID, err)
			return false
		}
		money, churned = info.money, info.left && !info.leftAt.Before(d.Time) && info.leftAt.Before(d.Time.Add(ev.horizon))
		if info.moneyErr {
			w.excluded[excludeMoneyErrors]++
		}
	}
	rResp, rNet := 0.0, 0.0
	if a != "" {
		if positive(d, a) {
			rResp = 1
		}
		li := w.slotOf(a)
		if li < 0 {
			w.excluded[excludeNoProb]++
			return false
		}
		s := &w.slots[li]
		rNet = rResp*(s.value-s.cost) - s.contact
	}
	if churned {
		rNet += money
	}
	w.money, w.p0Base = money, w.baseline(x)
	for i := range w.slots {
		w.qValues(&w.slots[i], money, w.p0Base, x)
	}
	qNone := money * w.p0Base

	if it.index == 0 || w.first.IsZero() || d.Time.Before(w.first) {
		w.first = d.Time
	}
	if d.Time.After(w.last) {
		w.last = d.Time
	}
	w.pcg.Seed(ev.spec.Seed, it.index)
	w.counts = w.res.Counts(w.counts)
	w.mcPCG.Seed(ev.spec.Seed^0x6d6f6e7465636172, it.index)

	for j, p := range ev.policies {
		target, mtResp, mtNet, err := w.target(ctx, p, it, a, p0, capped, money, qNone)
		if err != nil {
			w.err = fmt.Errorf("evaluate decision %s for policy %q: %w", d.ID, p.spec.Name, err)
			return false
		}
		target = min(max(target, 0), 1)
		var qa, qaNet float64
		if a == "" {
			qaNet = qNone
		} else {
			s := &w.slots[w.slotOf(a)]
			qa, qaNet = s.qResp, s.qNet
		}
		if err := w.resp[j].Add(offpolicy.Record{Reward: rResp, Logging: p0, Target: target, Model: qa, ModelTarget: mtResp}, w.counts); err != nil {
			w.err = fmt.Errorf("evaluate decision %s for policy %q: %w", d.ID, p.spec.Name, err)
			return false
		}
		if netOK {
			if err := w.net[j].Add(offpolicy.Record{Reward: rNet, Logging: p0, Target: target, Model: qaNet, ModelTarget: mtNet}, w.counts); err != nil {
				w.err = fmt.Errorf("evaluate decision %s for policy %q: %w", d.ID, p.spec.Name, err)
				return false
			}
		}
		if p.spec.Type == PolicyNBA {
			g := &w.gaps[j]
			gap := math.Abs(target - p0)
			g.n++
			g.sum += gap
			g.worst = max(g.worst, gap)
			if gap <= ev.sel.tol {
				g.within++
			}
		}
	}
	w.evaluated++
	if netOK {
		w.netN++
	} else {
		w.excluded[excludeNetPending]++
	}
	return true
}

// positive reports whether a positive response to action a of d was recorded.
func positive(d *Decision, a ActionID) bool {
	for _, o := range d.Outcomes {
		if o.Objective == "" && o.ActionID == a {
			if p, _ := o.Outcome.Positive(); p {
				return true
			}
		}
	}
	return false
}

// slotOf returns the index of action id's slot, or −1.
func (w *evalWorker) slotOf(id ActionID) int {
	for i := range w.slots {
		if w.slots[i].id == id {
			return i
		}
	}
	return -1
}

// baseline is p̂₀(x), the probability of the objective's outcome within the horizon
// without an action, by the baseline uplift model (0 without an objective).
func (w *evalWorker) baseline(x bandit.Vector) float64 {
	ev := w.ev
	if ev.objective == nil || ev.baseline == "" {
		return 0
	}
	m := ev.sets[0].uplift[ev.baseline]
	if m == nil {
		return 0
	}
	u := m.PredictUplift(x, ev.catalog[ev.baseline].scale, &w.buf)
	return bandit.Arm{Mean: u.Base, Var: u.BaseVar}.Propensity()
}

// qValues fills a slot's reward-model values (see the file's comment).
func (w *evalWorker) qValues(s *slot, money, p0 float64, x bandit.Vector) {
	ev := w.ev
	s.qResp = s.prop
	churn := p0
	if ta := ev.catalog[s.id]; ta != nil && ta.aims && ev.objective != nil {
		if m := ev.sets[0].uplift[s.id]; m != nil {
			s.up, s.hasUp = m.PredictUplift(x, ta.scale, &w.buf), true
			s.effect = s.up.MeanEffect()
			churn += s.effect
		}
	}
	s.qNet = s.prop*(s.value-s.cost) - s.contact + money*churn
}

// target returns policy p's probability of the logged action a, and the reward
// model's value of p at the decision, Σ_b π(b|x) q̂(x, b), for each reward.
func (w *evalWorker) target(ctx context.Context, p *evalPolicy, it *evalItem, a ActionID, p0 float64, capped bool, money, qNone float64) (float64, float64, float64, error) {
	if capped {
		// The contact policy blocked every offer on this channel: every policy offers
		// nothing here.
		if a == "" {
			return 1, 0, qNone, nil
		}
		return 0, 0, qNone, nil
	}
	switch p.spec.Type {
	case PolicyLogged:
		if a == "" {
			return p0, 0, qNone, nil
		}
		s := &w.slots[w.slotOf(a)]
		return p0, s.qResp, s.qNet, nil // one draw of b ~ π₀: q̂ of the logged action
	case PolicyUniform:
		k := 0
		var sr, sn float64
		for i := range w.slots {
			if s := &w.slots[i]; s.scored {
				k++
				sr += s.qResp
				sn += s.qNet
			}
		}
		u := 1 / float64(k+1)
		t := 0.0
		if a == "" {
			t = u
		} else if i := w.slotOf(a); i >= 0 && w.slots[i].scored {
			t = u
		}
		return t, u * sr, u * (sn + qNone), nil
	case PolicyAlways:
		i := w.slotOf(p.spec.Action)
		if i >= 0 && w.slots[i].scored {
			s := &w.slots[i]
			if a == p.spec.Action {
				return 1, s.qResp, s.qNet, nil
			}
			return 0, s.qResp, s.qNet, nil
		}
		if a == "" {
			return 1, 0, qNone, nil
		}
		return 0, 0, qNone, nil
	}
	return w.nbaTarget(ctx, p, it, a, money, qNone)
}

// nbaTarget is target for an "nba" policy: the decision's candidates as the policy sees
// them, scored with its models and options, and arbitrated as Decide would
// (arbitration.probabilities).
func (w *evalWorker) nbaTarget(ctx context.Context, p *evalPolicy, it *evalItem, a ActionID, money, qNone float64) (float64, float64, float64, error) {
	ev, d := w.ev, it.d
	w.tc = w.tc[:0]
	logged := len(d.Candidates)
	for i := range logged {
		ta := p.actions[w.slots[i].id]
		if ta == nil || !ta.enabled || !offeredOn(&ta.action, d.Channel) {
			continue
		}
		switch w.slots[i].cand.Filtered {
		case "", "contact_policy":
		case "eligibility", "amount":
			continue
		default: // disabled, or not offered on the channel, when it was logged
			ok, err := w.evalAdded(ctx, i, ta)
			if err != nil {
				return 0, 0, 0, err
			}
			if !ok {
				continue
			}
		}
		w.tc = append(w.tc, i)
	}
	for _, ta := range p.order {
		if !offeredOn(&ta.action, d.Channel) {
			continue
		}
		i := w.slotOf(ta.action.ID)
		if i >= 0 && i < logged {
			continue
		}
		if i < 0 {
			i = len(w.slots)
			w.slots = append(w.slots, slot{id: ta.action.ID, added: true})
		}
		ok, err := w.evalAdded(ctx, i, ta)
		if err != nil {
			return 0, 0, 0, err
		}
		if ok {
			w.tc = append(w.tc, i)
		}
	}

	arb := &w.arb
	arb.net = false
	for _, i := range w.tc {
		arb.net = arb.net || p.actions[w.slots[i].id].priced
	}
	arb.arms, arb.netArms, arb.aims = arb.arms[:0], arb.netArms[:0], arb.aims[:0]
	arb.threshold = p.threshold
	if d.Source != "inbound" {
		arb.threshold = p.outbound
	}
	arb.noActionF = p.floor
	chWeight := ev.channels(d.Channel).Weight
	for _, i := range w.tc {
		s := &w.slots[i]
		ta := p.actions[s.id]
		mean, v, up, hasUp := w.moments(p, it, i)
		value, cost, contact := s.value, s.cost, s.contact
		if ta.value != nil {
			value = *ta.value
		}
		if ta.cost != nil {
			cost = *ta.cost
		}
		if ta.contact != nil {
			contact = *ta.contact
		}
		weight := chWeight * ta.lever
		if !arb.net {
			arb.arms = append(arb.arms, bandit.Arm{Mean: mean, SD: p.alpha * math.Sqrt(v), Weight: value * weight, Var: v})
			continue
		}
		pm, pv := bandit.ResponseMoments(mean, v)
		gain := value - cost
		mu, va := pm*gain-contact, gain*gain*pv
		aims := ta.aims && ev.objective != nil
		if aims {
			eff, sd := 0.0, 0.0
			switch {
			case p.set == -1 && s.cand != nil && (s.cand.Effect != 0 || s.cand.EffectSD != 0):
				eff, sd = s.cand.Effect, s.cand.EffectSD // as the decision computed them
			case hasUp:
				eff, sd = up.MeanEffect(), math.Sqrt(up.EffectVariance())
			}
			m := money
			if s.cand != nil && s.cand.Effect != 0 {
				m = s.cand.EffectValue / s.cand.Effect // the objective's value when the decision was made
			}
			mu += m * eff
			va += m * m * sd * sd
		}
		arb.netArms = append(arb.netArms, bandit.NetArm{Mean: weight * mu, SD: p.alpha * weight * math.Sqrt(va)})
		arb.aims = append(arb.aims, aims)
	}
	n := len(w.tc)
	if cap(w.probs) < n {
		w.probs = make([]float64, n)
	}
	probs := w.probs[:n]
	none := arb.probabilities(ev.sel, probs, w.mc)
	target := 0.0
	if a == "" {
		target = none
	}
	mtResp, mtNet := 0.0, none*qNone
	for k, i := range w.tc {
		s := &w.slots[i]
		pk := min(max(probs[k], 0), 1)
		if s.id == a {
			target = pk
		}
		mtResp += pk * s.qResp
		mtNet += pk * s.qNet
	}
	return target, mtResp, mtNet, nil
}

// moments returns the response logit's mean and variance of slot i under policy p's
// models, and the uplift model's posterior if the action has one there.
func (w *evalWorker) moments(p *evalPolicy, it *evalItem, i int) (float64, float64, bandit.Uplift, bool) {
	s := &w.slots[i]
	switch {
	case p.set == 0:
		return s.mean, s.v, s.up, s.hasUp
	case p.set == -1:
		for _, la := range it.logged {
			if la.id == s.id && la.ok {
				return la.mean, la.v, s.up, s.hasUp
			}
		}
		return s.mean, s.v, s.up, s.hasUp // an action the log did not list: the current model
	}
	for _, sa := range s.sets {
		if sa.set == p.set {
			return sa.mean, sa.v, sa.up, sa.hasUp
		}
	}
	ms := w.ev.sets[p.set]
	x := bandit.Vector(it.d.Features)
	sa := setArm{set: p.set}
	if m := ms.response[s.id]; m != nil {
		w.models = append(w.models[:0], m)
		w.arms = bandit.Prepare(w.models, x, 1, nil, w.arms[:0])
		sa.mean, sa.v = w.arms[0].Mean, w.arms[0].Var
	}
	if m := ms.uplift[s.id]; m != nil {
		sa.up, sa.hasUp = m.PredictUplift(x, w.ev.catalog[s.id].scale, &w.buf), true
	}
	s.sets = append(s.sets, sa)
	return sa.mean, sa.v, sa.up, sa.hasUp
}

// evalAdded evaluates, for an action the log did not score (disabled then, or not in the
// catalog), its channel, eligibility and amounts on the logged context and the customer's
// profile as it is now, and its reward-model values; it reports whether it is eligible.
// The slot remembers the answer for the other policies.
func (w *evalWorker) evalAdded(ctx context.Context, i int, ta *targetAction) (bool, error) {
	s := &w.slots[i]
	if s.added {
		if s.evaluated {
			return s.ok, nil
		}
	}
	s.added, s.evaluated = true, true
	d := w.item.d
	if w.profile == nil {
		prof, err := w.ev.e.profile(ctx, d.CustomerID)
		if err != nil {
			return false, err
		}
		w.profile = prof
		w.ctxDecoded = map[string]any{}
		if len(d.Context) > 0 {
			_ = json.Unmarshal(d.Context, &w.ctxDecoded) // the context as sent: valid JSON when logged
		}
	}
	env := &Env{Profile: w.profile, Context: w.ctxDecoded, Channel: d.Channel, Customer: string(d.CustomerID)}
	if ok, err := ta.st.elig.Eval(w.machine, env); err != nil || !ok {
		return false, nil
	}
	var err error
	if s.value, err = ta.st.value.eval(w.machine, env, false); err != nil {
		return false, nil
	}
	if s.cost, err = ta.st.cost.eval(w.machine, env, false); err != nil {
		return false, nil
	}
	if s.contact, err = ta.st.contact.eval(w.machine, env, false); err != nil {
		return false, nil
	}
	x := bandit.Vector(d.Features)
	if m := w.ev.sets[0].response[s.id]; m != nil {
		w.models = append(w.models[:0], m)
		w.arms = bandit.Prepare(w.models, x, 1, nil, w.arms[:0])
		s.mean, s.v, s.cur, s.prop = w.arms[0].Mean, w.arms[0].Var, true, w.arms[0].Propensity()
	}
	w.qValues(s, w.money, w.p0Base, x)
	s.ok = true
	return true, nil
}

// customerCache keeps, per customer, what the net-value reward needs: the churn
// objective's value for the customer and when the customer left. It is bounded: when
// full, it starts again empty.
type customerCache struct {
	mu  sync.Mutex
	m   map[CustomerID]custInfo
	max int
}

type custInfo struct {
	money    float64
	moneyErr bool // the objective's value could not be evaluated: 0
	left     bool
	leftAt   time.Time
}

func newCustomerCache(max int) *customerCache {
	return &customerCache{m: map[CustomerID]custInfo{}, max: max}
}

// get returns the customer's entry, reading the store on a miss.
func (c *customerCache) get(ctx context.Context, ev *evaluation, machine *vm.VM, id CustomerID) (custInfo, error) {
	c.mu.Lock()
	info, ok := c.m[id]
	c.mu.Unlock()
	if ok {
		return info, nil
	}
	e := ev.e
	left, err := e.store.LeftAt(ctx, id)
	switch {
	case err == nil:
		info.left, info.leftAt = true, left
	case !errors.Is(err, ErrNotFound):
		return info, fmt.Errorf("read when customer %q left: %w", id, err)
	}
	if c, ok := ev.objective.value.constant(); ok {
		info.money = c
	} else {
		prof, err := e.profile(ctx, id)
		if err != nil {
			return info, err
		}
		env := &Env{Profile: prof, Context: map[string]any{}, Customer: string(id)}
		if info.money, err = ev.objective.value.eval(machine, env, true); err != nil {
			info.money, info.moneyErr = 0, true
		}
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[id] = info
	c.mu.Unlock()
	return info, nil
}
