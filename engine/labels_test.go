package engine_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
)

// churnSetup defines a churn objective (horizon one day) and a priced action aiming at
// it on the harness.
func churnSetup(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	if _, err := h.eng.PutObjective(ctx, engine.Objective{Outcome: engine.OutcomeChurn, Value: engine.Money{Const: -100}, Horizon: engine.Duration(24 * time.Hour), BaseRate: 0.2}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.PutAction(ctx, engine.Action{ID: "save", Value: 0, Cost: engine.Money{Const: 10}, Objective: engine.OutcomeChurn, Enabled: true}); err != nil {
		t.Fatal(err)
	}
}

// upliftResponses is how many labels the action's uplift model has learnt.
func upliftResponses(t *testing.T, h *harness, id string) int64 {
	t.Helper()
	m, err := h.eng.Model(engine.ActionID(id), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Uplift == nil {
		t.Fatalf("model %q has no uplift model", id)
	}
	return m.Uplift.Health.Responses
}

// TestLabelsExactlyOnceAcrossRestart: the labels of decisions are resolved at their
// horizon, each once, as journal events that survive a crash: a churn marks the labels of
// the customer's decisions before it (and not those after), the labels due before a crash
// are learnt once, a restart (without a snapshot, as after SIGKILL) rebuilds the uplift
// model from the journal, and resolving again changes nothing. A customer who left before
// a decision teaches nothing about churn: that decision's label is dropped.
func TestLabelsExactlyOnceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir, func(o *engine.Options) { o.Seed = 3 })
	churnSetup(t, h)
	ctx := context.Background()
	decide := func(c string, at time.Time) *engine.DecideResult {
		t.Helper()
		res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(c), Channel: "web", Time: at})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// Four customers, two decisions each an hour apart; c1 leaves between its two
	// decisions, so its first decision's label is hit and its second is dropped.
	for _, c := range []string{"c1", "c2", "c3", "c4"} {
		decide(c, t0)
	}
	if _, err := h.eng.RecordOutcomes(ctx, []engine.CustomerOutcome{{Customer: "c1", Type: engine.OutcomeChurn, Time: t0.Add(30 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"c1", "c2", "c3", "c4"} {
		decide(c, t0.Add(time.Hour))
	}
	res, err := h.eng.RecordOutcomes(ctx, []engine.CustomerOutcome{{Customer: "c2", Type: engine.OutcomeChurn, Time: t0.Add(2 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Labelled != 2 {
		t.Fatalf("c2's churn marked %d labels, want its 2 decisions'", res.Labelled)
	}
	// Nothing is due before the horizon.
	h.clock.Set(t0.Add(23 * time.Hour))
	if n, err := h.eng.ResolveLabels(ctx); err != nil || n != 0 {
		t.Fatalf("before the horizon: resolved %d (%v), want 0", n, err)
	}
	// The first decisions are due, not the second.
	h.clock.Set(t0.Add(24*time.Hour + time.Minute))
	if n, err := h.eng.ResolveLabels(ctx); err != nil || n != 4 {
		t.Fatalf("after the first horizon: resolved %d (%v), want 4", n, err)
	}
	if got := upliftResponses(t, h, "save"); got != 4 {
		t.Fatalf("uplift model learnt %d labels, want 4", got)
	}
	// A crash: no snapshot; the journal holds the label events.
	h.stop()
	h.start(func(o *engine.Options) { o.Seed = 3 })
	if got := upliftResponses(t, h, "save"); got != 4 {
		t.Fatalf("after the restart the uplift model holds %d labels, want the 4 replayed", got)
	}
	if n, err := h.eng.ResolveLabels(ctx); err != nil || n != 0 {
		t.Fatalf("resolving again after the restart: %d (%v), want 0", n, err)
	}
	h.clock.Set(t0.Add(26 * time.Hour))
	if n, err := h.eng.ResolveLabels(ctx); err != nil || n != 4 {
		t.Fatalf("after the second horizon: resolved %d (%v), want 4", n, err)
	}
	// c1's second decision came after it left: dropped, not learnt.
	if got := upliftResponses(t, h, "save"); got != 7 {
		t.Fatalf("uplift model learnt %d labels, want 7 (c1's decision after it left is dropped)", got)
	}
	// The resolved labels are in the decision log, as the decisions' events.
	var hits, misses int
	if err := h.eng.Decisions(ctx, time.Time{}, func(d *engine.Decision) error {
		for _, ev := range d.Outcomes {
			switch ev.Outcome {
			case engine.LabelHit:
				hits++
			case engine.LabelMiss:
				misses++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if hits != 3 || misses != 4 {
		t.Fatalf("decision log: %d churn labels and %d stay labels, want 3 (c1's first, c2's two) and 4", hits, misses)
	}
}

// TestAmountErrorsFilter: an amount that cannot be evaluated for a customer (a division
// by zero, a missing attribute compared with a number) filters the candidate with the
// reason; the decision is answered, never a 500.
func TestAmountErrorsFilter(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	ctx := context.Background()
	for id, cost := range map[string]string{"div": "10 / (profile.n ?? 0)", "cmp": "profile.missing > 3 ? 1 : 2"} {
		if _, err := h.eng.PutAction(ctx, engine.Action{ID: engine.ActionID(id), Value: 100, Cost: engine.Money{Expr: cost}, Enabled: true}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if _, err := h.eng.PutAction(ctx, engine.Action{ID: "ok", Value: 100, Cost: engine.Money{Expr: "1 + (profile.n ?? 0)"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: "c1", Channel: "web", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) != 1 || res.Actions[0].ID != "ok" || res.Actions[0].Cost != 1 {
		t.Fatalf("actions %+v, want only ok (cost 1)", res.Actions)
	}
	d, err := h.eng.Decision(ctx, res.DecisionID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Candidates {
		if c.ID == "ok" {
			continue
		}
		if c.Filtered != "amount" || !strings.Contains(c.Detail, "cost") {
			t.Errorf("%s: filtered %q (%s), want amount, naming the cost", c.ID, c.Filtered, c.Detail)
		}
	}
}

// TestResponseBaseRate: an action whose model spec has a base rate starts with that
// propensity (the intercept centred on its logit; MacKay's correction for the prior's
// variance brings it a little toward 0.5: σ(logit(0.05)/√(1 + π/8)) = 0.081), where one
// without starts at an even chance.
func TestResponseBaseRate(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	ctx := context.Background()
	if _, err := h.eng.PutAction(ctx, engine.Action{ID: "rare", Value: 100, Enabled: true, Model: engine.ModelSpec{BaseRate: 0.05}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.PutAction(ctx, engine.Action{ID: "even", Value: 100, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: "c1", Channel: "web", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := map[engine.ActionID]float64{"rare": 1 / (1 + math.Exp(math.Log(0.95/0.05)/math.Sqrt(1+math.Pi/8))), "even": 0.5}
	for _, a := range res.Actions {
		if math.Abs(a.Propensity-want[a.ID]) > 1e-9 {
			t.Errorf("%s: prior propensity %v, want %v", a.ID, a.Propensity, want[a.ID])
		}
	}
}

// TestLateOutcomes: a churn recorded after the horizon of the decisions it could be
// attributed to is accepted and counted as late, and marks no label.
func TestLateOutcomes(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	churnSetup(t, h)
	ctx := context.Background()
	if _, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: "c1", Channel: "web", Time: t0}); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(t0.Add(3 * 24 * time.Hour))
	res, err := h.eng.RecordOutcomes(ctx, []engine.CustomerOutcome{
		{Customer: "c1", Type: engine.OutcomeChurn, Time: t0.Add(time.Hour)},                  // two days late
		{Customer: "c2", Type: engine.OutcomeChurn, Time: t0.Add(3*24*time.Hour - time.Hour)}, // in time, no decision
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 2 || res.Late != 1 || res.Labelled != 0 {
		t.Fatalf("result %+v, want 2 accepted, 1 late, 0 labelled", res)
	}
}

// TestNetValueTerms: a priced candidate's logged net value is its terms put together,
// P(accept)·(value − cost) − contact cost + effect value, and the effect value is the
// objective's value times the effect (within 1e-9, rounding).
func TestNetValueTerms(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	churnSetup(t, h)
	ctx := context.Background()
	if _, err := h.eng.PutAction(ctx, engine.Action{ID: "upsell", Value: 60, ContactCost: engine.Money{Expr: `channel == "web" ? 0.25 : 1`}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: "c1", Channel: "web", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	d, err := h.eng.Decision(ctx, res.DecisionID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Candidates {
		want := c.Propensity*(c.Value-c.Cost) - c.ContactCost + c.EffectValue
		if math.Abs(c.Net-want) > 1e-9 {
			t.Errorf("%s: net %v, terms give %v (%+v)", c.ID, c.Net, want, c)
		}
		if c.ID == "save" && (c.Cost != 10 || math.Abs(c.EffectValue-(-100)*c.Effect) > 1e-9 || c.EffectSD <= 0) {
			t.Errorf("save: %+v, want cost 10, effect value -100 x effect, an effect SD", c)
		}
		if c.ID == "upsell" && c.ContactCost != 0.25 {
			t.Errorf("upsell: contact cost %v on the web, want 0.25", c.ContactCost)
		}
	}
}

// TestLoggedPropensities: the probabilities the decision log records are the policy's.
// The same context is decided 6,000 times with the models unchanged (no feedback): the
// share of decisions that offered each action must match the probability logged with
// it, and the share that offered nothing the logged no-action probability, within 4
// standard errors plus the quadrature's tolerance. Both arbitrations: response value
// with a threshold, and net value with an objective and the exploration floor.
func TestLoggedPropensities(t *testing.T) {
	for _, priced := range []bool{false, true} {
		name := "response value"
		if priced {
			name = "net value"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, t.TempDir(), func(o *engine.Options) { o.Threshold = 45 })
			ctx := context.Background()
			if priced {
				churnSetup(t, h) // "save": cost 10, churn objective (value -100, base rate 0.2)
			}
			for i, v := range []float64{40, 60, 90} {
				a := engine.Action{ID: engine.ActionID(fmt.Sprintf("offer-%d", i)), Value: v, Enabled: true}
				if priced {
					a.ContactCost = engine.Money{Const: 1}
				}
				if _, err := h.eng.PutAction(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			const n = 6000
			count := map[engine.ActionID]int{}
			sumP := map[engine.ActionID]float64{}
			for i := range n {
				res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: "c1", Channel: "web", Time: t0.Add(time.Duration(i) * time.Second)})
				if err != nil {
					t.Fatal(err)
				}
				if res.NoAction {
					d, err := h.eng.Decision(ctx, res.DecisionID)
					if err != nil {
						t.Fatal(err)
					}
					count[""]++
					sumP[""] += d.NoActionProbability
					continue
				}
				a := res.Actions[0]
				count[a.ID]++
				sumP[a.ID] += a.Probability
			}
			for id, c := range count {
				got := float64(c) / n
				// The logged probability is the same for every decision of this context;
				// its mean over the decisions that made the choice estimates it.
				want := sumP[id] / float64(c)
				se := math.Sqrt(want * (1 - want) / n)
				if math.Abs(got-want) > 4*se+0.01 {
					t.Errorf("%q chosen in %.4f of decisions, logged probability %.4f", id, got, want)
				}
			}
			if count[""] == 0 {
				t.Errorf("no decision offered nothing; the test needs the threshold to bite")
			}
		})
	}
}
