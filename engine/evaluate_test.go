package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/offpolicy"
	"github.com/nextbest/nextbest/store"
)

// opeWorld is a seeded world for the evaluation tests: customers in two segments, sent
// in the context, and actions whose true response probabilities depend on the segment.
type opeWorld struct {
	rates  map[string]map[engine.ActionID]float64 // segment -> action -> P(accept)
	values map[engine.ActionID]float64
}

// In both segments the three actions' expected values (rate × value) are within a few
// units of each other (a: 10, 9, 8; b: 6, 7.2, 8), so that the logging policy keeps
// exploring all of them and every target policy has overlap with it.
var testWorld = opeWorld{
	rates: map[string]map[engine.ActionID]float64{
		"a": {"upsell": 0.20, "fix": 0.15, "bill": 0.20},
		"b": {"upsell": 0.12, "fix": 0.12, "bill": 0.20},
	},
	values: map[engine.ActionID]float64{"upsell": 50, "fix": 60, "bill": 40},
}

// loggedDecision is what the test knows of a decision it logged.
type loggedDecision struct {
	id       engine.DecisionID
	seg      string
	chosen   engine.ActionID // "" for none
	accepted bool
}

// logWorld puts the world's actions and logs n decisions through the engine, answering
// each offer as the world says (accepted or rejected, at once), one decision a second
// from t0. It returns the decisions and the time by which their responses are all in.
func logWorld(t *testing.T, h *harness, w opeWorld, n int, seed uint64) ([]loggedDecision, time.Time) {
	t.Helper()
	return logWorldAt(t, h, w, n, seed, t0, nil)
}

// logWorldAt is logWorld from time from, with the segment of decision i from segOf (nil:
// at random). It puts the world's actions that are not in the catalog yet.
func logWorldAt(t *testing.T, h *harness, w opeWorld, n int, seed uint64, from time.Time, segOf func(i int) string) ([]loggedDecision, time.Time) {
	t.Helper()
	ctx := context.Background()
	for id, v := range w.values {
		if _, err := h.eng.Action(id); err == nil {
			continue
		}
		if _, err := h.eng.PutAction(ctx, engine.Action{ID: id, Value: v, Enabled: true, Lever: 1}); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []loggedDecision
	at := from
	for i := range n {
		at = from.Add(time.Duration(i) * time.Second)
		seg := "a"
		if rng.IntN(2) == 1 {
			seg = "b"
		}
		if segOf != nil {
			seg = segOf(i)
		}
		res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", rng.IntN(200))), Channel: "web",
			Context: map[string]any{"seg": seg}, RawContext: []byte(`{"seg":"` + seg + `"}`), Time: at})
		if err != nil {
			t.Fatal(err)
		}
		ld := loggedDecision{id: res.DecisionID, seg: seg}
		if !res.NoAction {
			ld.chosen = res.Actions[0].ID
			ld.accepted = rng.Float64() < w.rates[seg][ld.chosen]
			o := engine.Rejected
			if ld.accepted {
				o = engine.Accepted
			}
			if _, err := h.eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: res.DecisionID, ActionID: ld.chosen, Outcome: o, Time: at}); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, ld)
	}
	if err := h.eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return out, at.Add(time.Hour) // web's response timeout is 30 minutes
}

// estimate returns a policy's estimate of method m for a reward.
func estimate(t *testing.T, ev *engine.Evaluation, policy string, reward string, m offpolicy.Method) engine.EstimateResult {
	t.Helper()
	for _, p := range ev.Policies {
		if p.Name != policy {
			continue
		}
		r := p.Response
		if reward == engine.RewardNetValue {
			r = p.NetValue
		}
		if r == nil {
			t.Fatalf("policy %q has no %s estimate", policy, reward)
		}
		e, ok := r.Estimate(m)
		if !ok {
			t.Fatalf("policy %q has no %s estimate", policy, m)
		}
		return e
	}
	t.Fatalf("no policy %q in the result", policy)
	return engine.EstimateResult{}
}

func policyResult(t *testing.T, ev *engine.Evaluation, name string) engine.PolicyResult {
	t.Helper()
	for _, p := range ev.Policies {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no policy %q in the result", name)
	return engine.PolicyResult{}
}

// loggedProbTol is how far a re-scored selection probability may be from the logged one
// when the policy and its models are the logged ones: the log keeps probabilities as
// float32 (engine/decisioncodec.go, format 4), whose rounding of a probability in [0.5, 1)
// is at most half an ulp, 2^-25 ≈ 2.98e-8, plus the re-scoring's own error (1e-9, the
// bound this test held while the log kept float64).
var loggedProbTol = math.Ldexp(1, -25) + 1e-9

// TestEvaluateLoggedPolicy is issue 17's sanity check on a log the engine wrote: the
// logged policy evaluated on its own log (π = π₀, every weight 1) gives IPS, SNIPS and DR
// equal to the observed mean reward (to rounding, 1e-12), and the observed mean is the
// share of decisions this test saw accepted. And the NBA policy with the logged
// configuration, re-scored with the models each decision was made with (rebuilt from
// the journal), gives every logged action the probability the engine logged: the
// re-scoring is the engine's own arbitration on the engine's own models (to 1e-9; the
// quadrature is deterministic, so only rounding differs).
func TestEvaluateLoggedPolicy(t *testing.T) {
	for _, threshold := range []float64{0, 12} {
		t.Run(fmt.Sprintf("threshold %g", threshold), func(t *testing.T) {
			h := newHarness(t, t.TempDir(), func(o *engine.Options) { o.Threshold = threshold; o.Seed = 3 })
			logged, asOf := logWorld(t, h, testWorld, 1500, 1)
			accepted := 0
			none := 0
			for _, d := range logged {
				if d.accepted {
					accepted++
				}
				if d.chosen == "" {
					none++
				}
			}
			if threshold > 0 && none == 0 {
				t.Fatal("no decision offered nothing: the threshold does not bite, and the test checks no-action probabilities")
			}
			ev, err := h.eng.Evaluate(context.Background(), engine.EvaluationSpec{AsOf: asOf, Policies: []engine.PolicySpec{
				{Name: "logged", Type: engine.PolicyLogged},
				{Name: "replayed", Type: engine.PolicyNBA, Models: engine.ModelsLogged},
			}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Evaluated != int64(len(logged)) {
				t.Fatalf("evaluated %d decisions of %d (excluded: %+v)", ev.Evaluated, len(logged), ev.Excluded)
			}
			want := float64(accepted) / float64(len(logged))
			for _, m := range []offpolicy.Method{offpolicy.MethodObserved, offpolicy.MethodIPS, offpolicy.MethodSNIPS, offpolicy.MethodDR} {
				if got := float64(estimate(t, ev, "logged", engine.RewardResponse, m).Value); math.Abs(got-want) > 1e-12 {
					t.Errorf("logged policy, %s: %.15f, want the observed %.15f", m, got, want)
				}
			}
			gap := policyResult(t, ev, "replayed").LoggedGap
			if gap == nil || float64(gap.Max) > loggedProbTol {
				t.Errorf("re-scored logged configuration: probability gap %+v, want at most %g", gap, loggedProbTol)
			}
			// With the same probabilities the weights are 1: IPS equals the observed mean.
			if got := float64(estimate(t, ev, "replayed", engine.RewardResponse, offpolicy.MethodIPS).Value); math.Abs(got-want) > 1e-6 {
				t.Errorf("re-scored logged configuration, IPS %.9f, want the observed %.9f", got, want)
			}
		})
	}
}

// TestEvaluateAgainstTruth evaluates three target policies on a log the engine wrote in a
// seeded world whose response probabilities the test knows, and holds IPS, SNIPS and DR
// to the truth within 4 standard errors (the estimate's and the truth's own Monte Carlo
// error, combined):
//
//   - uniform at random over the three actions and no action: the truth is, per logged
//     context, the mean of the three true rates and 0;
//   - always "fix": the truth is fix's true rate in each logged context;
//   - the NBA policy with other options (alpha 0.25, threshold 10) and the models as
//     they are after the log: the truth is measured online, independently of the
//     evaluation's probabilities, by running that policy on the frozen models (the
//     engine restarted with those options, no feedback) 4,000 times per segment and
//     weighting each segment's true rates by how often it chose each action.
func TestEvaluateAgainstTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("logs 3,000 decisions and runs 8,000 more")
	}
	h := newHarness(t, t.TempDir(), func(o *engine.Options) { o.Alpha = 1; o.Threshold = 7; o.Seed = 5 })
	logged, asOf := logWorld(t, h, testWorld, 6000, 2)
	alpha, threshold := 0.25, 7.5
	ev, err := h.eng.Evaluate(context.Background(), engine.EvaluationSpec{AsOf: asOf, Policies: []engine.PolicySpec{
		{Name: "uniform", Type: engine.PolicyUniform},
		{Name: "always fix", Type: engine.PolicyAlways, Action: "fix"},
		{Name: "nba", Type: engine.PolicyNBA, Alpha: &alpha, Threshold: &threshold},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Evaluated != int64(len(logged)) {
		t.Fatalf("evaluated %d decisions of %d (excluded: %+v)", ev.Evaluated, len(logged), ev.Excluded)
	}

	// The NBA policy's choice frequencies per segment, online, on the frozen models.
	h.stop()
	h.start(func(o *engine.Options) { o.Alpha = alpha; o.Threshold = threshold; o.Seed = 11 })
	const runs = 4000
	freq := map[string]map[engine.ActionID]float64{}
	for _, seg := range []string{"a", "b"} {
		freq[seg] = map[engine.ActionID]float64{}
		for i := range runs {
			res, err := h.eng.Decide(context.Background(), engine.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("f%d", i)), Channel: "web",
				Context: map[string]any{"seg": seg}, Time: asOf.Add(time.Duration(i) * time.Second)})
			if err != nil {
				t.Fatal(err)
			}
			if !res.NoAction {
				freq[seg][res.Actions[0].ID] += 1.0 / runs
			}
		}
	}
	truths := map[string]func(seg string) float64{
		"uniform": func(seg string) float64 {
			s := 0.0
			for _, r := range testWorld.rates[seg] {
				s += r
			}
			return s / 4
		},
		"always fix": func(seg string) float64 { return testWorld.rates[seg]["fix"] },
		"nba": func(seg string) float64 {
			s := 0.0
			for a, f := range freq[seg] {
				s += f * testWorld.rates[seg][a]
			}
			return s
		},
	}
	for name, truth := range truths {
		// The world keeps the logging policy exploring, so the weights are tame: a warning
		// here would mean the comparison below is not the one intended.
		if w := policyResult(t, ev, name).Response.Warnings; len(w) > 0 {
			t.Errorf("%s: warnings %+v", name, w)
		}
		// The truth over the logged contexts, and its Monte Carlo standard error (the NBA
		// policy's frequencies; the others are exact).
		var v, mcVar float64
		for _, d := range logged {
			v += truth(d.seg) / float64(len(logged))
		}
		if name == "nba" {
			for _, seg := range []string{"a", "b"} {
				share := 0.0
				for _, d := range logged {
					if d.seg == seg {
						share += 1.0 / float64(len(logged))
					}
				}
				// Var of Σ_a f_a r_a with multinomial frequencies over runs: (E[r²] − E[r]²)/runs.
				var m1, m2 float64
				for a, f := range freq[seg] {
					r := testWorld.rates[seg][a]
					m1 += f * r
					m2 += f * r * r
				}
				mcVar += share * share * (m2 - m1*m1) / runs
			}
		}
		for _, m := range []offpolicy.Method{offpolicy.MethodIPS, offpolicy.MethodSNIPS, offpolicy.MethodDR} {
			e := estimate(t, ev, name, engine.RewardResponse, m)
			se := math.Sqrt(float64(e.SE)*float64(e.SE) + mcVar)
			t.Logf("%-10s %-5s %.4f ± %.4f, truth %.4f", name, m, float64(e.Value), float64(e.SE), v)
			if !(se < 0.03) {
				t.Errorf("%s %s: standard error %.4f is too wide for the test to mean anything", name, m, se)
			}
			if math.Abs(float64(e.Value)-v) > 4*se {
				t.Errorf("%s %s: %.4f, truth %.4f (4 standard errors: %.4f)", name, m, float64(e.Value), v, 4*se)
			}
		}
	}
}

// TestEvaluateNetValue holds the net-value reward to a computation typed in from its
// definition (docs/evaluation.md): for each decision whose churn horizon has passed by
// as_of, r = 1[accepted]·(value − cost) − contact cost + (−100)·1[churned within 24 h
// after it], with the amounts the decision logged; the logged policy's observed mean is
// the mean of those. Ten customers, one decision each an hour apart; the even ones accept.
// c1 churns 2 hours after its decision (counted), c3 two days after (not counted), c5
// had left an hour before its first decision (not counted), and the last three decisions'
// horizons have not passed by as_of (left out of the net value, counted, but in the
// response, whose 30-minute timeout has passed).
func TestEvaluateNetValue(t *testing.T) {
	h := newHarness(t, t.TempDir(), func(o *engine.Options) { o.Seed = 9 })
	ctx := context.Background()
	churnSetup(t, h) // objective churn, value −100, horizon 24 h; "save": cost 10, aims at churn
	if _, err := h.eng.PutAction(ctx, engine.Action{ID: "offer", Value: 40, ContactCost: engine.Money{Const: 1}, Enabled: true, Lever: 1}); err != nil {
		t.Fatal(err)
	}
	churn := func(c string, at time.Time) {
		h.clock.Set(at)
		if _, err := h.eng.RecordOutcomes(ctx, []engine.CustomerOutcome{{Customer: engine.CustomerID(c), Type: engine.OutcomeChurn, Time: at}}); err != nil {
			t.Fatal(err)
		}
	}
	churn("c5", t0.Add(4*time.Hour))
	type row struct {
		d        *engine.Decision
		accepted bool
		churned  bool
	}
	var rows []row
	for k := range 10 {
		at := t0.Add(time.Duration(k) * time.Hour)
		if k != 5 {
			h.clock.Set(at)
		}
		c := fmt.Sprintf("c%d", k)
		res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(c), Channel: "web", Time: at})
		if err != nil {
			t.Fatal(err)
		}
		r := row{accepted: k%2 == 0 && !res.NoAction, churned: k == 1}
		if r.accepted {
			if _, err := h.eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: res.DecisionID, ActionID: res.Actions[0].ID, Outcome: engine.Accepted, Time: at}); err != nil {
				t.Fatal(err)
			}
		}
		if k == 1 {
			churn(c, at.Add(2*time.Hour))
		}
		if err := h.eng.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if r.d, err = h.eng.Decision(ctx, res.DecisionID); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	churn("c3", t0.Add(3*time.Hour+48*time.Hour))
	asOf := t0.Add(30 * time.Hour) // horizons of the decisions at hours 0 to 6 have passed

	var want, wantResp float64
	nNet := 0
	for k, r := range rows {
		reward := 0.0
		if len(r.d.Chosen) > 0 {
			for _, c := range r.d.Candidates {
				if c.ID == r.d.Chosen[0] {
					if r.accepted {
						reward += c.Value - c.Cost
						wantResp++
					}
					reward -= c.ContactCost
				}
			}
		}
		if r.churned {
			reward -= 100
		}
		if k <= 6 {
			want += reward
			nNet++
		}
	}
	want /= float64(nNet)
	wantResp /= float64(len(rows))
	ev, err := h.eng.Evaluate(ctx, engine.EvaluationSpec{AsOf: asOf, Policies: []engine.PolicySpec{{Name: "logged", Type: engine.PolicyLogged}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Evaluated != 10 || ev.NetEvaluated != int64(nNet) {
		t.Fatalf("evaluated %d decisions, %d for net value; want 10 and %d (excluded %+v)", ev.Evaluated, ev.NetEvaluated, nNet, ev.Excluded)
	}
	if got := float64(estimate(t, ev, "logged", engine.RewardNetValue, offpolicy.MethodObserved).Value); math.Abs(got-want) > 1e-9 {
		t.Errorf("net value %.9f, want %.9f", got, want)
	}
	if got := float64(estimate(t, ev, "logged", engine.RewardResponse, offpolicy.MethodObserved).Value); math.Abs(got-wantResp) > 1e-12 {
		t.Errorf("response %.9f, want %.9f", got, wantResp)
	}
	found := false
	for _, x := range ev.Excluded {
		if x.Reason == "net_pending" {
			found = x.Count == 3
		}
	}
	if !found {
		t.Errorf("excluded %+v, want 3 decisions net_pending", ev.Excluded)
	}
}

// TestEvaluateStoppedEngine evaluates a store through an engine that is opened but not
// running, as `nextbest evaluate --data` does on a stopped server's store: reading the log
// must not wait for a group commit that no Run will make (it did, after Engine.Decisions
// began to flush first), and gives the same result as the running engine.
func TestEvaluateStoppedEngine(t *testing.T) {
	h := newHarness(t, t.TempDir(), func(o *engine.Options) { o.Seed = 3 })
	logged, asOf := logWorld(t, h, testWorld, 300, 4)
	b := 0
	spec := engine.EvaluationSpec{AsOf: asOf, Bootstrap: &b, Policies: []engine.PolicySpec{{Type: engine.PolicyLogged}, {Type: engine.PolicyUniform}}}
	running, err := h.eng.Evaluate(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.stop()
	eng, err := engine.New(engine.DefaultOptions(), h.es, h.clock, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stopped, err := eng.Evaluate(ctx, spec, nil)
	if err != nil {
		t.Fatalf("evaluate on an engine that is not running: %v", err)
	}
	if stopped.Evaluated != int64(len(logged)) || stopped.Evaluated != running.Evaluated {
		t.Errorf("evaluated %d decisions, the running engine %d, logged %d", stopped.Evaluated, running.Evaluated, len(logged))
	}
	for i := range running.Policies {
		a, _ := running.Policies[i].Response.Estimate(offpolicy.MethodIPS)
		b, _ := stopped.Policies[i].Response.Estimate(offpolicy.MethodIPS)
		if math.Abs(float64(a.Value-b.Value)) > 1e-12 {
			t.Errorf("%s: IPS %v on the stopped engine, %v on the running one", running.Policies[i].Name, b.Value, a.Value)
		}
	}
}

// TestEvaluateBadInput: every spec that cannot be evaluated is an error of the kind the
// API maps to a 4xx, with a code and a message that says what is wrong, before any
// decision is read; a window without decisions and a log written before selection
// probabilities were recorded are clear errors too (issue 17, must-show 7).
func TestEvaluateBadInput(t *testing.T) {
	h := newHarness(t, t.TempDir(), func(o *engine.Options) { o.Selection = engine.SelectionOff; o.Seed = 2 })
	ctx := context.Background()
	_, asOf := logWorld(t, h, testWorld, 40, 3) // logged with selection probabilities off
	neg, big := -1.0, 5000
	yes := true
	logged := []engine.PolicySpec{{Type: engine.PolicyLogged}}
	for _, tc := range []struct {
		name string
		spec engine.EvaluationSpec
		kind error
		code string
		says string
	}{
		{"empty window", engine.EvaluationSpec{Since: t0.Add(time.Hour), Until: t0, Policies: logged}, engine.ErrInvalid, "empty_window", "is not before until"},
		{"no decisions in the window", engine.EvaluationSpec{Since: t0.Add(-48 * time.Hour), Until: t0.Add(-24 * time.Hour), Policies: logged}, engine.ErrUnprocessable, "no_decisions", "no decisions between"},
		{"no policies", engine.EvaluationSpec{}, engine.ErrInvalid, "invalid_field", "policies: none given"},
		{"unknown type", engine.EvaluationSpec{Policies: []engine.PolicySpec{{Type: "greedy"}}}, engine.ErrInvalid, "invalid_field", `"greedy" is not one of`},
		{"always an unknown action", engine.EvaluationSpec{Policies: []engine.PolicySpec{{Type: engine.PolicyAlways, Action: "nope"}}}, engine.ErrUnprocessable, "unknown_action", `no action "nope"`},
		{"nba changes an unknown action", engine.EvaluationSpec{Policies: []engine.PolicySpec{{Type: engine.PolicyNBA, Actions: map[engine.ActionID]engine.ActionChange{"nope": {Enabled: &yes}}}}}, engine.ErrUnprocessable, "unknown_action", `no action "nope"`},
		{"a negative alpha", engine.EvaluationSpec{Policies: []engine.PolicySpec{{Type: engine.PolicyNBA, Alpha: &neg}}}, engine.ErrInvalid, "invalid_field", "alpha: -1"},
		{"models neither current, logged nor a time", engine.EvaluationSpec{Policies: []engine.PolicySpec{{Type: engine.PolicyNBA, Models: "yesterday"}}}, engine.ErrInvalid, "invalid_field", `"yesterday" is not`},
		{"an unknown model", engine.EvaluationSpec{Policies: []engine.PolicySpec{{Type: engine.PolicyNBA, Versions: map[engine.ActionID]uint64{"nope": 1}}}}, engine.ErrUnprocessable, "unknown_model", `no model "nope"`},
		{"an unknown version", engine.EvaluationSpec{Policies: []engine.PolicySpec{{Type: engine.PolicyNBA, Versions: map[engine.ActionID]uint64{"fix": 999}}}}, engine.ErrUnprocessable, "unknown_version", "no stored version 999"},
		{"a field of another type", engine.EvaluationSpec{Policies: []engine.PolicySpec{{Type: engine.PolicyUniform, Alpha: &neg}}}, engine.ErrInvalid, "invalid_field", `belong to an "nba" policy`},
		{"a name twice", engine.EvaluationSpec{Policies: []engine.PolicySpec{{Type: engine.PolicyUniform}, {Type: engine.PolicyUniform}}}, engine.ErrInvalid, "invalid_field", "used twice"},
		{"too many replicates", engine.EvaluationSpec{Bootstrap: &big, Policies: logged}, engine.ErrInvalid, "invalid_field", "bootstrap: 5000"},
		{"a log without selection probabilities", engine.EvaluationSpec{AsOf: asOf, Policies: logged}, engine.ErrUnprocessable, "no_decisions", "a log written before selection probabilities were recorded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.eng.Evaluate(ctx, tc.spec, nil)
			if !errors.Is(err, tc.kind) || engine.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %v (code %q), want %v with code %q saying %q", err, engine.ErrorCode(err), tc.kind, tc.code, tc.says)
			}
		})
	}

	// The same log with decisions that do have probabilities after them: those are
	// evaluated, and the earlier ones counted as skipped, with the reason.
	h.stop()
	h.start(func(o *engine.Options) { o.Seed = 4 })
	ld, asOf2 := logWorld(t, h, testWorld, 60, 4)
	ev, err := h.eng.Evaluate(ctx, engine.EvaluationSpec{AsOf: asOf2, Policies: logged}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var skipped engine.Exclusion
	for _, x := range ev.Excluded {
		if x.Reason == "no_probability" {
			skipped = x
		}
	}
	if ev.Evaluated != int64(len(ld)) || skipped.Count == 0 || !strings.Contains(skipped.Message, "a log written before selection probabilities were recorded") {
		t.Errorf("evaluated %d (want %d), excluded %+v: want the earlier decisions skipped with the reason", ev.Evaluated, len(ld), ev.Excluded)
	}
}

// gatedStore holds every read of the decision log until its gate is closed or the read's
// context ends, so that a test can hold an evaluation job running.
type gatedStore struct {
	*store.Store
	mu   sync.Mutex
	gate chan struct{}
}

// hold makes the next reads wait for the gate returned; close it to let them go.
func (g *gatedStore) hold() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
	return g.gate
}

func (g *gatedStore) Decisions(ctx context.Context, since time.Time, fn func(*engine.Decision) error) error {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	select {
	case <-gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Store.Decisions(ctx, since, fn)
}

// TestEvaluationJobs runs evaluations as background jobs: a job reports its progress and,
// done, the same result as Evaluate called directly; a cancelled job stops and says so; at
// most MaxRunningEvaluations run at once and MaxEvaluationJobs are kept; a bad spec is an
// error at submission, and a window without decisions fails the job with its reason.
func TestEvaluationJobs(t *testing.T) {
	var gs *gatedStore
	h := newHarnessOn(t, t.TempDir(), func(o *engine.Options) { o.Seed = 6 }, func(st *store.Store) engine.Store {
		gs = &gatedStore{Store: st}
		return gs
	})
	ctx := context.Background()
	close(gs.hold())
	_, asOf := logWorld(t, h, testWorld, 300, 5)
	spec := engine.EvaluationSpec{AsOf: asOf, Policies: []engine.PolicySpec{{Type: engine.PolicyLogged}, {Type: engine.PolicyUniform}}}
	wait := func(id string) engine.EvaluationJob {
		t.Helper()
		for range 2000 {
			j, err := h.eng.EvaluationJob(id)
			if err != nil {
				t.Fatal(err)
			}
			if j.State != engine.JobRunning {
				return j
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("job %s still running after 10 s", id)
		return engine.EvaluationJob{}
	}
	j, err := h.eng.StartEvaluation(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	done := wait(j.ID)
	direct, err := h.eng.Evaluate(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != engine.JobDone || done.Result == nil || done.Progress.Read != 300 || done.Progress.Evaluated != 300 {
		t.Fatalf("job %+v: want done with 300 decisions read and evaluated", done)
	}
	for _, name := range []string{"logged", "uniform"} {
		a := estimate(t, done.Result, name, engine.RewardResponse, offpolicy.MethodDR)
		b := estimate(t, direct, name, engine.RewardResponse, offpolicy.MethodDR)
		if math.Abs(float64(a.Value-b.Value)) > 1e-12 || math.Abs(float64(a.Bootstrap.Lo-b.Bootstrap.Lo)) > 1e-12 {
			t.Errorf("%s: the job's DR %+v differs from Evaluate's %+v", name, a, b)
		}
	}

	// Held jobs: two run, a third is refused; cancelling one stops it.
	gate := gs.hold()
	var held []string
	for range engine.MaxRunningEvaluations {
		j, err := h.eng.StartEvaluation(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, j.ID)
	}
	if _, err := h.eng.StartEvaluation(ctx, spec); !errors.Is(err, engine.ErrRateLimited) || engine.ErrorCode(err) != "too_many_evaluations" {
		t.Errorf("a job beyond the running limit: %v, want too_many_evaluations", err)
	}
	c, err := h.eng.CancelEvaluation(held[0])
	if err != nil || c.State != engine.JobCancelled || c.Error == nil {
		t.Errorf("cancelled job %+v (%v), want state cancelled with its reason", c, err)
	}
	close(gate)
	if j := wait(held[1]); j.State != engine.JobDone {
		t.Errorf("the other held job ended %s, want done", j.State)
	}
	if _, err := h.eng.CancelEvaluation("ev-nope"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("cancel an unknown job: %v, want not found", err)
	}

	// A bad spec is refused at submission; a window without decisions fails the job.
	if _, err := h.eng.StartEvaluation(ctx, engine.EvaluationSpec{Policies: []engine.PolicySpec{{Type: engine.PolicyAlways, Action: "nope"}}}); engine.ErrorCode(err) != "unknown_action" {
		t.Errorf("a policy naming an unknown action: %v, want unknown_action at submission", err)
	}
	empty, err := h.eng.StartEvaluation(ctx, engine.EvaluationSpec{Until: t0.Add(-time.Hour), Policies: spec.Policies})
	if err != nil {
		t.Fatal(err)
	}
	if j := wait(empty.ID); j.State != engine.JobFailed || j.Error == nil || j.Error.Code != "no_decisions" {
		t.Errorf("job over an empty window: %+v, want failed with no_decisions", j)
	}

	// The number kept is bounded: the oldest finished jobs make room.
	for range engine.MaxEvaluationJobs + 3 {
		j, err := h.eng.StartEvaluation(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		wait(j.ID)
	}
	if n := len(h.eng.EvaluationJobs()); n != engine.MaxEvaluationJobs {
		t.Errorf("%d jobs kept, want %d", n, engine.MaxEvaluationJobs)
	}
}

// TestEvaluateStoredModels: an "nba" policy with models at a time scores with each
// model's newest version stored by then, the same as pinning those versions by number;
// and it is another policy than the one with the current models.
func TestEvaluateStoredModels(t *testing.T) {
	h := newHarness(t, t.TempDir(), func(o *engine.Options) { o.Seed = 8 })
	ctx := context.Background()
	logWorldAt(t, h, testWorld, 400, 6, t0, nil)
	t1 := t0.Add(time.Hour)
	h.clock.Set(t1)
	if _, err := h.eng.Snapshot(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	_, asOf := logWorldAt(t, h, testWorld, 1200, 7, t1.Add(time.Minute), nil)
	h.clock.Set(asOf)
	if _, err := h.eng.Snapshot(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	pins := map[engine.ActionID]uint64{}
	for id := range testWorld.values {
		vs, err := h.eng.Versions(ctx, id)
		if err != nil || len(vs) != 2 {
			t.Fatalf("versions of %s: %+v (%v), want 2", id, vs, err)
		}
		pins[id] = vs[1].Version // the older
	}
	ev, err := h.eng.Evaluate(ctx, engine.EvaluationSpec{AsOf: asOf, Policies: []engine.PolicySpec{
		{Name: "at t1", Type: engine.PolicyNBA, Models: t1.Format(time.RFC3339)},
		{Name: "pinned", Type: engine.PolicyNBA, Versions: pins},
		{Name: "current", Type: engine.PolicyNBA},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	at, pinned, cur := policyResult(t, ev, "at t1"), policyResult(t, ev, "pinned"), policyResult(t, ev, "current")
	for id, v := range pins {
		if at.Models[id] != v || pinned.Models[id] != v {
			t.Errorf("%s: scored with version %d (at t1) and %d (pinned), want %d", id, at.Models[id], pinned.Models[id], v)
		}
	}
	for _, m := range []offpolicy.Method{offpolicy.MethodIPS, offpolicy.MethodDR} {
		a := estimate(t, ev, "at t1", engine.RewardResponse, m)
		p := estimate(t, ev, "pinned", engine.RewardResponse, m)
		c := estimate(t, ev, "current", engine.RewardResponse, m)
		if math.Abs(float64(a.Value-p.Value)) > 1e-12 {
			t.Errorf("%s: %v at t1, %v pinned: want the same", m, a.Value, p.Value)
		}
		if a.Value == c.Value {
			t.Errorf("%s: the models at t1 give the current models' estimate %v", m, c.Value)
		}
	}
	if float64(at.LoggedGap.Mean) == float64(cur.LoggedGap.Mean) {
		t.Error("the models at t1 and the current ones give the logged actions the same probabilities")
	}
}

// TestEvaluateAddedAction: an action the log shows disabled, enabled now, is offered by
// the NBA policy where its eligibility (evaluated on the logged context) allows it, and
// only there; a policy that disables it again is the logged policy. The log: 300
// decisions in segment a, then 300 in segment b, with "bill" disabled; then bill is
// enabled for segment a only.
func TestEvaluateAddedAction(t *testing.T) {
	h := newHarness(t, t.TempDir(), func(o *engine.Options) { o.Seed = 12 })
	ctx := context.Background()
	for id, v := range testWorld.values {
		if _, err := h.eng.PutAction(ctx, engine.Action{ID: id, Value: v, Enabled: id != "bill", Lever: 1}); err != nil {
			t.Fatal(err)
		}
	}
	_, asOf := logWorldAt(t, h, testWorld, 600, 9, t0, func(i int) string {
		if i < 300 {
			return "a"
		}
		return "b"
	})
	if _, err := h.eng.PutAction(ctx, engine.Action{ID: "bill", Value: testWorld.values["bill"], Enabled: true, Lever: 1, Eligibility: `context.seg == "a"`}); err != nil {
		t.Fatal(err)
	}
	no := false
	policies := []engine.PolicySpec{
		{Name: "with bill", Type: engine.PolicyNBA, Models: engine.ModelsLogged},
		{Name: "without bill", Type: engine.PolicyNBA, Models: engine.ModelsLogged, Actions: map[engine.ActionID]engine.ActionChange{"bill": {Enabled: &no}}},
	}
	mid := t0.Add(300 * time.Second)
	for _, w := range []struct {
		name         string
		since, until time.Time
		offered      bool // bill is eligible there
	}{{"segment a", t0, mid, true}, {"segment b", mid, asOf, false}} {
		ev, err := h.eng.Evaluate(ctx, engine.EvaluationSpec{Since: w.since, Until: w.until, AsOf: asOf, Policies: policies}, nil)
		if err != nil {
			t.Fatal(err)
		}
		with, without := policyResult(t, ev, "with bill").LoggedGap, policyResult(t, ev, "without bill").LoggedGap
		if float64(without.Max) > loggedProbTol {
			t.Errorf("%s: without bill, the logged probabilities move by up to %v", w.name, without.Max)
		}
		if w.offered && !(float64(with.Mean) > 0.02) {
			t.Errorf("%s: with bill eligible the logged actions' probabilities move by %v on average, want bill to take a share", w.name, with.Mean)
		}
		if !w.offered && float64(with.Max) > loggedProbTol {
			t.Errorf("%s: bill is not eligible here, yet the logged probabilities move by up to %v", w.name, with.Max)
		}
	}
}
