package sim

import (
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"
)

var testStart = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) // a Monday

// drive runs a world for its days with a fixed policy: every inbound interaction gets
// offer(in) (none if ""), and every Monday at 09:00 each customer with idx % 3 == 0 gets
// the email action email (none if ""). Respond runs on workers goroutines.
func drive(t *testing.T, w *World, offer func(*Interaction) string, email string, workers int) (outs []Outcome, fbs []Feedback) {
	t.Helper()
	for d := 0; d < w.Days(); d++ {
		if _, err := w.StartDay(d); err != nil {
			t.Fatal(err)
		}
		day := w.Start().AddDate(0, 0, d)
		for h := 0; h < 24; h++ {
			from, to := day.Add(time.Duration(h)*time.Hour), day.Add(time.Duration(h+1)*time.Hour)
			ins, os, _ := w.Hour(from, to)
			outs = append(outs, os...)
			res := make([]Reaction, len(ins))
			var wg sync.WaitGroup
			byCust := map[string][]int{}
			var order []string
			for i := range ins {
				if _, ok := byCust[ins[i].Customer]; !ok {
					order = append(order, ins[i].Customer)
				}
				byCust[ins[i].Customer] = append(byCust[ins[i].Customer], i)
			}
			next := make(chan string)
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for c := range next {
						for _, i := range byCust[c] {
							if !w.Active(&ins[i]) {
								continue
							}
							o := Offer{DecisionID: ins[i].Customer + ins[i].Time.String(), Customer: ins[i].Customer, Arm: "test", Channel: ins[i].Channel, Time: ins[i].Time}
							if a := offer(&ins[i]); a != "" {
								o.Actions = []string{a}
							}
							res[i] = w.Respond(&ins[i], o)
						}
					}
				}()
			}
			for _, c := range order {
				next <- c
			}
			close(next)
			wg.Wait()
			for _, r := range res {
				outs = append(outs, r.Outcomes...)
				if r.Feedback != nil {
					fbs = append(fbs, *r.Feedback)
				}
			}
			f, o, _ := w.Due(to)
			fbs, outs = append(fbs, f...), append(outs, o...)
			if email != "" && h == 9 && day.Weekday() == time.Monday {
				for i, id := range w.Customers() {
					if i%3 == 0 {
						w.Contacted(Offer{DecisionID: id + "-mail-" + day.Format(time.DateOnly), Customer: id, Arm: "test", Actions: []string{email}, Channel: "email", Time: from})
					}
				}
			}
		}
	}
	return outs, fbs
}

func newWorld(t *testing.T, n, days int, seed uint64) *World {
	t.Helper()
	w, err := New(DefaultParams(), n, days, seed, testStart)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func retentionOnCancel(in *Interaction) string {
	if in.Context["reason"] == "cancel" || in.Context["page"] == "cancel" {
		return "retention-20"
	}
	return "data-addon"
}

// TestWorldDeterministic: the same seed gives the same world whatever the number of
// goroutines reacting; another seed gives another world.
func TestWorldDeterministic(t *testing.T) {
	all := func(string) string { return "all" }
	w1 := newWorld(t, 2000, 30, 5)
	o1, f1 := drive(t, w1, retentionOnCancel, "retention-10", 1)
	w2 := newWorld(t, 2000, 30, 5)
	o2, f2 := drive(t, w2, retentionOnCancel, "retention-10", 8)
	if !reflect.DeepEqual(o1, o2) || !reflect.DeepEqual(f1, f2) {
		t.Fatalf("same seed, different events: %d/%d outcomes, %d/%d responses", len(o1), len(o2), len(f1), len(f2))
	}
	if t1, t2 := w1.Truth(all), w2.Truth(all); !reflect.DeepEqual(t1, t2) {
		t.Fatalf("same seed, different truth:\n%+v\n%+v", t1, t2)
	}
	w3 := newWorld(t, 2000, 30, 6)
	o3, _ := drive(t, w3, retentionOnCancel, "retention-10", 8)
	if reflect.DeepEqual(o1, o3) {
		t.Fatal("seeds 5 and 6 gave the same world")
	}
}

// TestWorldPlausible checks the untouched world against the figures world.yaml cites.
// 10,000 customers for 90 days: monthly churn's standard error is about 0.07 points.
func TestWorldPlausible(t *testing.T) {
	if testing.Short() {
		t.Skip("90 days of 10,000 customers")
	}
	const n, days = 10000, 90
	w := newWorld(t, n, days, 1)
	channels := map[string]int{}
	outs, _ := drive(t, w, func(in *Interaction) string { channels[in.Channel]++; return "" }, "", 1)
	tr := w.Truth(func(string) string { return "holdout" })
	a := tr.Arms[0]
	if a.Churned != a.TwinChurned || a.Churn != tr.BaselineChurn {
		t.Errorf("untouched customers must match their twins: churned %d, twins %d", a.Churned, a.TwinChurned)
	}
	monthly := tr.BaselineChurn / 3
	perMonth := func(k int) float64 { return float64(k) / n / 3 }
	nps := 0.0
	answers := 0
	for _, o := range outs {
		if o.Type == "nps" {
			answers++
			switch {
			case o.Value >= 9:
				nps += 100
			case o.Value <= 6:
				nps -= 100
			}
		}
	}
	nps /= float64(answers)
	t.Logf("monthly churn %.2f%%, NPS %+.1f from %d answers (expected %+.1f), web %.2f app %.2f calls %.3f a customer a month",
		100*monthly, nps, answers, tr.BaselineNPS, perMonth(channels["web"]), perMonth(channels["app"]), perMonth(channels["call_center"]))
	for _, c := range []struct {
		what      string
		got       float64
		low, high float64 // the ranges world.yaml's comments cite
	}{
		{"monthly churn", monthly, 0.008, 0.02},
		{"NPS", nps, -10, 30},
		{"web visits a month", perMonth(channels["web"]), 0.8, 2},
		{"app sessions a month", perMonth(channels["app"]), 0.8, 2.5},
		{"calls a month", perMonth(channels["call_center"]), 0.08, 0.25},
	} {
		if c.got < c.low || c.got > c.high {
			t.Errorf("%s = %.4g, want %g to %g", c.what, c.got, c.low, c.high)
		}
	}
}

// TestResponseFunctions checks the ground truth's directions: each action appeals to the
// customers world.yaml says it does.
func TestResponseFunctions(t *testing.T) {
	w := newWorld(t, 1, 1, 1)
	c := w.cust[0]
	c.sens, c.need = 0.4, 10
	base := state{plan: 0, allowance: 5, price: 20, sat: 7.5, contractEnd: -1}
	p := func(mod func(*state), a, ch string, leaving bool) float64 {
		st := base
		if mod != nil {
			mod(&st)
		}
		return w.acceptProb(c, &st, a, ch, 0, leaving)
	}
	for _, x := range []struct {
		what          string
		higher, lower float64
	}{
		{"data add-on: at the allowance vs early in the cycle", p(func(s *state) { s.cycleUsed = 5 }, "data-addon", "email", false), p(func(s *state) { s.cycleUsed = 1 }, "data-addon", "email", false)},
		{"network fix: with a problem vs without", p(func(s *state) { s.network = true }, "network-fix", "web", false), p(nil, "network-fix", "web", false)},
		{"bill explanation: disputed vs not", p(func(s *state) { s.dispute = true }, "bill-explanation", "email", false), p(nil, "bill-explanation", "email", false)},
		{"device upgrade: contract ending vs two years left", p(nil, "device-upgrade", "email", false), p(func(s *state) { s.contractEnd = 700 }, "device-upgrade", "email", false)},
		{"retention: leaving vs not", p(nil, "retention-20", "call_center", true), p(nil, "retention-20", "call_center", false)},
		{"retention: 30% vs 10%", p(nil, "retention-30", "email", false), p(nil, "retention-10", "email", false)},
		{"call centre vs email", p(nil, "retention-20", "call_center", false), p(nil, "retention-20", "email", false)},
	} {
		if !(x.higher > x.lower) {
			t.Errorf("%s: %.4f should exceed %.4f", x.what, x.higher, x.lower)
		}
	}
	if got := p(func(s *state) { s.discountPct, s.discountEnd = 20, 365 }, "retention-10", "email", false); got != 0 {
		t.Errorf("a second discount while one runs: P = %v, want 0", got)
	}
}

// TestExpectedNPS: the expected score matches the answers' average on many draws.
func TestExpectedNPS(t *testing.T) {
	w := newWorld(t, 1, 1, 1)
	r := w.stream(1, 2, 3)
	for _, sat := range []float64{5, 7.5, 9} {
		const n = 200000 // standard error of the mean score below 0.25 points
		sum := 0.0
		for range n {
			switch a := npsAnswer(sat, 1.2, r.NormFloat64()); {
			case a >= 9:
				sum += 100
			case a <= 6:
				sum -= 100
			}
		}
		if got, want := sum/n, expectedNPS(sat, 1.2); math.Abs(got-want) > 1 {
			t.Errorf("satisfaction %v: mean score %.2f, expected %.2f", sat, got, want)
		}
	}
}

func TestParams(t *testing.T) {
	p := DefaultParams()
	if len(p.Actions()) != 8 {
		t.Errorf("actions %v, want the demo catalog's 8", p.Actions())
	}
	p.Population.Plans[0].Share = 0.9
	if err := p.Validate(); !errors.Is(err, ErrParams) {
		t.Errorf("shares adding up to 1.55: err = %v", err)
	}
	q, err := LoadParams("scenarios/targeted-retention.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Scenario.Eligibility) != 3 || len(q.Scenario.Campaigns) == 0 || q.Churn.BaseMonthly != DefaultParams().Churn.BaseMonthly {
		t.Errorf("the scenario file should add eligibility and keep the rest: %+v", q.Scenario.Eligibility)
	}
}

// TestOfferTakenTwice: a plan upgrade taken twice in turn (an inbound offer, then an
// email sent before it was taken) upgrades once from the top plan's neighbour and never
// past the top plan; an add-on taken twice is added once. Before, the second upgrade
// indexed past the plan list and the simulator panicked (seed 2, 20,000 customers).
func TestOfferTakenTwice(t *testing.T) {
	w, err := New(DefaultParams(), 10, 5, 1, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	c := w.cust[0]
	st := &c.real
	top := len(w.p.Population.Plans) - 1
	st.plan = top - 1
	at := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	for range 2 {
		w.apply(c, st, w.p.Effects.Upgrade, at, 0, 0.5, map[string]any{})
	}
	if st.plan != top {
		t.Fatalf("plan %d after two upgrades from %d, want the top plan %d", st.plan, top-1, top)
	}
	st.addon = false
	price := st.price
	for range 2 {
		w.apply(c, st, w.p.Effects.Addon, at, 0, 0.5, map[string]any{})
	}
	if want := price + w.p.Usage.AddonPrice; st.price != want {
		t.Fatalf("price %v after two add-ons, want %v (one add-on)", st.price, want)
	}
}
