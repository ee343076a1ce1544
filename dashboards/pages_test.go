package dashboards_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// seed runs a small NBA / legacy / holdout experiment through the engine for days days:
// three actions, a legacy campaign, 300 customers, 120 inbound decisions a day with
// feedback, a model snapshot a day, and churn outcomes.
func seed(tb testing.TB, h *harness, days int) {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, a := range []engine.Action{
		{ID: "retention-10", Issue: "retention", Group: "discounts", Value: 300, Eligibility: "(profile.tenure_months ?? 0) >= 3", Lever: 1, Enabled: true},
		{ID: "data-addon", Issue: "sales", Group: "upsell", Value: 60, Channels: []string{"web", "app"}, Lever: 1, Enabled: true},
		{ID: "bill-explanation", Issue: "service", Group: "billing", Value: 80, Lever: 1, Enabled: true},
	} {
		if _, err := h.eng.PutAction(ctx, a); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := h.eng.PutCampaign(ctx, engine.Campaign{ID: "web-banner", Segment: "true", Action: "data-addon", Channel: "web", Priority: 1, Enabled: true}); err != nil {
		tb.Fatal(err)
	}
	x := engine.Experiment{ID: "nba-vs-legacy", Description: "NBA against the legacy campaigns", Control: "legacy", State: engine.Running,
		Arms: []experiments.Arm{{Name: "nba", Policy: experiments.PolicyNBA, Weight: 0.45}, {Name: "legacy", Policy: experiments.PolicyLegacy, Weight: 0.45}, {Name: "holdout", Policy: experiments.PolicyNone, Weight: 0.10}}}
	if _, err := h.eng.PutExperiment(ctx, x); err != nil {
		tb.Fatal(err)
	}
	const customers = 300
	for i := range customers {
		if _, err := h.eng.PutCustomer(ctx, engine.CustomerID(fmt.Sprintf("c%03d", i)), map[string]any{"tenure_months": i % 24, "plan": []string{"small", "unlimited"}[i%2]}); err != nil {
			tb.Fatal(err)
		}
	}
	arm := map[string]string{}
	for d := range days {
		start := day0.Add(time.Duration(d) * 24 * time.Hour)
		h.clock.Set(start)
		for v := range 120 {
			cust := fmt.Sprintf("c%03d", rng.IntN(customers))
			at := start.Add(time.Duration(8*60+v*5) * time.Minute)
			res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(cust), Channel: "web", Context: map[string]any{"page": []string{"home", "billing"}[v%2]}, Time: at})
			if err != nil {
				tb.Fatal(err)
			}
			arm[cust] = res.Arm
			if res.NoAction || rng.Float64() > 0.3 {
				continue
			}
			if _, err := h.eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: res.DecisionID, ActionID: res.Actions[0].ID, Outcome: engine.Accepted, Time: at.Add(time.Minute)}); err != nil {
				tb.Fatal(err)
			}
		}
		h.clock.Set(start.Add(23 * time.Hour))
		if _, err := h.eng.Snapshot(ctx, "periodic"); err != nil {
			tb.Fatal(err)
		}
		var outs []engine.CustomerOutcome
		for cust, a := range arm {
			p := map[string]float64{"nba": 0.01, "legacy": 0.03, "holdout": 0.04}[a]
			if rng.Float64() < p {
				outs = append(outs, engine.CustomerOutcome{ID: cust + "-churn", Customer: engine.CustomerID(cust), Type: engine.OutcomeChurn, Time: start.Add(22 * time.Hour)})
			}
		}
		if len(outs) > 0 {
			if _, err := h.eng.RecordOutcomes(ctx, outs); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

var numAttr = regexp.MustCompile(`data-path="[^"]+" data-value="[^"]*"`)

func TestPagesRender(t *testing.T) {
	h := newHarness(t, t.TempDir(), day0, nil)
	seed(t, h, 5)
	for _, tc := range []struct {
		path string
		want []string // text the page must show
	}{
		{"/", []string{"nba-vs-legacy", "Bottom line: net value against the legacy campaigns", "Results by metric", "Incremental impact", "Net value over time", "always-valid"}},
		{"/?experiment=nba-vs-legacy&metric=nps", []string{"NPS over time"}},
		{"/experiments/nba-vs-legacy", []string{"Arms and sizes", "Sample-ratio check", "Configuration", "Holm", "buckets 0–4499"}},
		{"/models", []string{"retention-10", "data-addon", "bill-explanation", "How health warnings are decided"}},
		{"/models/retention-10", []string{"Calibration", "Posterior weights", "Learning curve", "Stored versions (5)"}},
		{"/decisions", []string{"Recent decisions", "filtered: eligibility", "chosen · rank 1", "holdout arm: no contact"}},
		{"/decisions?limit=200", []string{"The newest 200 decisions"}},
		{"/catalog", []string{"web-banner", "(profile.tenure_months ?? 0) &gt;= 3", "Automatic encoding"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, hdr, body := h.get(t, tc.path, access.Analyst)
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			if !strings.HasPrefix(hdr["Content-Security-Policy"], "default-src 'self'") || hdr["X-Content-Type-Options"] != "nosniff" {
				t.Errorf("security headers: %v", hdr)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			wellFormed(t, body, tc.path != "/catalog")
		})
	}
}

// wellFormed checks what every page must be: no NaN, infinite number or formatting error,
// no script, every SVG chart well-formed XML with a title and a description, and (when
// numbers) its numbers marked for the browser test.
func wellFormed(t *testing.T, body string, numbers bool) {
	t.Helper()
	// An infinity is a bug in a number, not in a sentence: an amount's error may say that
	// an expression "gave +Inf (a division by zero?)".
	if strings.Contains(body, "NaN") || strings.Contains(body, "%!") || regexp.MustCompile(`data-value="[^"]*Inf|>[+−-]?Inf<`).MatchString(body) {
		t.Errorf("page shows a NaN, an infinity or a formatting error")
	}
	if strings.Contains(body, "<script") {
		t.Error("page has a script: the dashboards need no JavaScript")
	}
	for _, svg := range regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(body, -1) {
		var v struct {
			Title string `xml:"title"`
			Desc  string `xml:"desc"`
		}
		if err := xml.Unmarshal([]byte(svg), &v); err != nil || v.Title == "" || v.Desc == "" {
			t.Errorf("chart is not well-formed or lacks a title and description (%v): %.200s", err, svg)
		}
	}
	if numbers && len(numAttr.FindAllString(body, -1)) == 0 {
		t.Error("page marks no number for the browser test")
	}
}

func TestPagesRoles(t *testing.T) {
	h := newHarness(t, t.TempDir(), day0, nil)
	seed(t, h, 1)
	for _, tc := range []struct {
		path string
		role access.Role
		code int
		want string
	}{
		{"/", "", 303, ""},
		{"/models", "", 303, ""},
		{"/", access.Viewer, 200, "Results by metric"},
		{"/", access.Admin, 200, "Results by metric"},
		{"/experiments/nba-vs-legacy", access.Viewer, 403, "This page is for analysts"},
		{"/models", access.Viewer, 403, "This page is for analysts"},
		{"/models/retention-10", access.Viewer, 403, "This page is for analysts"},
		{"/decisions", access.Viewer, 403, "This page is for analysts"},
		{"/catalog", access.Viewer, 403, "This page is for analysts"},
		{"/", access.Decide, 403, "for analysts"},
		{"/catalog", access.Admin, 200, "Catalog"},
	} {
		code, hdr, body := h.get(t, tc.path, tc.role)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s as %q: %d, want %d with %q", tc.path, tc.role, code, tc.code, tc.want)
		}
		if tc.code == 303 && hdr["Location"] != "/login" {
			t.Errorf("%s signed out: redirect to %q", tc.path, hdr["Location"])
		}
	}
	// Navigation by role: a viewer sees only the uplift page.
	_, _, body := h.get(t, "/", access.Viewer)
	if strings.Contains(body, `href="/models"`) || strings.Contains(body, "Statistics and configuration") {
		t.Error("a viewer's uplift page links to analyst pages")
	}
	_, _, body = h.get(t, "/", access.Analyst)
	if !strings.Contains(body, `href="/models"`) || !strings.Contains(body, `href="/experiments/nba-vs-legacy"`) {
		t.Error("an analyst's uplift page lacks the links to the analyst pages")
	}
}

func TestPagesEmptyAndErrors(t *testing.T) {
	h := newHarness(t, t.TempDir(), day0, nil)
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/", 200, "make demo"},
		{"/models", 200, "no actions yet"},
		{"/decisions", 200, "No decisions logged yet"},
		{"/catalog", 200, "No actions yet"},
		{"/experiments/nope", 404, "no experiment"},
		{"/models/nope", 404, "no action"},
		{"/?experiment=nope", 404, "no experiment"},
		{"/decisions?limit=0", 400, "limit"},
		{"/decisions?limit=many", 400, "limit"},
	} {
		code, hdr, body := h.get(t, tc.path, access.Analyst)
		if code != tc.code || !strings.Contains(body, tc.want) || !strings.HasPrefix(hdr["Content-Type"], "text/html") {
			t.Errorf("%s: %d %s, want %d HTML with %q", tc.path, code, hdr["Content-Type"], tc.code, tc.want)
		}
	}
	// An experiment with no data yet says so instead of showing empty statistics.
	x := engine.Experiment{ID: "fresh", Control: "legacy", State: engine.Running,
		Arms: []experiments.Arm{{Name: "nba", Policy: experiments.PolicyNBA, Weight: 0.5}, {Name: "legacy", Policy: experiments.PolicyLegacy, Weight: 0.5}}}
	if _, err := h.eng.PutExperiment(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/experiments/fresh"} {
		code, _, body := h.get(t, path, access.Analyst)
		if code != 200 || strings.Contains(body, "NaN") {
			t.Errorf("%s of an empty experiment: %d", path, code)
		}
		if path == "/" && !strings.Contains(body, "No results yet") {
			t.Error("the uplift page of an empty experiment does not say there are no results yet")
		}
	}
}

func TestAssets(t *testing.T) {
	h := newHarness(t, t.TempDir(), day0, nil)
	for _, tc := range []struct {
		path, typ string
		code      int
	}{
		{"/assets/style.css", "text/css", 200},
		{"/assets/favicon.svg", "image/svg+xml", 200},
		{"/assets/nope.js", "", 404},
	} {
		code, hdr, _ := h.get(t, tc.path, "") // public: the sign-in page needs them
		if code != tc.code || !strings.HasPrefix(hdr["Content-Type"], tc.typ) {
			t.Errorf("%s: %d %q", tc.path, code, hdr["Content-Type"])
		}
	}
	code, _, body := h.get(t, "/login", "")
	if code != 200 || !strings.Contains(body, `/assets/style.css?v=`) || !strings.Contains(body, `type="password"`) {
		t.Errorf("sign-in page: %d", code)
	}
}
