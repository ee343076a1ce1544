package dashboards_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

// seedValue runs an experiment of priced actions through the engine for days days, so
// that the pages have net values, effects and labels to show:
//
//   - the churn objective: a churn costs 9 months of the customer's bill, and counts
//     against the decisions of the day (horizon 1 day) before it;
//   - "save", a discount of 20% of the bill for a year that aims at churn (contact cost 1);
//     "addon", worth 60 when accepted (contact cost 0.1); "broken", whose cost divides
//     by zero for every customer, so that it is always filtered ("amount");
//   - an NBA / legacy / holdout experiment (0.6 / 0.3 / 0.1) whose legacy campaign offers
//     the addon on the web;
//   - 300 customers, half "persuadable" (churn within a day 0.30 untreated, 0.05 when
//     offered the save) and half "sure-thing" (0.02 either way); one who leaves is
//     replaced by a new one of the same segment;
//   - 150 web decisions a day; an offer is accepted with probability 0.3 (an accepted save
//     is recorded as its retention discount); NPS answers every third day; the day's
//     labels resolved at its end with a manual clock.
func seedValue(tb testing.TB, h *harness, days int) {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(16, 5))
	if _, err := h.eng.PutObjective(ctx, engine.Objective{Outcome: engine.OutcomeChurn, Description: "nine months of the bill",
		Value: engine.Money{Expr: "-9 * (profile.monthly_spend ?? 0)"}, Horizon: engine.Duration(24 * time.Hour), BaseRate: 0.1}); err != nil {
		tb.Fatal(err)
	}
	for _, a := range []engine.Action{
		{ID: "save", Issue: "retention", Group: "discounts", Value: 0, Cost: engine.Money{Expr: "0.2 * (profile.monthly_spend ?? 0) * 12"}, ContactCost: engine.Money{Const: 1}, Objective: engine.OutcomeChurn},
		{ID: "addon", Issue: "sales", Group: "upsell", Value: 60, ContactCost: engine.Money{Const: 0.1}},
		{ID: "broken", Issue: "sales", Group: "upsell", Value: 50, Cost: engine.Money{Expr: "10 / (profile.zero ?? 0)"}},
	} {
		a.Enabled, a.Lever = true, 1
		if _, err := h.eng.PutAction(ctx, a); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := h.eng.PutCampaign(ctx, engine.Campaign{ID: "web-addon", Segment: "true", Action: "addon", Channel: "web", Priority: 1, Enabled: true}); err != nil {
		tb.Fatal(err)
	}
	x := engine.Experiment{ID: "value", Description: "NBA by net value against the legacy campaigns", Control: "legacy", State: engine.Running,
		Arms: []experiments.Arm{{Name: "nba", Policy: experiments.PolicyNBA, Weight: 0.6}, {Name: "legacy", Policy: experiments.PolicyLegacy, Weight: 0.3}, {Name: "holdout", Policy: experiments.PolicyNone, Weight: 0.1}}}
	if _, err := h.eng.PutExperiment(ctx, x); err != nil {
		tb.Fatal(err)
	}
	const customers = 300
	segs := []string{"persuadable", "sure-thing"}
	gen := make([]int, customers)
	id := func(i int) engine.CustomerID { return engine.CustomerID(fmt.Sprintf("v%03d-%d", i, gen[i])) }
	spend := func(i int) float64 { return float64(30 + i%31) }
	put := func(i int) {
		if _, err := h.eng.PutCustomer(ctx, id(i), map[string]any{"segment": segs[i%2], "monthly_spend": spend(i), "zero": 0}); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range customers {
		put(i)
	}
	for d := range days {
		start := day0.Add(time.Duration(d) * 24 * time.Hour)
		h.clock.Set(start)
		var outs []engine.CustomerOutcome
		left := map[int]bool{}
		for v := range 150 {
			i := rng.IntN(customers)
			if left[i] {
				continue
			}
			at := start.Add(time.Duration(8*60+v*3) * time.Minute)
			res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: id(i), Channel: "web", Context: map[string]any{"page": []string{"home", "billing"}[v%2]}, Time: at})
			if err != nil {
				tb.Fatal(err)
			}
			saved := false
			if !res.NoAction && rng.Float64() < 0.3 {
				a := res.Actions[0].ID
				if _, err := h.eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: res.DecisionID, ActionID: a, Outcome: engine.Accepted, Time: at.Add(time.Minute)}); err != nil {
					tb.Fatal(err)
				}
				if a == "save" {
					saved = true
					outs = append(outs, engine.CustomerOutcome{Customer: id(i), Type: engine.OutcomeDiscount, Value: 0.2 * spend(i) * 12, Time: start.Add(20 * time.Hour)})
				}
			}
			p := 0.02
			if i%2 == 0 {
				p = 0.30
				if saved {
					p = 0.05
				}
			}
			if rng.Float64() < p {
				left[i] = true
				outs = append(outs, engine.CustomerOutcome{Customer: id(i), Type: engine.OutcomeChurn, Time: start.Add(21 * time.Hour)})
			} else if d%3 == 2 && rng.Float64() < 0.3 {
				outs = append(outs, engine.CustomerOutcome{Customer: id(i), Type: engine.OutcomeNPS, Value: float64(rng.IntN(11)), Time: start.Add(21 * time.Hour)})
			}
		}
		h.clock.Set(start.Add(23 * time.Hour))
		if len(outs) > 0 {
			if _, err := h.eng.RecordOutcomes(ctx, outs); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := h.eng.Snapshot(ctx, "periodic"); err != nil {
			tb.Fatal(err)
		}
		h.clock.Set(start.Add(24*time.Hour + 8*time.Hour - time.Minute)) // the day's labels are due
		if _, err := h.eng.ResolveLabels(ctx); err != nil {
			tb.Fatal(err)
		}
		for i := range left {
			gen[i]++
			put(i)
		}
	}
}

// rollups90 writes 90 days of daily rollups for the three arms of the "nba-vs-legacy"
// experiment straight to the store (as the engine's committer would): 2,000 customers a
// day join (45% NBA, 45% legacy, 10% holdout); contacts, responses, churn, discounts,
// net value, revenue and NPS answers in each arm. It returns the experiment's id.
func rollups90(tb testing.TB, h *harness) engine.ExperimentID {
	tb.Helper()
	ctx := context.Background()
	end := day0.Add(90 * 24 * time.Hour)
	x := engine.Experiment{ID: "nba-vs-legacy", Control: "legacy", State: engine.Running,
		Arms: []experiments.Arm{{Name: "nba", Policy: experiments.PolicyNBA, Weight: 0.45}, {Name: "legacy", Policy: experiments.PolicyLegacy, Weight: 0.45}, {Name: "holdout", Policy: experiments.PolicyNone, Weight: 0.10}}}
	if _, err := h.eng.PutExperiment(ctx, x); err != nil {
		tb.Fatal(err)
	}
	var rolls []engine.Rollup
	for d := range 90 {
		day := day0.Add(time.Duration(d) * 24 * time.Hour).Format(time.DateOnly)
		for _, arm := range []struct {
			name                         string
			share, contact, resp, churn  float64
			netMean, netSD, revenue, nps float64
		}{{"nba", 0.45, 0.8, 0.09, 0.003, 12, 40, 30, 10}, {"legacy", 0.45, 0.6, 0.06, 0.004, 8, 40, 30, 5}, {"holdout", 0.10, 0, 0, 0.005, 0, 40, 30, 0}} {
			n := 2000 * arm.share
			r := engine.Rollup{Experiment: x.ID, Day: day, Arm: arm.name, Assigned: int64(n), Decisions: int64(5 * n),
				Contacts: int64(5 * n * arm.contact), Churned: int64(n * arm.churn * float64(d+1) / 10)}
			r.Responses = int64(float64(r.Contacts) * arm.resp)
			r.Responders = r.Responses * 8 / 10
			r.DiscountSum, r.DiscountSumSq = float64(r.Responders)*40, float64(r.Responders)*40*40
			r.NetSum, r.NetSumSq = n*arm.netMean, n*(arm.netSD*arm.netSD+arm.netMean*arm.netMean)
			r.RevenueSum, r.RevenueSumSq = n*arm.revenue, n*(100+arm.revenue*arm.revenue)
			for k := range int(n / 20) {
				r.NPS.Add([]float64{100, 0, -100, 100, 0}[(k+int(arm.nps))%5])
			}
			rolls = append(rolls, r)
		}
	}
	if err := h.st.Commit(ctx, &engine.Batch{Rollups: rolls}); err != nil {
		tb.Fatal(err)
	}
	h.clock.Set(end)
	return x.ID
}

// TestPageSizes90Days: the experiment and uplift pages of a 90-day experiment stay small.
// The issue's first-time reader found an experiment page of 830 KB; with the net value
// and revenue metrics it had grown to 1.1 MB: every metric's daily series in full, charted
// twice (wide and narrow) with a 90-row table each. The target is well under 200 KB.
func TestPageSizes90Days(t *testing.T) {
	h := newHarness(t, t.TempDir(), day0, nil)
	id := rollups90(t, h)
	for _, tc := range []struct {
		path string
		max  int // bytes
	}{
		{"/experiments/" + string(id), 150 << 10},
		{"/experiments/" + string(id) + "?metric=nps", 150 << 10},
		{"/?experiment=" + string(id), 100 << 10},
	} {
		code, _, body := h.get(t, tc.path, "analyst")
		if code != 200 {
			t.Fatalf("%s: %d", tc.path, code)
		}
		t.Logf("%s: %d bytes", tc.path, len(body))
		if len(body) > tc.max {
			t.Errorf("%s: %d bytes, want at most %d", tc.path, len(body), tc.max)
		}
	}
}
