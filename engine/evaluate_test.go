package engine_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/offpolicy"
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
	ctx := context.Background()
	for id, v := range w.values {
		if _, err := h.eng.PutAction(ctx, engine.Action{ID: id, Value: v, Enabled: true, Lever: 1}); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []loggedDecision
	at := t0
	for i := range n {
		at = t0.Add(time.Duration(i) * time.Second)
		seg := "a"
		if rng.IntN(2) == 1 {
			seg = "b"
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
			if gap == nil || float64(gap.Max) > 1e-9 {
				t.Errorf("re-scored logged configuration: probability gap %+v, want at most 1e-9", gap)
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
