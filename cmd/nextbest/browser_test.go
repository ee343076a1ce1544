package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
	"github.com/nextbest/nextbest/internal/service"
)

// The browser test loads every dashboard page in headless Chromium against the real
// server, filled with three weeks of a simulated NBA / legacy / holdout experiment, and
// checks that every number shown equals the JSON API's, that the pages log no console
// error, that a viewer cannot open the analysts' pages, and that the uplift page fits a
// phone. It saves a screenshot of every page: in t.TempDir(), or in docs/screenshots/
// with -update-screenshots or NEXTBEST_SCREENSHOTS=1.

var updateScreenshots = flag.Bool("update-screenshots", false, "write the dashboard screenshots to docs/screenshots/")

// chromiumPath finds Debian's Chromium; CI installs it (.ci/run).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("NEXTBEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("headless Chromium is needed for the dashboard tests and was not found: install it with `apt-get install chromium` (.ci/run does), or point NEXTBEST_CHROMIUM at it")
	return ""
}

// browser starts a headless Chromium with a fresh profile.
func browser(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // the test may run as root in a container
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	return ctx, func() { cancelCtx(); cancelAlloc() }
}

// screenshotDir is where screenshots go.
func screenshotDir(t *testing.T) string {
	if *updateScreenshots || os.Getenv("NEXTBEST_SCREENSHOTS") == "1" {
		dir, err := filepath.Abs("../../docs/screenshots")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// shown is one number on a page, as the "num" template marks it.
type shown struct {
	Src   string `json:"src"`
	Path  string `json:"path"`
	Value string `json:"value"`
	Scale string `json:"scale"`
	Text  string `json:"text"`
}

const collectJS = `Array.from(document.querySelectorAll('[data-path]')).filter(e => e.dataset.path).map(e => {
	const s = e.closest('[data-src]');
	return {src: s ? s.dataset.src : '', path: e.dataset.path, value: e.dataset.value, scale: e.dataset.scale || '1', text: e.textContent};
})`

func TestDashboardsInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test takes about a minute; run without -short")
	}
	chromiumPath(t) // fail early, before the simulation
	start := time.Now()
	sim := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday
	s, adminKey := startSecure(t, func(o *service.Options) {
		o.Demo = true              // the demo telco catalog
		o.RateLimits = nil         // the simulation sends thousands of requests a second
		o.Store.SyncWrites = false // durability is not what this test is about
		// NBA e-mails only when the expected value clears 15 (the demo's values are in
		// euros): an outbound contact should be worth starting.
		o.Engine.OutboundThreshold = 15
		o.Clock, o.ClockStart = "manual", sim.Format(time.RFC3339)
		o.Schedule = service.Schedule{Outbound: "0 9 * * *", Timeouts: "0 * * * *", Snapshots: "0 */6 * * *", Labels: "0 * * * *"}
		o.Dashboards.Currency = "EUR" // the demo catalog's amounts are in euros
	})
	defer s.stop()
	admin := s.as(adminKey)
	analystKey := createKey(t, admin, "analyst")
	viewerKey := createKey(t, admin, "viewer")
	customers, days := 4000, 21
	if raceBuild() {
		customers, days = 2000, 14 // the race detector makes the server several times slower
	}
	w := simulateTelco(t, admin, sim, customers, days)
	t.Logf("simulated %d days, %d customers, %d decide calls in %v", w.days, len(w.customers), w.decides, time.Since(start).Round(time.Second))

	ctx, cancel := browser(t)
	defer cancel()
	console := chromedp.Console(ctx)
	var msgs []string
	var msgMu sync.Mutex
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				msgMu.Lock()
				msgs = append(msgs, fmt.Sprintf("%s %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1))
				msgMu.Unlock()
			}
		}
	}()
	dir := screenshotDir(t)
	analyst := s.as(analystKey)
	signIn(t, ctx, s.base, analystKey)

	// An off-policy evaluation of the simulated log, for the Evaluation pages: a higher
	// threshold, more exploration, and uniformly at random.
	var job engine.EvaluationJob
	spec := `{"policies": [{"type": "logged"}, {"type": "nba", "models": "logged", "threshold": 15}, {"type": "nba", "models": "logged", "alpha": 1}, {"type": "uniform"}], "bootstrap": 100}`
	if code := analyst.call("POST", "/v1/evaluations", spec, &job); code != 202 && code != 200 {
		t.Fatalf("start an evaluation: %d", code)
	}
	for deadline := time.Now().Add(3 * time.Minute); job.State == engine.JobRunning; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the evaluation still runs after 3 minutes")
		}
		if code := analyst.call("GET", "/v1/evaluations/"+job.ID, nil, &job); code != 200 {
			t.Fatalf("evaluation %s: %d", job.ID, code)
		}
	}
	if job.State != engine.JobDone {
		t.Fatalf("evaluation %s: %+v", job.State, job.Error)
	}

	pages := []struct{ name, path string }{
		{"uplift", "/"},
		{"experiment", "/experiments/" + w.experiment},
		{"models", "/models"},
		{"model", "/models/retention-20"},
		{"model-uplift", "/models/retention-20?uplift=30"},
		{"decisions", "/decisions"},
		{"catalog", "/catalog"},
		{"evaluations", "/evaluations"},
		{"evaluation", "/evaluations/" + job.ID},
	}
	for _, pg := range pages {
		t.Run(pg.name, func(t *testing.T) {
			resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(s.base+pg.path))
			if err != nil {
				t.Fatalf("load %s: %v", pg.path, err)
			}
			if resp.Status != 200 {
				t.Fatalf("%s: status %d", pg.path, resp.Status)
			}
			nums, err := chromedp.Run(ctx, chromedp.Evaluate[[]shown](collectJS))
			if err != nil {
				t.Fatal(err)
			}
			if len(nums) == 0 {
				t.Fatalf("%s shows no checked numbers", pg.path)
			}
			checkNumbers(t, analyst, nums)
			if pg.name == "decisions" {
				// Open the first decision that filtered a candidate, for the screenshot.
				if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const d = Array.from(document.querySelectorAll('details.decision')).find(d => d.querySelector('.tag.filtered') && d.querySelectorAll('tbody tr').length > 3) || document.querySelector('details.decision'); if (d) d.open = true; return !!d; })()`)); err != nil {
					t.Fatal(err)
				}
			}
			saveScreenshot(t, ctx, filepath.Join(dir, pg.name+".png"))
			t.Logf("%s: %d numbers checked against the API", pg.path, len(nums))
		})
	}

	// The Evaluation page's form, submitted by the browser with the session's CSRF token
	// under the pages' CSP, starts a job and lands on its page.
	t.Run("evaluate-form", func(t *testing.T) {
		if _, err := chromedp.RunResponse(ctx, chromedp.Navigate(s.base+"/evaluations")); err != nil {
			t.Fatal(err)
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.CSS(`form.evaluate`)))
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		if resp.Status != 200 || !strings.Contains(resp.URL, "/evaluations/ev-") {
			t.Fatalf("the form landed on %s with status %d, want an evaluation's page", resp.URL, resp.Status)
		}
		id := resp.URL[strings.LastIndex(resp.URL, "/")+1:]
		var j engine.EvaluationJob
		if code := analyst.call("GET", "/v1/evaluations/"+id, nil, &j); code != 200 || len(j.Spec.Policies) != 4 {
			t.Errorf("the form's job: %d, %d policies (want logged, uniform, threshold and alpha)", code, len(j.Spec.Policies))
		}
		analyst.call("DELETE", "/v1/evaluations/"+id, nil, nil)
	})

	// The executive's bottom line: one sentence, worded by experiments.BottomLine from the
	// report the API serves (NBA's net value per customer against the legacy campaigns,
	// its always-valid interval, times NBA's assigned customers), in the configured EUR.
	t.Run("bottom-line", func(t *testing.T) {
		if _, err := chromedp.RunResponse(ctx, chromedp.Navigate(s.base+"/")); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.bottomline-text')).map(e => e.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := analyst.client().Report(t.Context(), engine.ExperimentID(w.experiment))
		if err != nil {
			t.Fatal(err)
		}
		var net experiments.Comparison
		var customers int64
		for _, m := range rep.Metrics {
			for _, c := range m.Comparisons {
				if m.Name == engine.MetricNetValue && c.Arm == "nba" && c.Reference == "legacy" {
					net = c.Stats
				}
			}
		}
		for _, a := range rep.Arms {
			if a.Name == "nba" {
				customers = a.Assigned
			}
		}
		want := experiments.BottomLine(experiments.NetValue{Arm: "NBA", Reference: "the legacy campaigns", Diff: net, Customers: customers, Currency: "EUR"})
		if len(got) != 1 || got[0] != want.String() {
			t.Errorf("bottom line %q, want the one sentence %q", got, want.String())
		}
		if want.Finding == experiments.FindingNone {
			t.Errorf("the simulation left no net value to compare: %q", want.String())
		}
		t.Logf("bottom line: %s", want.String())
	})

	// On a phone (390 px): no page scrolls sideways; the bottom line is in view; a wide
	// table scrolls inside its box, with the verdict right after the row's name, in view.
	t.Run("phone", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := chromedp.Do(ctx, chromedp.ResetViewport()); err != nil {
				t.Fatal(err)
			}
		}()
		for _, pg := range []struct{ name, path string }{
			{"uplift-mobile", "/"},
			{"", "/experiments/" + w.experiment},
			{"", "/decisions"},
			{"", "/models/retention-20?uplift=30"},
		} {
			if err := chromedp.Do(ctx, chromedp.Navigate(s.base+pg.path)); err != nil {
				t.Fatal(err)
			}
			fits, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]`))
			if err != nil {
				t.Fatal(err)
			}
			if fits[0] > fits[2] || fits[1] > fits[2] {
				t.Errorf("%s on a 390 px phone: scroll width %v / %v > viewport %v", pg.path, fits[0], fits[1], fits[2])
			}
			if pg.name != "" {
				saveScreenshot(t, ctx, filepath.Join(dir, pg.name+".png"))
			}
		}
		// The bottom line, whole, within the screen's width.
		if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/")); err != nil {
			t.Fatal(err)
		}
		box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector('.bottomline').getBoundingClientRect(); return [r.left, r.right, r.width, window.innerWidth]; })()`))
		if err != nil {
			t.Fatal(err)
		}
		if box[2] <= 0 || box[0] < 0 || box[1] > box[3] {
			t.Errorf("the bottom line on a phone spans %v to %v of %v px", box[0], box[1], box[3])
		}
		// Every verdict of the experiment page's statistics tables is in view without
		// scrolling the table.
		if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/experiments/"+w.experiment)); err != nil {
			t.Fatal(err)
		}
		verdicts, err := chromedp.Run(ctx, chromedp.Evaluate[[][]float64](`Array.from(document.querySelectorAll('.stats-table td.verdict')).map(td => { const r = td.getBoundingClientRect(); return [r.left, r.right, window.innerWidth]; })`))
		if err != nil {
			t.Fatal(err)
		}
		if len(verdicts) == 0 {
			t.Fatal("the experiment page has no verdict cell")
		}
		for i, v := range verdicts {
			if v[0] < 0 || v[1] > v[2] {
				t.Errorf("verdict %d on a phone spans %v to %v of %v px: off-screen", i, v[0], v[1], v[2])
			}
		}
	})

	// An executive (viewer key) sees the uplift page and no analyst page.
	t.Run("viewer", func(t *testing.T) {
		vctx, vcancel := browser(t)
		defer vcancel()
		signIn(t, vctx, s.base, viewerKey)
		if _, err := chromedp.Run(vctx, chromedp.Navigate(s.base+"/")); err != nil {
			t.Fatal(err)
		}
		nav, err := chromedp.Run(vctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('header nav a')).map(a => a.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(nav, ",") != "Uplift" {
			t.Errorf("viewer navigation %v, want only Uplift", nav)
		}
		nums, err := chromedp.Run(vctx, chromedp.Evaluate[[]shown](collectJS))
		if err != nil {
			t.Fatal(err)
		}
		checkNumbers(t, s.as(viewerKey), nums)
		for _, path := range []string{"/experiments/" + w.experiment, "/models", "/models/retention-10", "/decisions", "/catalog", "/evaluations", "/evaluations/" + job.ID} {
			resp, err := chromedp.RunResponse(vctx, chromedp.Navigate(s.base+path))
			if err != nil {
				t.Fatal(err)
			}
			h1, err := chromedp.Run(vctx, chromedp.Text(chromedp.CSS("h1")))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 403 || !strings.Contains(h1, "for analysts") {
				t.Errorf("viewer on %s: status %d, heading %q; want 403 and the analysts-only page", path, resp.Status, h1)
			}
		}
		// Sign out with the page's own form (its CSRF token, under the pages' CSP): the
		// browser lands on the sign-in page and stays signed out. (That the session also
		// ends on the server is session_test.go's TestSignOutEndsTheSession.)
		resp, err := chromedp.RunResponse(vctx, chromedp.Submit(chromedp.CSS(`form[action="/logout"]`)))
		if err != nil {
			t.Fatalf("sign out: %v", err)
		}
		if resp.Status != 200 || !strings.HasSuffix(resp.URL, "/login") {
			t.Fatalf("sign out: landed on %s with status %d, want the sign-in page", resp.URL, resp.Status)
		}
		if resp, err = chromedp.RunResponse(vctx, chromedp.Navigate(s.base+"/")); err != nil || !strings.HasSuffix(resp.URL, "/login") {
			t.Fatalf("the uplift page after signing out: %v, %v; want the sign-in page", resp, err)
		}
	})

	// Signed out, every page sends the browser to sign in.
	for _, path := range []string{"/", "/models"} {
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("%s without a session: %d to %q, want 303 to /login", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}

	time.Sleep(200 * time.Millisecond) // let the last console events arrive
	msgMu.Lock()
	defer msgMu.Unlock()
	for _, m := range msgs {
		t.Errorf("browser console: %s", m)
	}
	t.Logf("screenshots in %s; whole test %v", dir, time.Since(start).Round(time.Second))
}

// raceBuild reports whether the test binary was built with the race detector.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

func signIn(t *testing.T, ctx context.Context, base, key string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), key),
	); err != nil {
		t.Fatalf("sign-in form: %v", err)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.CSS("#key")))
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if resp.Status != 200 || !strings.HasSuffix(resp.URL, "/") {
		t.Fatalf("sign in: landed on %s with status %d", resp.URL, resp.Status)
	}
}

func saveScreenshot(t *testing.T, ctx context.Context, file string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkNumbers compares every number a page shows with the API response it names: the
// data-value must be the API's value exactly, and the visible text must be that value
// times data-scale, rounded as shown.
func checkNumbers(t *testing.T, s *testServer, nums []shown) {
	t.Helper()
	docs := map[string]any{}
	bad := 0
	for _, n := range nums {
		doc, ok := docs[n.Src]
		if !ok {
			doc = getJSON(t, s, n.Src)
			docs[n.Src] = doc
		}
		got, err := jsonPath(doc, n.Path)
		if err != nil {
			t.Errorf("%s %s: %v", n.Src, n.Path, err)
			bad++
			continue
		}
		if msg := compareShown(n, got); msg != "" {
			t.Errorf("%s %s: %s", n.Src, n.Path, msg)
			bad++
		}
		if bad > 20 {
			t.Fatal("too many mismatches")
		}
	}
}

func getJSON(t *testing.T, s *testServer, path string) any {
	t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return v
}

// jsonPath evaluates the pages' path syntax: keys separated by dots, [3] for an index,
// [name=value] to pick the array element whose field has that value (several brackets
// must all match).
func jsonPath(doc any, path string) (any, error) {
	cur := doc
	for i := 0; i < len(path); {
		switch path[i] {
		case '.':
			i++
		case '[':
			// One or more brackets: an index, or field=value filters that must all match.
			var sels []string
			for i < len(path) && path[i] == '[' {
				j := strings.IndexByte(path[i:], ']')
				if j < 0 {
					return nil, fmt.Errorf("unclosed [ in %q", path)
				}
				sels = append(sels, path[i+1:i+j])
				i += j + 1
			}
			arr, ok := cur.([]any)
			if !ok {
				return nil, fmt.Errorf("%q: not an array before %v", path, sels)
			}
			if !strings.Contains(sels[0], "=") {
				idx, err := strconv.Atoi(sels[0])
				if err != nil || idx < 0 || idx >= len(arr) || len(sels) > 1 {
					return nil, fmt.Errorf("%q: bad index %v of %d", path, sels, len(arr))
				}
				cur = arr[idx]
				continue
			}
			var found any
			for _, el := range arr {
				m, _ := el.(map[string]any)
				match := m != nil
				for _, sel := range sels {
					k, v, _ := strings.Cut(sel, "=")
					if match && scalarText(m[k]) != v {
						match = false
					}
				}
				if match {
					found = el
					break
				}
			}
			if found == nil {
				return nil, fmt.Errorf("%q: no element with %v", path, sels)
			}
			cur = found
		default:
			j := strings.IndexAny(path[i:], ".[")
			if j < 0 {
				j = len(path) - i
			}
			key := path[i : i+j]
			i += j
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%q: not an object at %q", path, key)
			}
			v, ok := m[key]
			if !ok {
				return nil, fmt.Errorf("%q: no key %q", path, key)
			}
			cur = v
		}
	}
	return cur, nil
}

func scalarText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

var firstNumber = regexp.MustCompile(`[+\-−]?[0-9][0-9,]*(\.[0-9]+)?`)

// compareShown checks one shown number against the API value; it returns what is wrong.
func compareShown(n shown, api any) string {
	if api == nil {
		if n.Value != "null" || strings.TrimSpace(n.Text) != "—" {
			return fmt.Sprintf("API null, page value %q text %q", n.Value, n.Text)
		}
		return ""
	}
	num, ok := api.(json.Number)
	if !ok {
		return fmt.Sprintf("API value %v is not a number", api)
	}
	want, _ := num.Float64()
	got, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || got != want {
		return fmt.Sprintf("page data-value %q, API %s", n.Value, num)
	}
	scale, err := strconv.ParseFloat(n.Scale, 64)
	if err != nil {
		return fmt.Sprintf("bad data-scale %q", n.Scale)
	}
	expect := want * scale
	text := strings.TrimSpace(n.Text)
	if strings.HasPrefix(text, "<") { // "< 0.001"
		if expect >= 0.001 {
			return fmt.Sprintf("text %q but value %g", text, expect)
		}
		return ""
	}
	m := firstNumber.FindString(text)
	if m == "" {
		return fmt.Sprintf("text %q has no number", text)
	}
	decimals := 0
	if i := strings.IndexByte(m, '.'); i >= 0 {
		decimals = len(m) - i - 1
	}
	shownV, err := strconv.ParseFloat(strings.NewReplacer("−", "-", ",", "", "+", "").Replace(m), 64)
	if err != nil {
		return fmt.Sprintf("text %q: %v", text, err)
	}
	// The text is the value rounded to its decimals (days are rounded up, and are whole).
	tol := 0.5*math.Pow(10, -float64(decimals)) + 1e-9*math.Abs(expect)
	if math.Abs(shownV-expect) > tol {
		return fmt.Sprintf("text %q shows %g, API value %g × scale %g = %g", text, shownV, want, scale, expect)
	}
	return ""
}

// The simulated telco: customers with a profile, hidden response probabilities per
// action and context, and a daily churn hazard that depends on the arm and on whether
// the customer accepted a retention offer. Every draw is seeded.

type telcoCustomer struct {
	id          string
	tenure      int
	spend       float64
	plan        string
	contractEnd int
	dataUsed    float64
	arm         string
	churned     bool
	saved       bool
	discount    float64 // granted with an accepted retention offer, recorded at the day's end
	mu          sync.Mutex
}

type telcoWorld struct {
	s          *testServer
	c          *client.Client // of s
	start      time.Time
	days       int
	customers  []*telcoCustomer
	byID       map[string]*telcoCustomer
	actions    []string
	experiment string
	decides    int
	mu         sync.Mutex
	rng        *rand.Rand
}

// accept is the hidden probability that a customer accepts an action on a page.
func (c *telcoCustomer) accept(action, page string) float64 {
	atRisk := c.contractEnd <= 2
	switch action {
	case "retention-10", "retention-20", "retention-30":
		p := map[string]float64{"retention-10": 0.20, "retention-20": 0.26, "retention-30": 0.32}[action]
		if !atRisk {
			p /= 5
		}
		return p
	case "network-fix":
		if page == "network" {
			return 0.30
		}
		return 0.03
	case "bill-explanation":
		if page == "billing" {
			return 0.35
		}
		return 0.04
	case "data-addon":
		if c.dataUsed > 80 {
			return 0.25
		}
		return 0.03
	case "plan-upgrade":
		if c.plan == "small" && c.spend > 40 {
			return 0.18
		}
		return 0.02
	case "device-upgrade":
		if c.contractEnd <= 3 {
			return 0.20
		}
		return 0.02
	}
	return 0.01
}

// hazard is the daily churn probability.
func (c *telcoCustomer) hazard() float64 {
	h := map[string]float64{"nba": 0.0024, "legacy": 0.0044, "holdout": 0.0052}[c.arm]
	if c.contractEnd <= 2 {
		h *= 2.5
	}
	if c.saved {
		h *= 0.5
	}
	return h
}

func (w *telcoWorld) float() float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rng.Float64()
}

func (w *telcoWorld) intN(n int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rng.IntN(n)
}

// do sends a JSON request from any goroutine and returns the status.
// parallel runs fn(i) for i in [0, n) on a few goroutines and returns the first error.
func inParallel(n, workers int, fn func(i int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// simulateTelco runs the experiment for the given number of days over HTTP.
func simulateTelco(t *testing.T, admin *testServer, start time.Time, n, days int) *telcoWorld {
	t.Helper()
	began := time.Now()
	w := &telcoWorld{s: admin, c: admin.client(), start: start, days: days, byID: map[string]*telcoCustomer{}, experiment: "nba-vs-legacy", rng: rand.New(rand.NewPCG(7, 2026))}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx := t.Context()
	acts, err := w.c.Actions(ctx)
	must(err)
	for _, a := range acts {
		w.actions = append(w.actions, string(a.ID))
	}
	if len(w.actions) == 0 {
		t.Fatal("the demo catalog was not loaded")
	}
	for i := range n {
		c := &telcoCustomer{id: fmt.Sprintf("c%05d", i), tenure: w.intN(72), spend: 15 + 60*w.float(), plan: []string{"small", "medium", "unlimited"}[w.intN(3)],
			contractEnd: w.intN(24), dataUsed: 100 * w.float()}
		w.customers = append(w.customers, c)
		w.byID[c.id] = c
	}
	must(inParallel(n, 8, func(i int) error {
		c := w.customers[i]
		_, err := w.c.PutCustomer(ctx, engine.CustomerID(c.id), map[string]any{
			"tenure_months": c.tenure, "monthly_spend": math.Round(c.spend*100) / 100, "plan": c.plan, "months_to_contract_end": c.contractEnd, "data_used_pct": math.Round(c.dataUsed)})
		return err
	}))
	for _, cp := range []wire.CampaignRequest{
		{ID: "winback-email", Description: "Monday and Thursday e-mail: 10% off to customers past their third month", Segment: "profile.tenure_months >= 3", Action: "retention-10", Channel: "email", Schedule: "0 10 * * 1,4", Priority: new(3.0)},
		{ID: "upsell-email", Description: "Wednesday e-mail: data add-on to small plans", Segment: `profile.plan == "small"`, Action: "data-addon", Channel: "email", Schedule: "0 11 * * 3", Priority: new(2.0)},
		{ID: "web-upgrade-banner", Description: "plan upgrade banner on every web and app visit", Segment: `profile.plan != "unlimited"`, Action: "plan-upgrade", Channel: "web", Priority: new(1.0)},
		{ID: "app-upgrade-banner", Segment: `profile.plan != "unlimited"`, Action: "plan-upgrade", Channel: "app", Priority: new(1.0)},
	} {
		_, err := w.c.PutCampaign(ctx, cp.ID, cp)
		must(err)
	}
	_, err = w.c.PutExperiment(ctx, engine.ExperimentID(w.experiment), wire.ExperimentRequest{
		Description: "Next-best-action against the legacy campaigns, with a 10% no-contact holdout",
		Arms:        []experiments.Arm{{Name: "nba", Policy: "nba", Weight: 0.45}, {Name: "legacy", Policy: "legacy", Weight: 0.45}, {Name: "holdout", Policy: "none", Weight: 0.10}},
		Control:     "legacy", State: engine.Running})
	must(err)

	t.Logf("setup: %d customers, campaigns, experiment in %v", n, time.Since(began).Round(time.Millisecond))
	feedSince := start
	var tIn, tClock, tOut, tOutc time.Duration
	for day := range days {
		dayStart := start.Add(time.Duration(day) * 24 * time.Hour)
		t0 := time.Now()
		w.inbound(t, dayStart, 150)
		t1 := time.Now()
		// Let the day pass: the NBA outbound pass at 09:00, campaigns, timeouts, snapshots.
		_, err := w.c.AdvanceClock(ctx, wire.ClockRequest{Time: new(dayStart.Add(24 * time.Hour))})
		must(err)
		if day == 0 {
			w.learnArms(t) // the first outbound pass assigned everyone
		}
		t2 := time.Now()
		feedSince = w.outbound(t, feedSince, dayStart.Add(24*time.Hour))
		t3 := time.Now()
		w.outcomes(t, day, dayStart)
		tIn, tClock, tOut, tOutc = tIn+t1.Sub(t0), tClock+t2.Sub(t1), tOut+t3.Sub(t2), tOutc+time.Since(t3)
	}
	t.Logf("days: inbound %v, clock %v, outbound feedback %v, outcomes %v", tIn.Round(time.Millisecond), tClock.Round(time.Millisecond), tOut.Round(time.Millisecond), tOutc.Round(time.Millisecond))
	// A last few visits, so that the decision log ends with inbound decisions.
	w.inbound(t, start.Add(time.Duration(days)*24*time.Hour), 40)
	return w
}

// inbound sends visits on web and app during the day, with feedback on acceptances.
func (w *telcoWorld) inbound(t *testing.T, dayStart time.Time, visits int) {
	t.Helper()
	type visit struct {
		c       *telcoCustomer
		channel string
		page    string
		at      time.Time
	}
	var vs []visit
	for range visits {
		c := w.customers[w.intN(len(w.customers))]
		if c.churned {
			continue
		}
		vs = append(vs, visit{c: c, channel: []string{"web", "app"}[w.intN(2)], page: []string{"home", "billing", "network", "plans"}[w.intN(4)],
			at: dayStart.Add(8*time.Hour + time.Duration(w.intN(14*3600))*time.Second)})
	}
	draws := make([]float64, len(vs))
	for i := range draws {
		draws[i] = w.float()
	}
	err := inParallel(len(vs), 6, func(i int) error {
		v := vs[i]
		d, err := w.c.Decide(t.Context(), wire.DecideRequest{CustomerID: engine.CustomerID(v.c.id), Channel: v.channel, Context: map[string]any{"page": v.page}, Time: &v.at})
		if err != nil {
			return err
		}
		w.mu.Lock()
		w.decides++
		w.mu.Unlock()
		if d.NoAction || len(d.Actions) == 0 {
			return nil
		}
		a := d.Actions[0].ID
		if draws[i] >= v.c.accept(string(a), v.page) {
			return nil // no answer: the timeout records an implicit negative
		}
		w.accepted(v.c, string(a))
		_, err = w.c.Feedback(t.Context(), wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: a, Outcome: engine.Accepted, Time: new(v.at.Add(2 * time.Minute))})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (w *telcoWorld) accepted(c *telcoCustomer, action string) {
	pct, ok := map[string]float64{"retention-10": 0.10, "retention-20": 0.20, "retention-30": 0.30}[action]
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.saved = true
	c.discount += math.Round(c.spend * 12 * pct) // a year of the discount
}

// learnArms reads every customer's stored arm.
func (w *telcoWorld) learnArms(t *testing.T) {
	t.Helper()
	err := inParallel(len(w.customers), 8, func(i int) error {
		c := w.customers[i]
		a, err := w.c.Assignment(t.Context(), engine.ExperimentID(w.experiment), engine.CustomerID(c.id))
		if err != nil {
			return err
		}
		if !a.Stored {
			return fmt.Errorf("customer %s not assigned after the first outbound pass", c.id)
		}
		c.arm = a.Arm
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// outbound answers the day's e-mails (NBA's outbound pass and the legacy campaigns).
func (w *telcoWorld) outbound(t *testing.T, since, until time.Time) time.Time {
	t.Helper()
	items := w.s.feed(t, "email", since)
	next := since
	var answer []*wire.OutboundItem
	for _, it := range items {
		if it.Time.After(next) || it.Time.Equal(next) {
			next = it.Time.Add(time.Nanosecond)
		}
		c := w.byID[string(it.CustomerID)]
		if c == nil || c.churned || len(it.Actions) == 0 {
			continue
		}
		if w.float() < c.accept(string(it.Actions[0]), "email") {
			answer = append(answer, it)
		}
	}
	err := inParallel(len(answer), 6, func(i int) error {
		it := answer[i]
		w.accepted(w.byID[string(it.CustomerID)], string(it.Actions[0]))
		at := it.Time.Add(3 * time.Hour)
		if at.After(until) {
			at = until
		}
		_, err := w.c.Feedback(t.Context(), wire.FeedbackRequest{DecisionID: it.DecisionID, ActionID: it.Actions[0], Outcome: engine.Accepted, Time: &at})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// outcomes records the day's churn, retention discounts and (weekly) NPS answers.
func (w *telcoWorld) outcomes(t *testing.T, day int, dayStart time.Time) {
	t.Helper()
	at := dayStart.Add(20 * time.Hour)
	var batch []wire.Outcome
	for _, c := range w.customers {
		if c.churned || c.arm == "" {
			continue
		}
		if w.float() < c.hazard() {
			c.churned = true
			batch = append(batch, wire.Outcome{ID: c.id + "-churn", CustomerID: engine.CustomerID(c.id), Type: engine.OutcomeChurn, Time: &at})
			continue
		}
		// Retention discounts: with an accepted retention offer, and by the call centre.
		if c.discount > 0 {
			batch = append(batch, wire.Outcome{CustomerID: engine.CustomerID(c.id), Type: engine.OutcomeDiscount, Value: new(c.discount), Time: &at})
			c.discount = 0
		}
		if w.float() < 0.002 {
			batch = append(batch, wire.Outcome{CustomerID: engine.CustomerID(c.id), Type: engine.OutcomeDiscount, Value: new(25.0), Time: &at})
		}
		if day%7 == 6 && w.float() < 0.08 {
			promoter := map[string]float64{"nba": 0.42, "legacy": 0.38, "holdout": 0.36}[c.arm]
			u := w.float()
			score := 9 + w.intN(2)
			switch {
			case u < promoter:
			case u < promoter+0.33:
				score = 7 + w.intN(2)
			default:
				score = w.intN(7)
			}
			batch = append(batch, wire.Outcome{CustomerID: engine.CustomerID(c.id), Type: engine.OutcomeNPS, Value: new(float64(score)), Time: &at})
		}
	}
	for len(batch) > 0 {
		k := min(len(batch), 1000)
		if _, err := w.c.RecordOutcomes(t.Context(), batch[:k]); err != nil {
			t.Fatal(err)
		}
		batch = batch[k:]
	}
}
