package dashboards_test

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/offpolicy"
)

// post submits a form as role and returns the status, the Location header and the body.
func (h *harness) post(tb testing.TB, path string, form url.Values, role access.Role) (int, string, string) {
	tb.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if role != "" {
		req.Header.Set(roleHeader, string(role))
	}
	resp, err := h.app.Test(req, -1)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// waitJob waits for an evaluation job to finish.
func waitJob(tb testing.TB, h *harness, id string) engine.EvaluationJob {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j, err := h.eng.EvaluationJob(id)
		if err != nil {
			tb.Fatal(err)
		}
		if j.State != engine.JobRunning {
			return j
		}
		if time.Now().After(deadline) {
			tb.Fatalf("evaluation %s still running after 2 minutes", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var shownNum = regexp.MustCompile(`data-path="([^"]+)" data-value="([^"]*)"(?: data-scale="([^"]*)")?>([^<]*)<`)

// TestEvaluationPages starts an evaluation from the page's form on a real engine's log (5
// days of the seeded NBA / legacy / holdout experiment), and checks the result page
// against the job's result: every number it marks equals the value at its path in the
// job's JSON (GET /v1/evaluations/{id} serves that JSON), each candidate's verdict follows
// its difference interval, the weight warnings are shown, and bad forms and roles are
// answered with a page, never a crash.
func TestEvaluationPages(t *testing.T) {
	h := newHarness(t, t.TempDir(), day0, nil)
	seed(t, h, 5)
	h.clock.Set(day0.Add(10 * 24 * time.Hour)) // every response timeout and churn horizon has passed

	code, _, body := h.get(t, "/evaluations", access.Analyst)
	if code != 200 || !strings.Contains(body, "No evaluation yet") || !strings.Contains(body, `aria-current="page">Evaluation<`) {
		t.Fatalf("empty evaluation page: %d %.300s", code, body)
	}
	wellFormed(t, body, false)

	form := url.Values{"csrf": {"token"}, "threshold_on": {"1"}, "threshold": {"150"}, "alpha_on": {"1"}, "alpha": {"2"},
		"disable": {"retention-10"}, "always": {"bill-explanation"}, "uniform": {"1"}, "models": {"logged"}, "bootstrap": {"100"}}
	code, loc, body := h.post(t, "/evaluations", form, access.Analyst)
	if code != 303 || !strings.HasPrefix(loc, "/evaluations/ev-") {
		t.Fatalf("start: %d to %q: %.300s", code, loc, body)
	}
	id := strings.TrimPrefix(loc, "/evaluations/")
	job := waitJob(t, h, id)
	if job.State != engine.JobDone {
		t.Fatalf("job %s: %+v", job.State, job.Error)
	}
	ev := job.Result
	// The form's policies, in its order: logged, uniform, threshold, alpha, always, disable.
	wantTypes := []string{"logged", "uniform", "nba", "nba", "always", "nba"}
	if len(ev.Policies) != len(wantTypes) {
		t.Fatalf("%d policies, want %d", len(ev.Policies), len(wantTypes))
	}
	for i, p := range ev.Policies {
		if p.Spec.Type != wantTypes[i] || (p.Spec.Type == engine.PolicyNBA && p.Spec.Models != engine.ModelsLogged) {
			t.Errorf("policy %d: %+v, want type %s with the logged models", i, p.Spec, wantTypes[i])
		}
	}
	if *ev.Policies[2].Spec.Threshold != 150 || *ev.Policies[3].Spec.Alpha != 2 || ev.Policies[4].Spec.Action != "bill-explanation" ||
		*ev.Policies[5].Spec.Actions["retention-10"].Enabled || *ev.Spec.Bootstrap != 100 {
		t.Errorf("the form's values did not reach the spec: %+v", ev.Spec)
	}

	code, _, body = h.get(t, "/evaluations/"+id, access.Analyst)
	if code != 200 {
		t.Fatalf("result page: %d %.300s", code, body)
	}
	wellFormed(t, body, true)
	if strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("a finished job's page reloads itself")
	}
	for _, w := range []string{"Response rate", "Net value per decision", "logged policy", "threshold 150", "alpha 2", "-retention-10", "always bill-explanation", "uniform", "ESS", "difference from the logged policy"} {
		if !strings.Contains(body, w) {
			t.Errorf("result page lacks %q", w)
		}
	}
	// Every marked number is the job's value at its path, as the API serves it.
	raw, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	nums := shownNum.FindAllStringSubmatch(body, -1)
	checked := map[string]bool{}
	for _, m := range nums {
		path, val := html.UnescapeString(m[1]), m[2]
		got, err := lookup(doc, path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if want := rawJSON(got); val != want {
			t.Errorf("%s: page %s, job %s", path, val, want)
		}
		checked[path] = true
	}
	for i := range ev.Policies {
		for _, rw := range []string{"response", "net_value"} {
			for _, p := range []string{"estimates[method=dr].value", "estimates[method=dr].vs_logged_interval.lo", "estimates[method=snips].value", "weights.ess", "weights.max_weight"} {
				if path := fmt.Sprintf("result.policies[%d].%s.%s", i, rw, p); !checked[path] {
					t.Errorf("the page does not show %s", path)
				}
			}
		}
	}
	// Each candidate's verdict follows its DR difference interval, or its warnings.
	for i, p := range ev.Policies {
		re := p.Response
		dr, _ := re.Estimate(offpolicy.MethodDR)
		lo, hi := float64(dr.VsLoggedInterval.Lo), float64(dr.VsLoggedInterval.Hi)
		want := "no clear difference"
		switch {
		case len(re.Warnings) > 0:
			want = "not to be trusted: see the weight warnings"
		case lo > 0:
			want = "higher than the logged policy"
		case hi < 0:
			want = "lower than the logged policy"
		}
		t.Logf("policy %q: verdict %q", p.Name, want)
		sec := section(t, body, "response")
		row := policyRowHTML(t, sec, p.Name)
		if !strings.Contains(row, want) {
			t.Errorf("policy %d %q (DR vs logged [%g, %g], %d warnings): verdict is not %q: %.400s", i, p.Name, lo, hi, len(re.Warnings), want, row)
		}
		for _, w := range re.Warnings {
			if !strings.Contains(row, `<span class="tag warn">`+w.Kind+`</span>`) {
				t.Errorf("policy %q: warning %s not tagged in its row", p.Name, w.Kind)
			}
			if !strings.Contains(sec, "<li><strong>"+html.EscapeString(p.Name)+`</strong> <span class="tag warn">`+w.Kind+"</span> "+html.EscapeString(w.Message)+"</li>") {
				t.Errorf("policy %q: warning %s not explained under the table", p.Name, w.Kind)
			}
		}
	}
	if len(ev.Policies[1].Response.Warnings) == 0 {
		t.Log("note: the uniform policy raised no weight warning on this log")
	}

	// The list shows the job, done, with its decisions read.
	_, _, body = h.get(t, "/evaluations", access.Analyst)
	if !strings.Contains(body, `href="/evaluations/`+id+`"`) || !strings.Contains(body, "state-done") ||
		!strings.Contains(body, fmt.Sprintf(`data-path="evaluations[id=%s].progress.decisions_read" data-value="%d"`, id, ev.Read)) {
		t.Errorf("the list lacks the finished job: %.600s", body)
	}

	// Bad forms, roles and ids: a page with the reason, never a crash.
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"threshold not a number", url.Values{"threshold_on": {"1"}, "threshold": {"lots"}}, "threshold: &#34;lots&#34; is not a number"},
		{"threshold out of range", url.Values{"threshold_on": {"1"}, "threshold": {"-3"}}, "threshold: -3 is not a priority"},
		{"unknown action", url.Values{"always": {"no-such-action"}}, "no-such-action"},
		{"bad date", url.Values{"since": {"June"}}, "since: &#34;June&#34; is not a date"},
		{"too many replicates", url.Values{"uniform": {"1"}, "bootstrap": {"999999"}}, "bootstrap"},
		{"empty window", url.Values{"uniform": {"1"}, "since": {"2030-01-01"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf", "token")
			code, loc, body := h.post(t, "/evaluations", tc.form, access.Analyst)
			if tc.want == "" { // accepted, and the job fails with its reason
				if code != 303 {
					t.Fatalf("%d: %.300s", code, body)
				}
				j := waitJob(t, h, strings.TrimPrefix(loc, "/evaluations/"))
				_, _, body = h.get(t, loc, access.Analyst)
				if j.State != engine.JobFailed || j.Error == nil || !strings.Contains(body, html.EscapeString(j.Error.Message)) || !strings.Contains(body, "state-failed") {
					t.Errorf("job %s %+v; page %.300s", j.State, j.Error, body)
				}
				return
			}
			if code != 400 || !strings.Contains(body, tc.want) || !strings.Contains(body, `class="error"`) {
				t.Errorf("%d, want 400 with %q: %.2000s", code, tc.want, body)
			}
		})
	}
	for _, tc := range []struct {
		method, path string
		role         access.Role
		code         int
		want         string
	}{
		{"GET", "/evaluations", "", 303, ""},
		{"GET", "/evaluations", access.Viewer, 403, "This page is for analysts"},
		{"GET", "/evaluations/" + id, access.Viewer, 403, "This page is for analysts"},
		{"POST", "/evaluations", access.Viewer, 403, "This page is for analysts"},
		{"POST", "/evaluations", "", 303, ""},
		{"GET", "/evaluations/ev-nope", access.Analyst, 404, "no evaluation"},
		{"GET", "/evaluations/" + id, access.Admin, 200, "Net value per decision"},
	} {
		var code int
		var body string
		if tc.method == "GET" {
			code, _, body = h.get(t, tc.path, tc.role)
		} else {
			code, _, body = h.post(t, tc.path, url.Values{"csrf": {"token"}, "uniform": {"1"}}, tc.role)
		}
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s as %q: %d, want %d with %q", tc.method, tc.path, tc.role, code, tc.code, tc.want)
		}
	}
}

// section returns the HTML of the result page's section for a reward.
func section(t *testing.T, body, reward string) string {
	t.Helper()
	i := strings.Index(body, `aria-labelledby="ev-`+reward+`"`)
	if i < 0 {
		t.Fatalf("no %s section", reward)
	}
	rest := body[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// policyRowHTML returns a policy's rows of a section's table: from its name to the next
// policy.
func policyRowHTML(t *testing.T, sec, name string) string {
	t.Helper()
	i := strings.Index(sec, `<tr class="policy"><th scope="row" rowspan="4">`+html.EscapeString(name))
	if i < 0 {
		t.Fatalf("no row for policy %q", name)
	}
	rest := sec[i+1:]
	if j := strings.Index(rest, `<tr class="policy">`); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// lookup resolves the pages' number paths (cmd/nextbest/browser_test.go's syntax): keys
// separated by dots, [3] for an index, [field=value] for the element whose field has
// that value.
func lookup(doc any, path string) (any, error) {
	cur := doc
	for _, part := range regexp.MustCompile(`[^.\[\]]+|\[[^\]]*\]`).FindAllString(path, -1) {
		if strings.HasPrefix(part, "[") {
			arr, ok := cur.([]any)
			if !ok {
				return nil, fmt.Errorf("%s: not an array", part)
			}
			sel := part[1 : len(part)-1]
			if k, v, ok := strings.Cut(sel, "="); ok {
				var found any
				for _, el := range arr {
					if m, ok := el.(map[string]any); ok && fmt.Sprint(m[k]) == v {
						found = el
					}
				}
				if found == nil {
					return nil, fmt.Errorf("no element with %s", sel)
				}
				cur = found
				continue
			}
			i, err := strconv.Atoi(sel)
			if err != nil || i < 0 || i >= len(arr) {
				return nil, fmt.Errorf("bad index %s of %d", sel, len(arr))
			}
			cur = arr[i]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not an object", part)
		}
		v, ok := m[part]
		if !ok {
			return nil, fmt.Errorf("no key %s", part)
		}
		cur = v
	}
	return cur, nil
}

// rawJSON writes a JSON value as the pages' data-value does: a float64 as Go's shortest
// form, null as "null".
func rawJSON(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}
