package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nextbest/nextbest/bandit"
	"github.com/nextbest/nextbest/experiments"
)

// Off-policy evaluation: what would other policies have earned on the decisions the
// engine logged? Evaluate reads the decision log once, re-scores each NBA decision under
// every target policy with the same selection-probability code the engine decides and
// logs with (arbitrate.go), and feeds the offpolicy package's estimators. docs/evaluation.md
// explains the estimators, the rewards and what the numbers assume.

// EvaluationProgress is how far a running evaluation has got; safe for concurrent use.
type EvaluationProgress struct {
	read, evaluated atomic.Int64
	last            atomic.Int64 // unix nanoseconds of the last decision read
}

// Read is the number of decisions read so far.
func (p *EvaluationProgress) Read() int64 { return p.read.Load() }

// Evaluated is the number of decisions evaluated so far.
func (p *EvaluationProgress) Evaluated() int64 { return p.evaluated.Load() }

// LastTime is the time of the last decision read (zero before the first).
func (p *EvaluationProgress) LastTime() time.Time {
	if n := p.last.Load(); n != 0 {
		return time.Unix(0, n).UTC()
	}
	return time.Time{}
}

// errStopRead ends the read of the decision log at the window's end.
var errStopRead = errors.New("end of the window")

// Evaluate runs an off-policy evaluation over the decision log: one pass, decisions
// decoded by the store and scored by a pool of workers, each with its own summaries,
// merged at the end (offpolicy.Summary.Merge). progress, if not nil, is updated as it
// goes. A spec that cannot be evaluated (a malformed policy, an unknown action or model
// version, an empty window) is an error with an ErrInvalid or ErrUnprocessable kind, as is
// a window that holds no NBA decision with logged selection probabilities.
func (e *Engine) Evaluate(ctx context.Context, spec EvaluationSpec, progress *EvaluationProgress) (*Evaluation, error) {
	ev, err := e.prepareEvaluation(ctx, spec)
	if err != nil {
		return nil, err
	}
	return ev.run(ctx, progress)
}

// evaluation is a prepared evaluation: the resolved spec, the compiled policies and
// the models they score with. Everything in it is read-only during the pass, except the
// replayer (the reader's) and the customer cache (locked).
type evaluation struct {
	e        *Engine
	spec     EvaluationSpec
	sel      selector
	asOf     time.Time
	schema   string
	dim      int
	policies []*evalPolicy
	// sets are the fixed model sets; sets[0] is the current models, which also give the
	// reward model q̂.
	sets []*modelSet
	// needLogged is set when some policy rebuilds the models each decision was made with.
	needLogged bool
	arms       map[ExperimentID]map[string]experiments.Policy
	// The objective the net value counts (churn), if one is defined: its compiled value,
	// its horizon, and the action whose uplift model's baseline predicts its outcome
	// without an action.
	objective *objectiveState
	horizon   time.Duration
	baseline  ActionID
	// catalog is every current action, with what the reward model needs.
	catalog   map[ActionID]*targetAction
	channels  func(string) Channel
	customers *customerCache
	started   time.Time
}

// evalPolicy is one compiled target policy.
type evalPolicy struct {
	spec PolicySpec
	// nba:
	set       int // index in evaluation.sets; -1 with models "logged"
	alpha     float64
	threshold float64
	outbound  float64
	floor     float64
	actions   map[ActionID]*targetAction
	order     []*targetAction // enabled actions in id order, for those the log did not score
}

// targetAction is an action as a target policy sees it: the current definition with the
// policy's changes.
type targetAction struct {
	action  Action
	st      *actionState // compiled eligibility and amounts
	enabled bool
	lever   float64
	value   *float64 // overrides
	cost    *float64
	contact *float64
	priced  bool
	aims    bool // aims at a defined objective (has an uplift model)
	scale   float64
}

// prepareEvaluation resolves and checks the spec, compiles the policies and loads their
// models.
func (e *Engine) prepareEvaluation(ctx context.Context, spec EvaluationSpec) (*evaluation, error) {
	spec, err := spec.resolved()
	if err != nil {
		return nil, err
	}
	if spec.Workers == 0 {
		spec.Workers = runtime.GOMAXPROCS(0)
	}
	ev := &evaluation{e: e, spec: spec, asOf: spec.AsOf, started: time.Now(), customers: newCustomerCache(1 << 18)}
	if ev.asOf.IsZero() {
		ev.asOf = e.clock.Now()
	}
	ev.asOf = ev.asOf.UTC()
	ev.spec.AsOf = ev.asOf
	sel := e.opts.selector()
	if sel.method == SelectionOff {
		sel.method = SelectionQuadrature // the log needs none; the evaluation does
	}
	ev.sel = sel
	ev.channels = func(ch string) Channel { return e.opts.channel(ch) }

	e.progMu.RLock()
	ev.arms = map[ExperimentID]map[string]experiments.Policy{}
	for id, x := range e.experiments {
		m := map[string]experiments.Policy{}
		for _, a := range x.exp.Arms {
			m[a.Name] = a.Policy
		}
		ev.arms[id] = m
	}
	e.progMu.RUnlock()

	e.mu.RLock()
	ev.schema, ev.dim = e.enc.SchemaHash(), e.enc.Dim()
	ev.catalog = map[ActionID]*targetAction{}
	for _, st := range e.sorted {
		ev.catalog[st.action.ID] = newTargetAction(st, e.objectives)
	}
	if o := e.objectives[OutcomeChurn]; o != nil {
		ev.objective, ev.horizon = o, time.Duration(o.obj.Horizon)
	}
	// The baseline of the objective's outcome comes from the uplift model that has
	// learnt from the most labels (every uplift model learns the untreated labels).
	var most int64 = -1
	for _, st := range e.sorted {
		if st.uplift != nil && ev.objective != nil && st.action.Objective == ev.objective.obj.Outcome {
			if n := st.uplift.model.Load().Health().Responses; n > most {
				most, ev.baseline = n, st.action.ID
			}
		}
	}
	e.mu.RUnlock()

	ev.sets = []*modelSet{e.currentModels()}
	for i, ps := range spec.Policies {
		p, err := ev.compile(ctx, ps)
		if err != nil {
			var ee *Error
			if errors.As(err, &ee) {
				ee.Message = fmt.Sprintf("policies[%d] (%s): %s", i, ps.Name, ee.Message)
			}
			return nil, err
		}
		ev.policies = append(ev.policies, p)
	}
	return ev, nil
}

// newTargetAction is an action as the current configuration has it.
func newTargetAction(st *actionState, objectives map[string]*objectiveState) *targetAction {
	a := st.action
	lever := a.Lever
	return &targetAction{action: a, st: st, enabled: a.Enabled, lever: lever, priced: st.priced(),
		aims: a.Objective != "" && objectives[a.Objective] != nil && st.uplift != nil, scale: effectScale(a.Model)}
}

// compile checks a policy against the catalog and the stored models.
func (ev *evaluation) compile(ctx context.Context, ps PolicySpec) (*evalPolicy, error) {
	p := &evalPolicy{spec: ps, set: 0}
	unknown := func(field string, id ActionID) error {
		return errorf(ErrUnprocessable, "unknown_action", "%s: no action %q in the catalog (GET /v1/actions lists them)", field, truncate(string(id), 64))
	}
	switch ps.Type {
	case PolicyAlways:
		if ev.catalog[ps.Action] == nil {
			return nil, unknown("action", ps.Action)
		}
		return p, nil
	case PolicyNBA:
	default:
		return p, nil
	}
	o := ev.e.opts
	p.alpha, p.threshold, p.outbound, p.floor = o.Alpha, o.Threshold, o.OutboundThreshold, o.NoActionFloor
	for dst, src := range map[*float64]*float64{&p.alpha: ps.Alpha, &p.threshold: ps.Threshold, &p.outbound: ps.OutboundThreshold, &p.floor: ps.NoActionFloor} {
		if src != nil {
			*dst = *src
		}
	}
	p.actions = map[ActionID]*targetAction{}
	for id, ta := range ev.catalog {
		c := *ta
		p.actions[id] = &c
	}
	for _, id := range slices.Sorted(maps.Keys(ps.Actions)) {
		ta := p.actions[id]
		if ta == nil {
			return nil, unknown("actions", id)
		}
		ch := ps.Actions[id]
		if ch.Enabled != nil {
			ta.enabled = *ch.Enabled
		}
		if ch.Lever != nil {
			ta.lever = *ch.Lever
		}
		ta.value, ta.cost, ta.contact = ch.Value, ch.Cost, ch.ContactCost
		cost, contact := !ta.action.Cost.IsZero(), !ta.action.ContactCost.IsZero()
		if ch.Cost != nil {
			cost = *ch.Cost != 0
		}
		if ch.ContactCost != nil {
			contact = *ch.ContactCost != 0
		}
		ta.priced = cost || contact || ta.action.Objective != ""
	}
	for _, id := range slices.Sorted(maps.Keys(p.actions)) {
		if ta := p.actions[id]; ta.enabled {
			p.order = append(p.order, ta)
		}
	}
	switch {
	case ps.Models == ModelsLogged:
		p.set = -1
		ev.needLogged = true
		if len(ps.Versions) > 0 {
			return nil, Invalid("invalid_field", "versions: models \"logged\" rebuilds every model as it was at each decision; pin versions with models \"current\" or a time")
		}
	case ps.Models == ModelsCurrent && len(ps.Versions) == 0:
		p.set = 0
	default:
		var at time.Time
		if ps.Models != ModelsCurrent {
			at, _ = time.Parse(time.RFC3339, ps.Models)
		}
		ms, err := ev.e.storedModels(ctx, at, ps.Versions)
		if err != nil {
			return nil, err
		}
		if ps.Models == ModelsCurrent { // pins over the live models
			cur := ev.sets[0]
			for id, m := range cur.response {
				if _, pinned := ps.Versions[id]; !pinned {
					ms.response[id], ms.versions[id] = m, cur.versions[id]
				}
			}
			for id, m := range cur.uplift {
				if _, pinned := ps.Versions[upliftKey(id, ev.catalog[id].action.Objective)]; !pinned {
					k := upliftKey(id, ev.catalog[id].action.Objective)
					ms.uplift[id], ms.versions[k] = m, cur.versions[k]
				}
			}
		}
		p.set = len(ev.sets)
		for i, s := range ev.sets {
			if s.key == ms.key {
				p.set = i
			}
		}
		if p.set == len(ev.sets) {
			ev.sets = append(ev.sets, ms)
		}
	}
	return p, nil
}

// evalItem is one decision on its way to a worker.
type evalItem struct {
	d     *Decision
	index uint64 // its position in the log's window: seeds its bootstrap counts
	// logged are the response logits of its candidates under the models it was made with
	// (models "logged"), by action id.
	logged []loggedArm
}

type loggedArm struct {
	id        ActionID
	mean, v   float64
	exact, ok bool
}

// run makes the pass.
func (ev *evaluation) run(ctx context.Context, progress *EvaluationProgress) (*Evaluation, error) {
	if progress == nil {
		progress = &EvaluationProgress{}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var rp *replayer
	if ev.needLogged {
		var err error
		if rp, err = ev.e.newReplayer(ctx); err != nil {
			return nil, err
		}
		defer rp.stop()
	}
	workers := make([]*evalWorker, ev.spec.Workers)
	for i := range workers {
		w, err := ev.newWorker()
		if err != nil {
			return nil, err
		}
		workers[i] = w
	}
	items := make(chan []*evalItem, 2*len(workers))
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range items {
				n := int64(0)
				for _, it := range batch {
					if w.err == nil && w.score(ctx, it) {
						n++
					}
				}
				progress.evaluated.Add(n)
				if w.err != nil {
					cancel() // stops the reader; the error is reported below
				}
			}
		}()
	}
	const batchSize = 64
	batch := make([]*evalItem, 0, batchSize)
	var index uint64
	var replayIDs []ActionID
	var replayModels []*bandit.Model
	var replayArms []bandit.Arm
	readErr := ev.e.Decisions(ctx, ev.spec.Since, func(d *Decision) error {
		if !ev.spec.Until.IsZero() && !d.Time.Before(ev.spec.Until) {
			return errStopRead
		}
		progress.read.Add(1)
		progress.last.Store(d.Time.UnixNano())
		it := &evalItem{d: d, index: index}
		index++
		if rp != nil && ev.nbaArm(d) && d.Schema == ev.schema {
			replayIDs, replayModels = replayIDs[:0], replayModels[:0]
			for i := range d.Candidates {
				c := &d.Candidates[i]
				if c.Filtered != "" && c.Filtered != "contact_policy" {
					continue // not scored: no model state was logged for it
				}
				m, exact, err := rp.model(c.ID, c.ModelSeq)
				if err != nil {
					return err
				}
				if m == nil {
					continue
				}
				replayIDs = append(replayIDs, c.ID)
				replayModels = append(replayModels, m)
				it.logged = append(it.logged, loggedArm{id: c.ID, exact: exact, ok: true})
			}
			replayArms = bandit.Prepare(replayModels, bandit.Vector(d.Features), 1, nil, replayArms[:0])
			for k := range it.logged {
				it.logged[k].mean, it.logged[k].v = replayArms[k].Mean, replayArms[k].Var
			}
		}
		batch = append(batch, it)
		if len(batch) == batchSize {
			select {
			case items <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			batch = make([]*evalItem, 0, batchSize)
		}
		return nil
	})
	if readErr == nil || errors.Is(readErr, errStopRead) {
		if len(batch) > 0 {
			items <- batch
		}
		readErr = nil
	}
	close(items)
	wg.Wait()
	for _, w := range workers {
		if w.err != nil {
			return nil, w.err
		}
	}
	if readErr != nil {
		return nil, fmt.Errorf("evaluate: read the decision log: %w", readErr)
	}
	total := workers[0]
	for _, w := range workers[1:] {
		if err := total.merge(w); err != nil {
			return nil, err
		}
	}
	progress.evaluated.Store(total.evaluated)
	return ev.result(total, progress, rp)
}

// Exclusion messages, by reason.
var exclusionMessages = map[string]string{
	excludeSource:      "decisions of other sources than the spec's",
	excludeArm:         "decisions of experiment arms that do not run the NBA policy (legacy campaigns, the holdout): fixed rules decided them, so there is nothing to re-score",
	excludeNoProb:      "NBA decisions without a logged selection probability: a log written before selection probabilities were recorded (or with engine.selection off) cannot be evaluated off-policy, so they are skipped",
	excludeSchema:      "decisions encoded with another features schema than the current one: the models cannot score them",
	excludePending:     "decisions whose channel's response timeout had not passed by as_of: their responses may still come",
	excludeNetPending:  "decisions evaluated for their response but not for their net value: the objective's horizon had not passed by as_of",
	excludeMoneyErrors: "decisions whose customer's objective value could not be evaluated (their churn counts 0 in the net value)",
}

// result assembles the result from the merged worker.
func (ev *evaluation) result(total *evalWorker, progress *EvaluationProgress, rp *replayer) (*Evaluation, error) {
	out := &Evaluation{Spec: ev.spec, AsOf: ev.asOf, Read: progress.Read(), Evaluated: total.evaluated, NetEvaluated: total.netN,
		First: total.first, Last: total.last, Excluded: []Exclusion{}, Notes: []string{}}
	for _, r := range []string{excludeSource, excludeArm, excludeNoProb, excludeSchema, excludePending, excludeNetPending, excludeMoneyErrors} {
		n := total.excluded[r]
		if n == 0 {
			continue
		}
		msg := exclusionMessages[r]
		if r == excludeArm {
			var parts []string
			for _, arm := range slices.Sorted(maps.Keys(total.armsSeen)) {
				parts = append(parts, fmt.Sprintf("%s %d", arm, total.armsSeen[arm]))
			}
			msg += " (" + strings.Join(parts, ", ") + ")"
		}
		out.Excluded = append(out.Excluded, Exclusion{Reason: r, Count: n, Message: msg})
	}
	if total.evaluated == 0 {
		window := "in the log"
		if !ev.spec.Since.IsZero() || !ev.spec.Until.IsZero() {
			window = fmt.Sprintf("between %s and %s", fmtTime(ev.spec.Since, "the start of the log"), fmtTime(ev.spec.Until, "its end"))
		}
		if out.Read == 0 {
			return nil, errorf(ErrUnprocessable, "no_decisions", "no decisions %s: there is nothing to evaluate", window)
		}
		var why []string
		for _, x := range out.Excluded {
			why = append(why, fmt.Sprintf("%d %s", x.Count, x.Message))
		}
		return nil, errorf(ErrUnprocessable, "no_decisions", "none of the %d decisions %s can be evaluated: %s", out.Read, window, strings.Join(why, "; "))
	}
	out.Rewards = []RewardInfo{{RewardResponse, "1 if the first action offered was taken (a positive response: accepted, clicked, converted), 0 if not or if nothing was offered"}}
	if ev.objective != nil {
		out.Rewards = append(out.Rewards, RewardInfo{RewardNetValue, fmt.Sprintf("the offer's value less its cost if taken, less its contact cost, plus the %s objective's value (%s) if the customer churned within %s after the decision; money as the decision logged it",
			ev.objective.obj.Outcome, moneyText(ev.objective.obj.Value), ev.objective.obj.Horizon)})
	} else {
		out.Rewards = append(out.Rewards, RewardInfo{RewardNetValue, "the offer's value less its cost if taken, less its contact cost (no objective is defined, so no churn is counted)"})
	}
	for j, p := range ev.policies {
		pr := PolicyResult{Name: p.spec.Name, Spec: p.spec, Description: ev.describe(p)}
		switch {
		case p.spec.Type != PolicyNBA:
		case p.set >= 0:
			pr.Models = ev.sets[p.set].versions
		}
		pr.Response = rewardEstimate(RewardResponse, total.resp[j])
		if total.net[j].N() > 0 {
			pr.NetValue = rewardEstimate(RewardNetValue, total.net[j])
		}
		if g := total.gaps[j]; g.n > 0 {
			pr.LoggedGap = &ProbabilityGap{Mean: NullFloat(g.sum / float64(g.n)), Max: NullFloat(g.worst),
				WithinTolerance: NullFloat(float64(g.within) / float64(g.n)), Tolerance: ev.sel.tol}
		}
		out.Policies = append(out.Policies, pr)
	}
	out.Notes = append(out.Notes,
		"Estimates are per NBA decision of the logged contexts: the mean reward had the policy made these decisions. A policy that would change which contexts come later (customers who stay or leave, contact caps, what the models learn) is not captured by it.",
		"DM and the DR family use a reward model from the current models (the live models when the evaluation started): in-sample, since they learnt from these decisions' outcomes. IPS, SNIPS and DR do not depend on it for their unbiasedness; DM does.",
		fmt.Sprintf("Intervals at %g%%: normal (CLT; delta method for SNIPS and replay) and a Poisson bootstrap of %d replicates (seed %d), which also gives each estimate's difference from the logged policy (vs_logged), paired over the same resamples.", 100*ev.spec.Level, *ev.spec.Bootstrap, ev.spec.Seed),
	)
	if rp != nil {
		out.Notes = append(out.Notes, fmt.Sprintf("Models \"logged\": the response models were rebuilt from the journal for %d candidates, %d exactly as the decision saw them and %d a little later (a decision that read its models while a batch was applied, or one before the journal's start).", rp.exact+rp.approx, rp.exact, rp.approx))
	}
	out.Seconds = time.Since(ev.started).Seconds()
	return out, nil
}

func fmtTime(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

func moneyText(m Money) string {
	if m.Expr != "" {
		return m.Expr
	}
	return fmt.Sprintf("%g", m.Const)
}

// describe says what a policy does, in words.
func (ev *evaluation) describe(p *evalPolicy) string {
	switch p.spec.Type {
	case PolicyLogged:
		return "the policy that logged each decision, with its logged probabilities (π = π₀): the sanity check, which must agree with the observed mean"
	case PolicyUniform:
		return "uniformly at random among each decision's eligible actions and no action"
	case PolicyAlways:
		return fmt.Sprintf("%s whenever it was eligible, else no action", p.spec.Action)
	}
	models := "the current models"
	switch {
	case p.set == -1:
		models = "the models each decision was made with (rebuilt from the journal)"
	case p.spec.Models != ModelsCurrent:
		models = "the models stored at " + p.spec.Models
	}
	if len(p.spec.Versions) > 0 {
		models += ", with pinned versions"
	}
	parts := []string{fmt.Sprintf("alpha %g", p.alpha), fmt.Sprintf("threshold %g", p.threshold), fmt.Sprintf("outbound threshold %g", p.outbound), fmt.Sprintf("no-action floor %g", p.floor)}
	for _, id := range slices.Sorted(maps.Keys(p.spec.Actions)) {
		c := p.spec.Actions[id]
		if c.Enabled != nil && !*c.Enabled {
			parts = append(parts, string(id)+" disabled")
		} else if c.Enabled != nil {
			parts = append(parts, string(id)+" enabled")
		}
		for _, f := range []struct {
			v    *float64
			name string
		}{{c.Value, "value"}, {c.Cost, "cost"}, {c.ContactCost, "contact cost"}, {c.Lever, "lever"}} {
			if f.v != nil {
				parts = append(parts, fmt.Sprintf("%s %s %g", id, f.name, *f.v))
			}
		}
	}
	return "the NBA policy with " + models + ": " + strings.Join(parts, ", ")
}
