package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
)

// pseudo returns a deterministic number in [0, 1) for a string: the test's world is
// fixed, so every count below can be checked exactly.
func pseudo(s string) float64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return float64(h.Sum64()%1_000_000) / 1_000_000
}

// feed reads the outbound feed of channel from since on, as the simulator's sending
// system does (simFeedItem), with the server's key if it has one.
func (s *testServer) feed(t *testing.T, channel string, since time.Time) []simFeedItem {
	t.Helper()
	req, err := http.NewRequest("GET", s.base+"/v1/outbound?channel="+channel+"&since="+url.QueryEscape(since.Format(time.RFC3339Nano)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.key != "" {
		req.Header.Set("Authorization", "Bearer "+s.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("outbound feed: %d", resp.StatusCode)
	}
	var out []simFeedItem
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var it simFeedItem
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			t.Fatal(err)
		}
		out = append(out, it)
	}
	return out
}

// TestExperimentEndToEnd runs an NBA / legacy / holdout experiment over HTTP on a manual
// clock for three weeks: legacy campaigns fire on their schedules, the NBA outbound pass
// runs daily, customers respond through feedback and outcomes, and the report's per-arm
// counts must equal what the test itself sent and saw.
func TestExperimentEndToEnd(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday
	s := startServer(t, t.TempDir(), func(o *Options) {
		o.Clock, o.ClockStart = "manual", start.Format(time.RFC3339)
		o.Schedule = Schedule{Outbound: "0 9 * * *", Timeouts: "0 * * * *", Snapshots: "0 0 * * *"}
		o.Engine.ContactPolicy = engine.ContactPolicy{Caps: map[string]engine.Cap{"email": {Max: 1, Window: 7 * 24 * time.Hour}}}
		o.Engine.OutboundChannel = "email"
	})
	defer s.stop()
	must := func(code int, what string) {
		t.Helper()
		if code/100 != 2 {
			t.Fatalf("%s: status %d", what, code)
		}
	}
	const customers = 300
	for i := range customers {
		plan := []string{"small", "medium", "unlimited"}[i%3]
		must(s.call("PUT", fmt.Sprintf("/v1/customers/c%03d", i), map[string]any{"attributes": map[string]any{"tenure_months": i % 36, "plan": plan}}, nil), "customer")
	}
	for _, a := range []string{"discount", "addon", "banner"} {
		must(s.call("PUT", "/v1/actions/"+a, map[string]any{"value": 10}, nil), "action")
	}
	camps := []map[string]any{
		{"id": "first-year", "segment": "profile.tenure_months < 12", "action": "discount", "channel": "email", "schedule": "0 10 * * *", "priority": 2, "cap": 40},
		{"id": "small-plan", "segment": `profile.plan == "small"`, "action": "addon", "channel": "email", "schedule": "0 11 * * 1", "priority": 1},
		{"id": "web-banner", "segment": "true", "action": "banner", "channel": "web", "priority": 1},
	}
	for _, c := range camps {
		must(s.call("PUT", "/v1/campaigns/"+c["id"].(string), c, nil), "campaign")
	}
	exp := map[string]any{"arms": []map[string]any{{"name": "nba", "policy": "nba", "weight": 0.45}, {"name": "legacy", "policy": "legacy", "weight": 0.45}, {"name": "holdout", "policy": "none", "weight": 0.10}},
		"control": "legacy", "salt": "e2e", "state": "running"}
	must(s.call("PUT", "/v1/experiments/nba-vs-legacy", exp, nil), "experiment")

	// What the test sends and sees, per arm.
	type tally struct{ contacts, responses, churned, npsN int }
	seen := map[string]*tally{"nba": {}, "legacy": {}, "holdout": {}}
	armOf := map[string]string{}
	emailTimes := map[string][]time.Time{}
	var clock time.Time = start
	feedSince := start
	for day := range 21 {
		// Inbound: 20 web visits a day, by a fixed set of customers.
		for v := range 20 {
			cust := fmt.Sprintf("c%03d", (day*37+v*11)%customers)
			var d decideResponse
			must(s.call("POST", "/v1/decide", map[string]any{"customer_id": cust, "channel": "web", "time": clock.Add(time.Duration(v) * time.Minute)}, &d), "decide")
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
				if pseudo(d.DecisionID) < 0.3 {
					must(s.call("POST", "/v1/feedback", map[string]any{"decision_id": d.DecisionID, "action_id": d.Actions[0].ID, "outcome": "clicked", "time": clock.Add(time.Hour)}, nil), "feedback")
					seen[d.Arm].responses++
				}
			}
		}
		// Let the day pass: the outbound pass at 09:00, campaigns at 10:00 and 11:00.
		clock = clock.Add(24 * time.Hour)
		var cs struct {
			Ran []string `json:"ran"`
		}
		must(s.call("POST", "/v1/clock", map[string]any{"time": clock}, &cs), "advance clock")
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
			if pseudo(it.DecisionID+"r") < 0.2 {
				must(s.call("POST", "/v1/feedback", map[string]any{"decision_id": it.DecisionID, "action_id": it.Actions[0], "outcome": "accepted", "time": it.Time.Add(2 * time.Hour)}, nil), "feedback")
				seen[it.Arm].responses++
			}
		}
	}
	// Business outcomes for every customer, in one batch: churn, discounts, NPS.
	var outcomes []map[string]any
	discount := map[string]float64{}
	for i := range customers {
		cust := fmt.Sprintf("c%03d", i)
		at := clock.Add(-time.Hour)
		if pseudo(cust+"churn") < 0.1 {
			outcomes = append(outcomes, map[string]any{"customer_id": cust, "type": "churn", "time": at, "id": cust + "-churn"})
		}
		if pseudo(cust+"disc") < 0.2 {
			outcomes = append(outcomes, map[string]any{"customer_id": cust, "type": "retention_discount", "value": 12.5, "time": at})
		}
		if pseudo(cust+"nps") < 0.3 {
			outcomes = append(outcomes, map[string]any{"customer_id": cust, "type": "nps", "value": int(pseudo(cust+"score") * 11), "time": at})
		}
	}
	var or struct{ Accepted, Duplicates, Attributed int }
	must(s.call("POST", "/v1/outcomes", outcomes, &or), "outcomes")
	if or.Accepted != len(outcomes) || or.Attributed != len(outcomes) {
		t.Fatalf("outcomes: %+v, want all %d accepted and attributed (every customer is assigned)", or, len(outcomes))
	}
	// The same churn again is a duplicate.
	must(s.call("POST", "/v1/outcomes", []map[string]any{outcomes[0]}, &or), "outcome again")
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
		var a struct {
			Arm    string `json:"arm"`
			Stored bool   `json:"stored"`
		}
		must(s.call("GET", "/v1/experiments/nba-vs-legacy/assignments/"+cust, nil, &a), "assignment")
		if !a.Stored {
			t.Fatalf("customer %s not assigned after three weeks of daily runs", cust)
		}
		if prev, ok := armOf[cust]; ok && prev != a.Arm {
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

	var rep struct {
		Arms []struct {
			Name       string  `json:"name"`
			Assigned   int     `json:"assigned"`
			Contacts   int     `json:"contacts"`
			Responses  int     `json:"responses"`
			Churned    int     `json:"churned"`
			Discount   float64 `json:"discount_total"`
			NPSAnswers int     `json:"nps_respondents"`
		} `json:"arms"`
		Metrics []struct {
			Name        string `json:"name"`
			Comparisons []struct {
				Arm       string   `json:"arm"`
				Reference string   `json:"reference"`
				HolmP     *float64 `json:"holm_p"`
			} `json:"comparisons"`
		} `json:"metrics"`
		SRM *struct {
			PValue float64 `json:"p_value"`
		} `json:"srm"`
		Daily []json.RawMessage `json:"daily"`
	}
	must(s.call("GET", "/v1/experiments/nba-vs-legacy/report", nil, &rep), "report")
	for _, a := range rep.Arms {
		w, got := want[a.Name], seen[a.Name]
		t.Logf("arm %-7s assigned %3d contacts %4d responses %3d churned %2d discount %6.1f nps %2d", a.Name, a.Assigned, a.Contacts, a.Responses, a.Churned, a.Discount, a.NPSAnswers)
		if a.Assigned != w.assigned || a.Contacts != got.contacts || a.Responses != got.responses || a.Churned != w.churned || a.Discount != w.disc || a.NPSAnswers != w.nps {
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
