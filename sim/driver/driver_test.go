package driver

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/internal/service"
	"github.com/nextbest/nextbest/internal/testserver"
)

// simServer starts the real service in-process with cmd/nextbest/demo.yaml, the
// configuration `make demo` uses, on a fresh store.
func simServer(t *testing.T) *testServer {
	t.Helper()
	return startServer(t, t.TempDir(), func(o *service.Options) {
		dir := o.Data
		if err := service.LoadConfig(o, "../../cmd/nextbest/demo.yaml"); err != nil {
			t.Fatal(err)
		}
		o.Data, o.Demo, o.InsecureLocal, o.LogLevel = dir, true, true, "warn"
	})
}

// simulateOnce runs a small world against a fresh server and returns the printed report
// and the result.
func simulateOnce(t *testing.T, customers, days int, seed uint64) (string, *Result) {
	t.Helper()
	s := simServer(t)
	defer s.stop()
	return simulateOn(t, s, customers, days, seed)
}

// simulateOn runs a small world against the server s and returns the printed report and
// the result.
func simulateOn(t *testing.T, s *testServer, customers, days int, seed uint64) (string, *Result) {
	t.Helper()
	o := Options{Addr: s.URL, Customers: customers, Days: days, Seed: seed, Workers: 8, Experiment: "simulation-" + strconv.FormatUint(seed, 10), Progress: days}
	var log bytes.Buffer
	res, err := Run(context.Background(), o, NewClient(o.Addr, "", o.Workers, &log), &log)
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, log.String())
	}
	var out bytes.Buffer
	WriteReport(&out, res)
	return out.String(), res
}

// TestSimulateDeterministic is the CI smoke test of nextbest simulate: a small world (600
// customers, 21 days: three weekly NBA passes and a monthly campaign) runs twice, each time against a fresh server, and must print the
// same report; the service's counts must match what the simulator sent, every arm must be
// assigned, NBA must have contacted customers and the holdout nobody.
func TestSimulateDeterministic(t *testing.T) {
	customers, days := 600, 21
	if testing.Short() {
		days = 7
	}
	first, res := simulateOnce(t, customers, days, 7)
	second, _ := simulateOnce(t, customers, days, 7)
	if first != second {
		t.Fatalf("the same seed gave two reports:\n--- first\n%s\n--- second\n%s", first, second)
	}
	if len(res.checks) > 0 {
		t.Fatalf("the service's counts differ from the simulator's: %v\n%s", res.checks, first)
	}
	total := int64(0)
	for _, a := range res.report.Arms {
		total += a.Assigned
		switch {
		case a.Assigned == 0:
			t.Errorf("arm %s: nobody assigned", a.Name)
		case a.Name == "holdout" && a.Contacts != 0:
			t.Errorf("holdout: %d contacts, want none", a.Contacts)
		case a.Name == "nba" && (a.Contacts == 0 || a.Responses == 0):
			t.Errorf("nba: %d contacts, %d responses; want some of each", a.Contacts, a.Responses)
		case a.Name == "legacy" && a.Contacts == 0:
			t.Errorf("legacy: no contacts")
		}
	}
	if total != int64(customers) {
		t.Errorf("%d customers assigned, want all %d", total, customers)
	}
	for _, want := range []string{"Response rate", "Churn", "Retention discounts", "NPS", "The claims that motivate NBA", "True:"} {
		if !strings.Contains(first, want) {
			t.Errorf("report lacks %q:\n%s", want, first)
		}
	}
	// A different seed is a different world.
	other, _ := simulateOnce(t, customers, days, 8)
	if other == first {
		t.Error("seeds 7 and 8 gave the same report")
	}
	if testing.Verbose() {
		t.Log("\n" + first)
	}
}

// TestSimulateAgainOnOneServer: a second, smaller run on the same server gets its own
// experiment, closes the first run's extra customers, and its counts still match.
func TestSimulateAgainOnOneServer(t *testing.T) {
	s := simServer(t)
	defer s.stop()
	var log bytes.Buffer
	for i, n := range []int{200, 120} {
		o := Options{Addr: s.URL, Customers: n, Days: 5, Seed: 3, Workers: 4, Experiment: "simulation-3", Progress: 5}
		res, err := Run(context.Background(), o, NewClient(o.Addr, "", o.Workers, &log), &log)
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, log.String())
		}
		if len(res.checks) > 0 {
			t.Fatalf("run %d: the service's counts differ: %v", i+1, res.checks)
		}
		total := int64(0)
		for _, a := range res.report.Arms {
			total += a.Assigned
		}
		if total != int64(n) {
			t.Errorf("run %d: %d customers assigned, want %d", i+1, total, n)
		}
		if want := []string{"simulation-3", "simulation-3-2"}[i]; res.expID != want {
			t.Errorf("run %d: experiment %s, want %s", i+1, res.expID, want)
		}
		if i == 1 && !strings.Contains(strings.Join(res.notes, " "), "earlier simulation") {
			t.Errorf("run 2 does not say the server ran an earlier simulation: %v", res.notes)
		}
	}
}

// TestSimulateRefusesSystemClock: a server on the wall clock cannot be driven; the error
// says how to start one that can.
func TestSimulateRefusesSystemClock(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.stop()
	o := Options{Addr: s.URL, Customers: 10, Days: 1, Seed: 1, Workers: 2, Experiment: "simulation-1", Progress: 1}
	var log bytes.Buffer
	_, err := Run(context.Background(), o, NewClient(o.Addr, "", 2, &log), &log)
	if err == nil || !strings.Contains(err.Error(), "nextbest serve --config cmd/nextbest/demo.yaml") {
		t.Fatalf("err = %v, want the manual-clock advice", err)
	}
	var out bytes.Buffer
	if err := NewClient(s.URL, "", 1, &log).Check(context.Background(), &out); err != nil || strings.TrimSpace(out.String()) != "system-clock" {
		t.Fatalf("check: %q, %v; want system-clock", out.String(), err)
	}
}

// TestSimulateCheck: --check tells make demo whether to start a server.
func TestSimulateCheck(t *testing.T) {
	var out, log bytes.Buffer
	if err := NewClient("127.0.0.1:1", "", 1, &log).Check(context.Background(), &out); err != nil || strings.TrimSpace(out.String()) != "none" {
		t.Fatalf("nothing listening: %q, %v; want none", out.String(), err)
	}
	s := simServer(t)
	defer s.stop()
	out.Reset()
	if err := NewClient(s.URL, "", 1, &log).Check(context.Background(), &out); err != nil || strings.TrimSpace(out.String()) != "ready" {
		t.Fatalf("manual-clock server: %q, %v; want ready", out.String(), err)
	}
}

// TestSimulateLarge runs a bigger world when NEXTBEST_SIM_CUSTOMERS and NEXTBEST_SIM_DAYS
// are set (for profiling: go test -run TestSimulateLarge -cpuprofile cpu.out).
func TestSimulateLarge(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("NEXTBEST_SIM_CUSTOMERS"))
	days, _ := strconv.Atoi(os.Getenv("NEXTBEST_SIM_DAYS"))
	if n == 0 || days == 0 {
		t.Skip("set NEXTBEST_SIM_CUSTOMERS and NEXTBEST_SIM_DAYS")
	}
	began := time.Now()
	report, res := simulateOnce(t, n, days, 1)
	t.Logf("%d customers, %d days: %s, %d requests\n%s", n, days, time.Since(began), res.requests, report)
}

// TestSimulateSaysWhatTheDashboardsSay: the simulator's report and the uplift page word
// the same report the same way, because both render experiments' verdicts. A small world
// runs against a real server; every verdict of the page's metric tiles (NBA against
// legacy and against the holdout) is the one the simulator prints for that comparison,
// and the page's headline title is the simulator's.
func TestSimulateSaysWhatTheDashboardsSay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulation")
	}
	s := simServer(t)
	defer s.stop()
	report, res := simulateOn(t, s, 1500, 28, 7)

	resp, err := http.Get(s.URL + "/?experiment=" + url.QueryEscape(res.expID))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("uplift page: %d\n%s", resp.StatusCode, body)
	}
	page := string(body)
	text := func(h string) string {
		return strings.TrimSpace(html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(h, "")))
	}
	// A tile's comparison: the path of its big number names it; then its label and sentence.
	cmp := regexp.MustCompile(`(?s)<div class="cmp tone-(\w+)">.*?<p class="big"><span data-path="metrics\[name=(\w+)\]\.comparisons\[arm=(\w+)\]\[reference=(\w+)\]\.stats\.\w+".*?<span class="label">([^<]*)</span></p>\s*<p class="verdict">(.*?)</p>`)
	checked, conclusive := 0, 0
	for _, mm := range cmp.FindAllStringSubmatch(page, -1) {
		tone, metric, arm, ref, label, sentence := mm[1], mm[2], mm[3], mm[4], mm[5], text(mm[6])
		if tone == "none" {
			continue // not applicable, or no data: the simulator leaves those out
		}
		var title string
		for i, m := range simMetrics {
			if m.name == metric {
				title = fmt.Sprintf("\n%d. %s\n", i+1, m.title)
			}
		}
		at := strings.Index(report, title)
		if title == "" || at < 0 {
			t.Errorf("the report has no section for %s", metric)
			continue
		}
		section, _, _ := strings.Cut(report[at+len(title):], "\n\n")
		line := "  " + simArmName(arm) + " vs " + simArmName(ref) + ": " + sentence
		if !strings.Contains(section, line) {
			t.Errorf("%s %s vs %s: the page says %q (%s), the simulator's section says:\n%s", metric, arm, ref, sentence, label, section)
		}
		checked++
		if label == "Conclusive" {
			conclusive++
		}
	}
	if checked < 4 || conclusive == 0 {
		t.Errorf("checked %d verdicts, %d conclusive: want several, one conclusive at least", checked, conclusive)
	}
	hm := regexp.MustCompile(`<p class="headline-title">(.*?)</p>`).FindStringSubmatch(page)
	if hm == nil || !strings.Contains(report, "The headline, as the uplift page words it: "+text(hm[1])+".") {
		t.Errorf("headline %q on the page; the simulator says:\n%s", hm, report)
	}
	t.Logf("%d verdicts the same, %d conclusive", checked, conclusive)
}

// testServer is the service running in-process on 127.0.0.1:0.
type testServer struct {
	*testserver.Server
	t *testing.T
}

// startServer runs the service over a store in dir with testserver.Start's defaults (demo
// off, keyless on loopback, no scheduled jobs), changed by mutate.
func startServer(t *testing.T, dir string, mutate func(*service.Options)) *testServer {
	t.Helper()
	return &testServer{testserver.Start(t, dir, mutate), t}
}

// stop shuts the server down as SIGTERM does and waits for it.
func (s *testServer) stop() {
	s.t.Helper()
	if err := s.Stop(); err != nil {
		s.t.Errorf("server: %v", err)
	}
}
