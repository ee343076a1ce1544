package main

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
	"github.com/nextbest/nextbest/internal/service"
)

// pseudo returns a deterministic number in [0, 1) for a string: the test's world is
// fixed, so every count below can be checked exactly.
func pseudo(s string) float64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return float64(h.Sum64()%1_000_000) / 1_000_000
}

// feed reads the outbound feed of channel from since on, as the simulator's sending
// system does, with the server's key if it has one.
func (s *testServer) feed(t *testing.T, channel string, since time.Time) []*wire.OutboundItem {
	t.Helper()
	var out []*wire.OutboundItem
	err := s.client().Outbound(t.Context(), client.OutboundQuery{Channel: channel, Since: since}, func(it *wire.OutboundItem) error {
		out = append(out, it)
		return nil
	})
	if err != nil {
		t.Fatalf("outbound feed: %v", err)
	}
	return out
}

// TestExperimentEndToEnd runs an NBA / legacy / holdout experiment over HTTP on a manual
// clock for three weeks: legacy campaigns fire on their schedules, the NBA outbound pass
// runs daily, customers respond through feedback and outcomes, and the report's per-arm
// counts must equal what the test itself sent and saw.
func TestExperimentEndToEnd(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday
	s := startServer(t, t.TempDir(), func(o *service.Options) {
		o.Clock, o.ClockStart = "manual", start.Format(time.RFC3339)
		o.Schedule = service.Schedule{Outbound: "0 9 * * *", Timeouts: "0 * * * *", Snapshots: "0 0 * * *"}
		o.Engine.ContactPolicy = engine.ContactPolicy{Caps: map[string]engine.Cap{"email": {Max: 1, Window: 7 * 24 * time.Hour}}}
		o.Engine.OutboundChannel = "email"
	})
	defer s.stop()
	ctx, c := t.Context(), s.client()
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	const customers = 300
	for i := range customers {
		plan := []string{"small", "medium", "unlimited"}[i%3]
		_, err := c.PutCustomer(ctx, engine.CustomerID(fmt.Sprintf("c%03d", i)), map[string]any{"tenure_months": i % 36, "plan": plan})
		must(err, "customer")
	}
	for _, a := range []engine.ActionID{"discount", "addon", "banner"} {
		_, err := c.PutAction(ctx, a, wire.ActionRequest{Value: &engine.Money{Const: 10}})
		must(err, "action")
	}
	camps := []wire.CampaignRequest{
		{ID: "first-year", Segment: "profile.tenure_months < 12", Action: "discount", Channel: "email", Schedule: "0 10 * * *", Priority: new(2.0), Cap: 40},
		{ID: "small-plan", Segment: `profile.plan == "small"`, Action: "addon", Channel: "email", Schedule: "0 11 * * 1", Priority: new(1.0)},
		{ID: "web-banner", Segment: "true", Action: "banner", Channel: "web", Priority: new(1.0)},
	}
	for _, cp := range camps {
		_, err := c.PutCampaign(ctx, cp.ID, cp)
		must(err, "campaign")
	}
	exp := wire.ExperimentRequest{Arms: []experiments.Arm{{Name: "nba", Policy: "nba", Weight: 0.45}, {Name: "legacy", Policy: "legacy", Weight: 0.45}, {Name: "holdout", Policy: "none", Weight: 0.10}},
		Control: "legacy", Salt: "e2e", State: engine.Running}
	_, err := c.PutExperiment(ctx, "nba-vs-legacy", exp)
	must(err, "experiment")

	// What the test sends and sees, per arm.
	type tally struct{ contacts, responses, churned, npsN int }
	seen := map[string]*tally{"nba": {}, "legacy": {}, "holdout": {}}
	armOf := map[engine.CustomerID]string{}
	emailTimes := map[engine.CustomerID][]time.Time{}
	var clock time.Time = start
	feedSince := start
	for day := range 21 {
		// Inbound: 20 web visits a day, by a fixed set of customers.
		for v := range 20 {
			cust := engine.CustomerID(fmt.Sprintf("c%03d", (day*37+v*11)%customers))
			d, err := c.Decide(ctx, wire.DecideRequest{CustomerID: cust, Channel: "web", Time: new(clock.Add(time.Duration(v) * time.Minute))})
			must(err, "decide")
			if prev, ok := armOf[cust]; ok && prev != d.Arm {
				t.Fatalf("customer %s moved from arm %s to %s", cust, prev, d.Arm)
			}
			armOf[cust] = d.Arm
			switch {
			case d.Arm == "holdout" && !d.NoAction:
				t.Fatalf("a holdout customer got an action: %+v", d)
			case d.Arm == "legacy" && (d.NoAction || d.Actions[0].ID != "banner"):
				t.Fatalf("legacy web visit should get the banner campaign: %+v", d)
			}
			if !d.NoAction {
				seen[d.Arm].contacts++
				if pseudo(string(d.DecisionID)) < 0.3 {
					_, err := c.Feedback(ctx, wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: d.Actions[0].ID, Outcome: engine.Clicked, Time: new(clock.Add(time.Hour))})
					must(err, "feedback")
					seen[d.Arm].responses++
				}
			}
		}
		// Let the day pass: the outbound pass at 09:00, campaigns at 10:00 and 11:00.
		clock = clock.Add(24 * time.Hour)
		cs, err := c.AdvanceClock(ctx, wire.ClockRequest{Time: &clock})
		must(err, "advance clock")
		if len(cs.Ran) == 0 {
			t.Fatalf("day %d: no scheduled job ran", day)
		}
		for _, it := range s.feed(t, "email", feedSince) {
			feedSince = it.Time.Add(time.Nanosecond)
			if it.Arm == "holdout" {
				t.Fatalf("holdout customer %s contacted by %s", it.CustomerID, it.Source)
			}
			if prev, ok := armOf[it.CustomerID]; ok && prev != it.Arm {
				t.Fatalf("customer %s is %s inbound and %s outbound", it.CustomerID, prev, it.Arm)
			}
			armOf[it.CustomerID] = it.Arm
			if (it.Arm == "nba") != (it.Source == "outbound") {
				t.Fatalf("arm %s contacted by %s", it.Arm, it.Source)
			}
			emailTimes[it.CustomerID] = append(emailTimes[it.CustomerID], it.Time)
			seen[it.Arm].contacts++
			if pseudo(string(it.DecisionID)+"r") < 0.2 {
				_, err := c.Feedback(ctx, wire.FeedbackRequest{DecisionID: it.DecisionID, ActionID: it.Actions[0], Outcome: engine.Accepted, Time: new(it.Time.Add(2 * time.Hour))})
				must(err, "feedback")
				seen[it.Arm].responses++
			}
		}
	}
	// Business outcomes for every customer, in one batch: churn, discounts, NPS.
	var outcomes []wire.Outcome
	discount := map[string]float64{}
	for i := range customers {
		cust := fmt.Sprintf("c%03d", i)
		at := clock.Add(-time.Hour)
		if pseudo(cust+"churn") < 0.1 {
			outcomes = append(outcomes, wire.Outcome{CustomerID: engine.CustomerID(cust), Type: "churn", Time: &at, ID: cust + "-churn"})
		}
		if pseudo(cust+"disc") < 0.2 {
			outcomes = append(outcomes, wire.Outcome{CustomerID: engine.CustomerID(cust), Type: "retention_discount", Value: new(12.5), Time: &at})
		}
		if pseudo(cust+"nps") < 0.3 {
			outcomes = append(outcomes, wire.Outcome{CustomerID: engine.CustomerID(cust), Type: "nps", Value: new(float64(int(pseudo(cust+"score") * 11))), Time: &at})
		}
	}
	or, err := c.RecordOutcomes(ctx, outcomes)
	must(err, "outcomes")
	if or.Accepted != len(outcomes) || or.Attributed != len(outcomes) {
		t.Fatalf("outcomes: %+v, want all %d accepted and attributed (every customer is assigned)", or, len(outcomes))
	}
	// The same churn again is a duplicate.
	or, err = c.RecordOutcomes(ctx, outcomes[:1])
	must(err, "outcome again")
	if or.Duplicates != 1 {
		t.Fatalf("repeated outcome id: %+v, want a duplicate", or)
	}

	// Every customer is assigned (the daily runs look at everyone); learn the arms.
	want := map[string]*struct {
		assigned, churned, nps int
		disc                   float64
	}{"nba": {}, "legacy": {}, "holdout": {}}
	for i := range customers {
		cust := fmt.Sprintf("c%03d", i)
		a, err := c.Assignment(ctx, "nba-vs-legacy", engine.CustomerID(cust))
		must(err, "assignment")
		if !a.Stored {
			t.Fatalf("customer %s not assigned after three weeks of daily runs", cust)
		}
		if prev, ok := armOf[engine.CustomerID(cust)]; ok && prev != a.Arm {
			t.Fatalf("customer %s: assignment says %s, decisions said %s", cust, a.Arm, prev)
		}
		w := want[a.Arm]
		w.assigned++
		if pseudo(cust+"churn") < 0.1 {
			w.churned++
		}
		if pseudo(cust+"disc") < 0.2 {
			w.disc += 12.5
		}
		if pseudo(cust+"nps") < 0.3 {
			w.nps++
		}
		discount[cust] = 0
	}
	// Contact caps: at most one email per customer in any 7 days.
	for cust, ts := range emailTimes {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		for i := 1; i < len(ts); i++ {
			if ts[i].Sub(ts[i-1]) < 7*24*time.Hour {
				t.Fatalf("customer %s got emails at %s and %s: cap of 1 per 7 days broken", cust, ts[i-1], ts[i])
			}
		}
	}

	rep, err := c.Report(ctx, "nba-vs-legacy")
	must(err, "report")
	for _, a := range rep.Arms {
		w, got := want[a.Name], seen[a.Name]
		t.Logf("arm %-7s assigned %3d contacts %4d responses %3d churned %2d discount %6.1f nps %2d", a.Name, a.Assigned, a.Contacts, a.Responses, a.Churned, a.Discount, a.NPSAnswers)
		if a.Assigned != int64(w.assigned) || a.Contacts != int64(got.contacts) || a.Responses != int64(got.responses) || a.Churned != int64(w.churned) || a.Discount != w.disc || a.NPSAnswers != w.nps {
			t.Errorf("arm %s: report %+v; the test sent: assigned %d contacts %d responses %d churned %d discount %v nps %d",
				a.Name, a, w.assigned, got.contacts, got.responses, w.churned, w.disc, w.nps)
		}
	}
	if seen["nba"].contacts == 0 || seen["legacy"].contacts == 0 {
		t.Fatalf("an arm was never contacted: %+v %+v", seen["nba"], seen["legacy"])
	}
	if len(rep.Daily) < 21 || rep.SRM == nil {
		t.Fatalf("report has %d days and srm %v", len(rep.Daily), rep.SRM)
	}
	for _, m := range rep.Metrics {
		for _, c := range m.Comparisons {
			if m.Name == "churn" && c.HolmP == nil {
				t.Errorf("churn %s vs %s has no Holm-adjusted p-value", c.Arm, c.Reference)
			}
		}
	}
	// The CSV form has the daily series.
	resp, err := http.Get(s.base + "/v1/experiments/nba-vs-legacy/report?format=csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	lines := 0
	for sc.Scan() {
		lines++
	}
	if resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || lines < 21*5 {
		t.Fatalf("CSV report: %s, %d lines", resp.Header.Get("Content-Type"), lines)
	}
}
