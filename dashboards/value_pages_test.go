package dashboards_test

import (
	"context"
	"fmt"
	"html"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/access"
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

// pageText is a page's text as a reader sees it: tags dropped, entities decoded, spaces
// collapsed.
func pageText(body string) string {
	t := regexp.MustCompile(`</?span[^>]*>`).ReplaceAllString(body, "") // inline: no space
	t = regexp.MustCompile(`(?s)<svg.*?</svg>|<[^>]+>`).ReplaceAllString(t, " ")
	return strings.Join(strings.Fields(html.UnescapeString(t)), " ")
}

// marked is a number as the page marks it for the browser test.
type marked struct{ path, value, scale, text string }

var markedRE = regexp.MustCompile(`<span data-path="([^"]+)" data-value="([^"]*)"(?: data-scale="([^"]*)")?>([^<]*)</span>`)

// marks lists the marked numbers of a piece of a page.
func marks(body string) []marked {
	var out []marked
	for _, m := range markedRE.FindAllStringSubmatch(body, -1) {
		sc := m[3]
		if sc == "" {
			sc = "1"
		}
		out = append(out, marked{html.UnescapeString(m[1]), m[2], sc, html.UnescapeString(m[4])})
	}
	return out
}

// between returns the part of body from the first from to the next to after it.
func between(t *testing.T, body, from, to string) string {
	t.Helper()
	i := strings.Index(body, from)
	if i < 0 {
		t.Fatalf("page lacks %q", from)
	}
	j := strings.Index(body[i:], to)
	if j < 0 {
		return body[i:]
	}
	return body[i : i+j]
}

func g(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func TestValuePages(t *testing.T) {
	h := newHarness(t, t.TempDir(), day0, nil)
	const days = 12
	seedValue(t, h, days)
	ctx := context.Background()
	get := func(path string) string {
		t.Helper()
		code, _, body := h.get(t, path, access.Analyst)
		if code != 200 {
			t.Fatalf("%s: status %d: %.300s", path, code, body)
		}
		wellFormed(t, body, true)
		return body
	}
	rep, err := h.eng.Report(ctx, "value")
	if err != nil {
		t.Fatal(err)
	}
	cmpOf := func(metric, arm, ref string) engine.Comparison {
		for _, m := range rep.Metrics {
			for _, c := range m.Comparisons {
				if m.Name == metric && c.Arm == arm && c.Reference == ref {
					return c
				}
			}
		}
		t.Fatalf("report lacks %s %s vs %s", metric, arm, ref)
		return engine.Comparison{}
	}
	var nbaCustomers int64
	for _, a := range rep.Arms {
		if a.Name == "nba" {
			nbaCustomers = a.Assigned
		}
	}

	t.Run("uplift: the bottom line", func(t *testing.T) {
		body := get("/")
		box := between(t, body, `<div class="bottomline`, `</div>`)
		// The sentence is experiments.BottomLine's, for the report's net value of NBA
		// against the legacy campaigns and NBA's assigned customers, in the harness's EUR.
		net := cmpOf(engine.MetricNetValue, "nba", "legacy")
		want := experiments.BottomLine(experiments.NetValue{Arm: "NBA", Reference: "the legacy campaigns", Diff: net.Stats, Customers: nbaCustomers, Currency: "EUR"})
		if got := pageText(box); !strings.Contains(got, want.String()) {
			t.Errorf("bottom line %q, want %q", got, want.String())
		}
		if !strings.Contains(box, "tone-") || !strings.Contains(pageText(box), "Bottom line: net value against the legacy campaigns") {
			t.Errorf("bottom line box: %.300s", box)
		}
		// Its figures name the report's values: the total is abs_lift × NBA's customers
		// (scale ± customers), and the customers are arms[name=nba].assigned.
		base := "metrics[name=net_value].comparisons[arm=nba][reference=legacy].stats."
		var total, customers bool
		for _, m := range marks(box) {
			switch {
			case m.path == "arms[name=nba].assigned":
				customers = m.value == g(float64(nbaCustomers))
			case m.path == base+"abs_lift" && strings.TrimPrefix(m.scale, "-") == g(float64(nbaCustomers)):
				total = m.value == g(net.Stats.AbsLift)
			case m.path == base+"seq_ci.lo" || m.path == base+"seq_ci.hi":
			case m.path == base+"abs_lift":
			default:
				t.Errorf("bottom line figure %+v: not the net value comparison's", m)
			}
		}
		if !total || !customers {
			t.Errorf("bottom line lacks the total (%v) or NBA's customers (%v)", total, customers)
		}
		// The incremental impact shows net value per customer and in total, with the
		// always-valid interval.
		impact := pageText(between(t, body, "Incremental impact so far", "Net value over time"))
		for _, w := range []string{"net value per customer", "net value in total, over", "always-valid 95% CI"} {
			if !strings.Contains(impact, w) {
				t.Errorf("incremental impact lacks %q", w)
			}
		}
	})

	t.Run("uplift: tiles read the interval of their verdict", func(t *testing.T) {
		body := get("/")
		tiles := between(t, body, `<div class="tiles">`, "Incremental impact")
		// Every comparison with data quotes the always-valid interval its verdict rests on.
		for _, c := range []struct{ metric, ref string }{{engine.MetricChurn, "legacy"}, {engine.MetricChurn, "holdout"}, {engine.MetricNetValue, "legacy"}} {
			path := fmt.Sprintf("metrics[name=%s].comparisons[arm=nba][reference=%s].stats.seq_ci.lo", c.metric, c.ref)
			if !strings.Contains(tiles, `data-path="`+path+`"`) {
				t.Errorf("the %s tile against %s does not quote the always-valid interval", c.metric, c.ref)
			}
		}
		// NPS in points: its tile shows no relative change.
		nps := between(t, tiles, `id="t-value-nps"`, `</article>`)
		for _, big := range regexp.MustCompile(`<p class="big">(.*?)</p>`).FindAllStringSubmatch(nps, -1) {
			if strings.Contains(big[1], "rel_lift") || strings.Contains(big[1], "%") {
				t.Errorf("the NPS tile shows a relative change: %s", pageText(big[1]))
			}
		}
		if strings.Contains(nps, "rel_lift") {
			t.Error("the NPS tile quotes a relative change")
		}
	})

	t.Run("experiment: verdict first, points for NPS, no responders verdict against the holdout", func(t *testing.T) {
		body := get("/experiments/value")
		if !strings.Contains(body, `<th scope="col">Arm vs reference</th><th scope="col">Verdict</th>`) {
			t.Error("the verdict is not the column after the comparison's name")
		}
		nps := between(t, body, `id="m-nps"`, `</section>`)
		if strings.Contains(nps, "rel_lift") || !strings.Contains(nps, "points only") {
			t.Error("the NPS table shows a relative change")
		}
		responders := between(t, body, `id="m-responders"`, `</section>`)
		if strings.Contains(responders, "[reference=holdout]") || !strings.Contains(pageText(responders), "no responders by construction") {
			t.Error("responders are compared with a holdout that contacts nobody")
		}
		if !strings.Contains(pageText(body), "Left out, as the rows above the other way round") {
			t.Error("the mirrored holdout rows are not explained")
		}
	})

	t.Run("experiment: NPS charts within ±100", func(t *testing.T) {
		// The always-valid interval of the holdout's NPS difference reaches ±200 in this
		// run (a few answers a day): the axis stays within ±100.
		nps := cmpOf(engine.MetricNPS, "holdout", "legacy")
		if nps.Stats.SeqCI.Hi <= 100 && nps.Stats.SeqCI.Lo >= -100 {
			t.Fatalf("the seed's NPS interval %+v does not go beyond ±100: the test tests nothing", nps.Stats.SeqCI)
		}
		body := get("/experiments/value?metric=nps")
		section := between(t, body, `id="over-time"`, `class="note"`)
		ticks := regexp.MustCompile(`<text class="tick" x="[^"]+" y="[^"]+" text-anchor="end" dominant-baseline="middle">([^<]+)</text>`).FindAllStringSubmatch(section, -1)
		if len(ticks) == 0 {
			t.Fatal("no y tick on the NPS charts")
		}
		for _, tk := range ticks {
			v, err := strconv.ParseFloat(strings.NewReplacer("−", "-", "+", "").Replace(tk[1]), 64)
			if err != nil || math.Abs(v) > 100 {
				t.Errorf("NPS chart tick %q beyond ±100", tk[1])
			}
		}
	})

	t.Run("decisions: the terms of net value and labels in words", func(t *testing.T) {
		body := get("/decisions?limit=500")
		text := pageText(body)
		for _, w := range []string{"Effect ± sd", "on P(churn within 1 day)", "filtered: amount", "could not be computed for this customer"} {
			if !strings.Contains(text, w) {
				t.Errorf("decisions page lacks %q", w)
			}
		}
		ds, err := h.eng.Recent(ctx, 500)
		if err != nil {
			t.Fatal(err)
		}
		// Label events in words: as many "churned within 1 day" as the 500 decisions hold
		// label events of churn, and as many "stayed 1 day" as of no churn.
		var hits, misses int
		for _, d := range ds {
			for _, ev := range d.Outcomes {
				switch {
				case ev.Objective == engine.OutcomeChurn && ev.Outcome == engine.LabelHit:
					hits++
				case ev.Objective == engine.OutcomeChurn:
					misses++
				}
			}
		}
		if hits == 0 || misses == 0 {
			t.Fatalf("the seed's last 500 decisions hold %d churn and %d stay labels: want some of each", hits, misses)
		}
		if got := strings.Count(text, "churned within 1 day (resolved"); got != hits {
			t.Errorf("%d churn labels shown, the log holds %d", got, hits)
		}
		if got := strings.Count(text, "stayed 1 day (resolved"); got != misses {
			t.Errorf("%d stay labels shown, the log holds %d", got, misses)
		}
		// A priced candidate's terms add up on the page as the engine's formula says:
		// net = P(accept)·(value − cost) − contact cost + effect in money.
		checked := 0
		for _, d := range ds {
			for i, c := range d.Candidates {
				if c.ID != "save" || c.Filtered != "" || c.Net == 0 || c.Effect == 0 || checked == 5 {
					continue
				}
				row := between(t, body, `id="d-`+string(d.ID)+`"`, `</details>`)
				vals := map[string]float64{}
				for _, m := range marks(row) {
					if p, ok := strings.CutPrefix(m.path, fmt.Sprintf("candidates[%d].", i)); ok {
						vals[p], _ = strconv.ParseFloat(m.value, 64)
					}
				}
				want := vals["propensity"]*(vals["value"]-vals["cost"]) - vals["contact_cost"] + vals["effect_value"]
				// The log keeps these estimates as float32 (engine/decisioncodec.go,
				// version 4): each carries a relative error of up to 2^-24, so the sum
				// holds to a few of those times the size of its terms.
				size := math.Abs(vals["propensity"]*(vals["value"]-vals["cost"])) + math.Abs(vals["contact_cost"]) + math.Abs(vals["effect_value"]) + math.Abs(vals["net_value"])
				if math.Abs(vals["net_value"]-want) > 4*0x1p-24*math.Max(1, size) || vals["effect"] != c.Effect || vals["effect_sd"] != c.EffectSD {
					t.Errorf("decision %s, save: page terms %v; net %v, from the terms %v", d.ID, vals, vals["net_value"], want)
				}
				checked++
			}
		}
		if checked == 0 {
			t.Error("no priced save candidate with an effect among the last 500 decisions")
		}
	})

	t.Run("model: the effect model, and the uplift report when asked", func(t *testing.T) {
		body := get("/models/save")
		text := pageText(body)
		for _, w := range []string{"Incremental effect on churn", "Effect weights: where the action changes churn", "Baseline weights", "Labels learnt", "reads only when asked", "In recent decisions"} {
			if !strings.Contains(text, w) {
				t.Errorf("model page lacks %q", w)
			}
		}
		if strings.Contains(text, "Qini coefficient") {
			t.Error("the model page read the decision log unasked")
		}
		body = get("/models/save?uplift=30")
		report := between(t, body, `<section class="uplift-report"`, `</section>`)
		// Its numbers are engine.UpliftReport's over the 30 days before the clock (the
		// window starts at the second), read again here.
		since := h.clock.Now().Add(-30 * 24 * time.Hour).UTC().Truncate(time.Second)
		ur, err := h.eng.UpliftReport(ctx, "save", since)
		if err != nil {
			t.Fatal(err)
		}
		if ur.Decisions == 0 || ur.Treated == 0 || ur.Untreated == 0 {
			t.Fatalf("the seed left %d labelled decisions (%d treated): the report has nothing to show", ur.Decisions, ur.Treated)
		}
		if !strings.Contains(report, `data-src="/v1/models/save/uplift?since=`+since.Format(time.RFC3339)+`"`) {
			t.Error("the report does not name its API source with the window's start")
		}
		want := map[string]string{"decisions": g(float64(ur.Decisions)), "treated": g(float64(ur.Treated)), "untreated": g(float64(ur.Untreated)), "qini.coefficient": g(ur.Qini.Coefficient)}
		for _, m := range marks(report) {
			if w, ok := want[m.path]; ok {
				if m.value != w {
					t.Errorf("%s: page %s, report %s", m.path, m.value, w)
				}
				delete(want, m.path)
			}
		}
		if len(want) > 0 {
			t.Errorf("the page does not show %v", want)
		}
		for _, w := range []string{"Qini curve", "random targeting", "Effect by segment", "profile.segment=persuadable", "in sample"} {
			if !strings.Contains(pageText(report), w) {
				t.Errorf("uplift report lacks %q", w)
			}
		}
		if !strings.Contains(report, `class="line s1 dashed"`) {
			t.Error("the Qini chart has no random-targeting line")
		}
		for _, bad := range []string{"/models/save?uplift=0", "/models/save?uplift=91", "/models/save?uplift=many"} {
			if code, _, _ := h.get(t, bad, access.Analyst); code != 400 {
				t.Errorf("%s: %d, want 400", bad, code)
			}
		}
	})

	t.Run("models: the effect model's AUC beside the response model's health", func(t *testing.T) {
		text := pageText(get("/models"))
		if !strings.Contains(text, "effect model AUC") || !strings.Contains(text, "weak-ranking") && !strings.Contains(text, "not judged yet") && !strings.Contains(text, "ranks") {
			t.Errorf("models page: %.500s", text)
		}
	})
}
