package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nextbest/nextbest/api"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// TestPrometheusExposition scrapes /metrics of a real server (serve on 127.0.0.1:0, Badger
// in t.TempDir()) after a mix of requests (decides, feedback, outcomes, unknown decisions
// and customers, unknown paths and methods, bad bodies, unknown channels), with
// Prometheus's own text parser (expfmt) and its metric linter (promlint: what
// `promtool check metrics` runs), and checks that
//   - every family has # HELP and # TYPE, and its name and unit follow Prometheus's
//     conventions (no lint problem but the two counters the Go metrics library names);
//   - every histogram is a classic histogram: strictly increasing `le` bounds ending in
//     +Inf, cumulative counts, the +Inf bucket equal to _count;
//   - the label sets stay bounded: the second round of the mix, with 10 times as many
//     random customer ids, decision ids, paths and methods, adds no series, and no label
//     value holds one of them;
//   - histogram_quantile (promQuantile) on the scraped decide latencies gives a sane p50
//     and p99, over the whole histogram and over the increase between two scrapes (what
//     Prometheus evaluates over rate(..._bucket[5m])).
//
// Then the Grafana dashboard (dashboards/grafana/nextbest.json) and docs/operations.md are
// held to what the server exposes (checkGrafanaDashboard, checkOperationsDoc).
func TestPrometheusExposition(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.stop()
	// An action on the web, and one whose cost cannot be evaluated for a customer without
	// the attribute n (counted in nextbest_decide_amount_errors_total); a decide on sms
	// finds nothing to offer (nextbest_no_action_total).
	c := s.client()
	for id, a := range map[engine.ActionID]wire.ActionRequest{
		"offer": {Value: &engine.Money{Const: 1}, Channels: []string{"web"}},
		"div":   {Value: &engine.Money{Const: 100}, Cost: engine.Money{Expr: "10 / (profile.n ?? 0)"}, Channels: []string{"web"}},
	} {
		if _, err := c.PutAction(t.Context(), id, a); err != nil {
			t.Fatalf("put action %s: %v", id, err)
		}
	}
	rng := rand.New(rand.NewPCG(18, 6)) // seeded: a failure reproduces
	var sent []string                   // every random id, path and method sent
	random := func(prefix string) string {
		v := fmt.Sprintf("%s%016x", prefix, rng.Uint64())
		sent = append(sent, v)
		return v
	}
	decided := 0 // decides answered 200
	// mix sends n rounds of requests whose ids, paths and methods are random; none may
	// fail with a 5xx. Those that may fail with a 4xx (unknown ids, paths and methods) are
	// sent raw (s.call), the decides through the client.
	mix := func(n int) {
		t.Helper()
		send := func(method, path string, body any, out any) {
			t.Helper()
			if code := s.call(method, path, body, out); code >= 500 {
				t.Fatalf("%s %s: %d", method, path, code)
			}
		}
		for range n {
			d, err := c.Decide(t.Context(), wire.DecideRequest{CustomerID: engine.CustomerID(random("c")), Channel: "web"})
			if err != nil {
				t.Fatalf("decide: %v", err)
			}
			if _, err := c.Decide(t.Context(), wire.DecideRequest{CustomerID: engine.CustomerID(random("c")), Channel: "sms"}); err != nil {
				t.Fatalf("decide on sms: %v", err)
			}
			decided += 2
			if len(d.Actions) > 0 {
				outcome := []string{"accepted", "rejected", "clicked"}[rng.IntN(3)]
				send("POST", "/v1/feedback", map[string]any{"decision_id": d.DecisionID, "action_id": d.Actions[0].ID, "outcome": outcome}, nil)
			}
			send("POST", "/v1/feedback", map[string]any{"decision_id": random("d"), "action_id": "offer", "outcome": "accepted"}, nil)
			send("POST", "/v1/outcomes", map[string]any{"customer_id": random("c"), "type": "churn"}, nil)
			send("GET", "/v1/customers/"+random("c"), nil, nil)
			send("GET", "/v1/decisions/"+random("d"), nil, nil)
			send("GET", "/v1/"+random("p")+"/"+random("p"), nil, nil)
			send("GET", "/"+random("p"), nil, nil)
			send("POST", "/v1/decide", `{"customer_id": "`+random("c")+`", "channel": `, nil)
			send("POST", "/v1/decide", map[string]any{"customer_id": random("c"), "channel": random("ch")}, nil)
			send("X"+strings.ToUpper(random("m")), "/v1/decide", nil, nil)
		}
	}

	scrapeFamilies(t, s.base) // so that /metrics has its own series before the first count
	mix(20)
	first := scrapeFamilies(t, s.base)
	mix(200)
	second := scrapeFamilies(t, s.base)

	t.Run("help, type and names", func(t *testing.T) {
		checkExposition(t, second)
	})
	t.Run("histograms", func(t *testing.T) {
		for name, mf := range second {
			if mf.GetType() == dto.MetricType_HISTOGRAM {
				for _, m := range mf.GetMetric() {
					if err := checkHistogram(name, m); err != nil {
						t.Error(err)
					}
				}
			}
		}
	})
	t.Run("bounded label sets", func(t *testing.T) {
		a, b := flatSeries(first), flatSeries(second)
		t.Logf("%d series after %d rounds of random ids, %d after %d more", len(a), 20, len(b), 200)
		var added []string
		for k := range b {
			if !a[k] {
				added = append(added, k)
			}
		}
		if len(added) > 0 || len(b) != len(a) {
			slices.Sort(added)
			t.Errorf("the second round added %d series (%d to %d): %s", len(added), len(a), len(b), strings.Join(added[:min(len(added), 40)], "\n"))
		}
		for k := range b {
			for _, id := range sent {
				if strings.Contains(strings.ToLower(k), strings.ToLower(id)) {
					t.Fatalf("a label value made from a request: %s", k)
				}
			}
		}
	})
	t.Run("histogram_quantile", func(t *testing.T) {
		httpDecide := map[string]string{"route": "/v1/decide", "method": "POST", "code": "2xx"}
		for _, tc := range []struct {
			family string
			labels map[string]string
		}{
			{"nextbest_http_request_duration_seconds", httpDecide},
			{"nextbest_decide_duration_seconds", nil},
		} {
			h1, h2 := findHistogram(first, tc.family, tc.labels), findHistogram(second, tc.family, tc.labels)
			if h1 == nil || h2 == nil {
				t.Fatalf("no %s%v in the scrapes", tc.family, tc.labels)
			}
			if n := h2.GetSampleCount(); n != uint64(decided) {
				t.Errorf("%s counted %d decides, want %d", tc.family, n, decided)
			}
			all, window := promBuckets(h2, nil), promBuckets(h2, h1)
			p50, p99 := promQuantile(0.5, all), promQuantile(0.99, all)
			w50, w99 := promQuantile(0.5, window), promQuantile(0.99, window)
			t.Logf("histogram_quantile on %s: p50 %.3g s, p99 %.3g s; between the scrapes: p50 %.3g s, p99 %.3g s",
				tc.family, p50, p99, w50, w99)
			// Sane: a decide on this machine takes more than a microsecond and less than a
			// second (10 s for the -race build on shared cores); the p99 is no less than the p50.
			for _, q := range [][2]float64{{p50, p99}, {w50, w99}} {
				if !(q[0] > 1e-6 && q[0] <= q[1] && q[1] < 10) {
					t.Errorf("%s: p50 %v, p99 %v", tc.family, q[0], q[1])
				}
			}
		}
	})
	t.Run("grafana dashboard", func(t *testing.T) {
		checkGrafanaDashboard(t, "../../dashboards/grafana/nextbest.json", second)
	})
	t.Run("docs", func(t *testing.T) {
		checkOperationsDoc(t, "../../docs/operations.md", second)
	})
}

// TestPromQuantileKnownLatencies feeds the decide and learning-lag histograms of
// api.Metrics latencies of a known distribution, through the engine's observer methods,
// and checks histogram_quantile's estimate (promQuantile) on the exposition against the
// distribution's true quantiles: within the width of the bucket that holds the quantile
// for latencies shaped as a decide's are (log-normal), and exact (1 µs) for latencies
// uniform over whole buckets, where linear interpolation is exact.
func TestPromQuantileKnownLatencies(t *testing.T) {
	m := api.NewMetrics()
	// Uniform: 100 µs to 1 ms is the R5 buckets (100, 160], ..., (630, 1000] µs whole.
	const n = 9000
	uniform := make([]float64, n)
	for i := range uniform {
		uniform[i] = 100e-6 + (float64(i)+0.5)*900e-6/n
		m.Decided(&engine.Decision{}, time.Duration(uniform[i]*1e9))
	}
	// Log-normal, median 2 ms, σ = 1 (Limpert, Stahel & Abbt 2001, "Log-normal
	// distributions across the sciences", BioScience 51(5): a multiplicative spread of
	// e ≈ 2.7): group commits of a few milliseconds with a tail to seconds.
	rng := rand.New(rand.NewPCG(6, 18))
	lognormal := make([]float64, 20000)
	for i := range lognormal {
		lognormal[i] = 2e-3 * math.Exp(rng.NormFloat64())
		m.Committed(1, 1, time.Duration(lognormal[i]*1e9))
	}
	var buf bytes.Buffer
	m.WritePrometheus(&buf)
	mfs := parseExposition(t, &buf)

	for _, tc := range []struct {
		family string
		sample []float64
		exact  bool
	}{
		{"nextbest_decide_duration_seconds", uniform, true},
		{"nextbest_learning_lag_seconds", lognormal, false},
	} {
		h := findHistogram(mfs, tc.family, nil)
		if h == nil || h.GetSampleCount() != uint64(len(tc.sample)) {
			t.Fatalf("%s: %v", tc.family, h)
		}
		bs := promBuckets(h, nil)
		sorted := slices.Sorted(slices.Values(tc.sample))
		for _, q := range []float64{0.1, 0.25, 0.5, 0.75, 0.9, 0.99} {
			truth := sorted[int(q*float64(len(sorted)))]
			got := promQuantile(q, bs)
			i := slices.IndexFunc(bs, func(b promBucket) bool { return b.upperBound >= truth })
			lo, hi := 0.0, bs[i].upperBound
			if i > 0 {
				lo = bs[i-1].upperBound
			}
			tol := hi - lo // the bucket's width
			if tc.exact {
				tol = 1e-6
			}
			if math.Abs(got-truth) > tol {
				t.Errorf("%s: q%v = %.4g s, true %.4g s (bucket (%.3g, %.3g]): off by more than %.3g s", tc.family, q, got, truth, lo, hi, tol)
			}
		}
	}

	// Prometheus's special cases (promql/quantile.go): no observations, q out of [0, 1],
	// and the rank in the +Inf bucket (the highest finite bound).
	inf := math.Inf(1)
	for _, tc := range []struct {
		q    float64
		bs   []promBucket
		want float64
	}{
		{0.5, []promBucket{{1, 0}, {inf, 0}}, math.NaN()},
		{-0.1, []promBucket{{1, 1}, {inf, 1}}, math.Inf(-1)},
		{1.1, []promBucket{{1, 1}, {inf, 1}}, inf},
		{0.9, []promBucket{{1, 1}, {2, 1}, {inf, 10}}, 2},
		{0.5, []promBucket{{1, 4}, {2, 8}}, math.NaN()},  // no +Inf bucket
		{0.5, []promBucket{{2, 6}, {1, 4}, {inf, 8}}, 1}, // sorted first
		{0.25, []promBucket{{1, 4}, {3, 8}, {inf, 8}}, 0.5},
		{0.75, []promBucket{{1, 4}, {3, 8}, {inf, 8}}, 2},
	} {
		got := promQuantile(tc.q, slices.Clone(tc.bs))
		if got != tc.want && !(math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("promQuantile(%v, %v) = %v, want %v", tc.q, tc.bs, got, tc.want)
		}
	}
}

// promBucket is one bucket of a classic histogram: the count of observations at most
// upperBound.
type promBucket struct{ upperBound, count float64 }

// promQuantile is PromQL's histogram_quantile(q, ...) over the cumulative buckets of a
// classic histogram, as Prometheus computes it: bucketQuantile in promql/quantile.go
// (prometheus/prometheus at 01381a80115b). The buckets are sorted by upper bound and the
// highest must be +Inf; the rank is q times the +Inf bucket's count; the quantile lies in
// the first bucket whose count reaches the rank, and is interpolated linearly between the
// bucket's lower bound (the previous bucket's upper bound, or 0 for the first bucket if
// its upper bound is positive) and its upper bound, by the share of the bucket's own
// count below the rank. If the rank falls in the +Inf bucket, the highest finite bound is
// returned. NaN for q NaN, no observations, fewer than two buckets or no +Inf bucket; -Inf
// for q < 0 and +Inf for q > 1. (Prometheus also merges buckets of equal bounds and forces
// the counts monotonic; checkHistogram holds the server's to both instead.)
func promQuantile(q float64, buckets []promBucket) float64 {
	switch {
	case math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(1)
	}
	slices.SortFunc(buckets, func(a, b promBucket) int { return cmp.Compare(a.upperBound, b.upperBound) })
	if len(buckets) < 2 || !math.IsInf(buckets[len(buckets)-1].upperBound, 1) {
		return math.NaN()
	}
	total := buckets[len(buckets)-1].count
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	b, _ := slices.BinarySearchFunc(buckets[:len(buckets)-1], rank, func(x promBucket, r float64) int {
		if x.count >= r {
			return 1 // the search finds the first bucket whose count reaches the rank
		}
		return -1
	})
	if b == len(buckets)-1 {
		return buckets[len(buckets)-2].upperBound
	}
	if b == 0 && buckets[0].upperBound <= 0 {
		return buckets[0].upperBound
	}
	start, end, count := 0.0, buckets[b].upperBound, buckets[b].count
	if b > 0 {
		start = buckets[b-1].upperBound
		count -= buckets[b-1].count
		rank -= buckets[b-1].count
	}
	return start + (end-start)*(rank/count)
}

// promBuckets returns the buckets of h, less those of before (an earlier scrape of the
// same series, or nil): the increase Prometheus's rate(..._bucket[...]) is proportional to.
func promBuckets(h, before *dto.Histogram) []promBucket {
	var out []promBucket
	for i, b := range h.GetBucket() {
		c := float64(b.GetCumulativeCount())
		if before != nil {
			c -= float64(before.GetBucket()[i].GetCumulativeCount())
		}
		out = append(out, promBucket{b.GetUpperBound(), c})
	}
	return out
}

// scrapeFamilies reads /metrics of the server at base with Prometheus's text parser.
func scrapeFamilies(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	// Raw, not the client: the test checks the Content-Type header too.
	resp, err := httpClient.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain {
		t.Errorf("Content-Type %q is not Prometheus's text format", ct)
	}
	return parseExposition(t, bytes.NewReader(raw))
}

// parseExposition parses a text exposition. The parser checks names by the scheme it is
// given (since prometheus/common v0.66 its zero value has none and fails): the legacy one,
// [a-zA-Z_:][a-zA-Z0-9_:]*, which every Prometheus version reads.
func parseExposition(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("Prometheus's text parser: %v", err)
	}
	return mfs
}

// checkExposition checks every family for help, a type, and the lint of promtool check
// metrics; the families the server must have are there.
func checkExposition(t *testing.T, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	var all []*dto.MetricFamily
	for name, mf := range mfs {
		all = append(all, mf)
		if mf.GetHelp() == "" {
			t.Errorf("%s has no # HELP", name)
		}
		if mf.GetType() == dto.MetricType_UNTYPED {
			t.Errorf("%s has no # TYPE", name)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(all).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		// VictoriaMetrics/metrics names two Go runtime counters and a gauge with _count.
		if (p.Metric == "go_cgo_calls_count" || p.Metric == "go_gc_forced_count" || p.Metric == "go_cpu_count") &&
			(strings.Contains(p.Text, `"_count" suffix`) || strings.Contains(p.Text, `"_total" suffix`)) {
			continue
		}
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for _, name := range []string{
		"nextbest_http_request_duration_seconds", "nextbest_decide_duration_seconds", "nextbest_learning_lag_seconds",
		"nextbest_decisions_total", "nextbest_no_action_total", "nextbest_decide_amount_errors_total",
		"nextbest_feedback_total", "nextbest_group_commits_total",
		"nextbest_store_lsm_bytes", "nextbest_store_disk_free_bytes", "nextbest_build_info",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "go_goroutines",
	} {
		if mfs[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	for name, typ := range map[string]dto.MetricType{
		"nextbest_http_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"nextbest_decide_duration_seconds":       dto.MetricType_HISTOGRAM,
		"nextbest_learning_lag_seconds":          dto.MetricType_HISTOGRAM,
	} {
		if got := mfs[name].GetType(); got != typ {
			t.Errorf("%s: %s, want %s", name, got, typ)
		}
	}
}

// checkHistogram checks that a series of a histogram family is a classic histogram:
// bounds strictly increasing up to +Inf, counts cumulative, the +Inf bucket's count equal
// to _count where there is one (the Go runtime's histograms have none).
func checkHistogram(name string, m *dto.Metric) error {
	bs := m.GetHistogram().GetBucket()
	if len(bs) < 2 {
		return fmt.Errorf("%s%v: %d buckets", name, m.GetLabel(), len(bs))
	}
	for i := 1; i < len(bs); i++ {
		if bs[i].GetUpperBound() <= bs[i-1].GetUpperBound() || bs[i].GetCumulativeCount() < bs[i-1].GetCumulativeCount() {
			return fmt.Errorf("%s%v: bucket %d (le %v, %d) after (le %v, %d): not cumulative", name, m.GetLabel(), i,
				bs[i].GetUpperBound(), bs[i].GetCumulativeCount(), bs[i-1].GetUpperBound(), bs[i-1].GetCumulativeCount())
		}
	}
	last := bs[len(bs)-1]
	if !math.IsInf(last.GetUpperBound(), 1) {
		return fmt.Errorf("%s%v: no +Inf bucket", name, m.GetLabel())
	}
	if n := m.GetHistogram().SampleCount; n != nil && *n != last.GetCumulativeCount() {
		return fmt.Errorf("%s%v: _count %d, +Inf bucket %d", name, m.GetLabel(), *n, last.GetCumulativeCount())
	}
	return nil
}

// findHistogram returns the histogram of the series of family name whose labels include
// labels, or nil.
func findHistogram(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Histogram {
	for _, m := range mfs[name].GetMetric() {
		match := 0
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
				match++
			}
		}
		if match == len(labels) {
			return m.GetHistogram()
		}
	}
	return nil
}

// flatSeries returns every series of the families as Prometheus stores them: a
// histogram's buckets, sum and count, and a summary's quantiles, sum and count, each one.
func flatSeries(mfs map[string]*dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			slices.Sort(ls)
			base := "{" + strings.Join(ls, ",") + "}"
			switch mf.GetType() {
			case dto.MetricType_HISTOGRAM:
				for _, b := range m.GetHistogram().GetBucket() {
					out[fmt.Sprintf("%s_bucket%s le=%v", name, base, b.GetUpperBound())] = true
				}
				out[name+"_sum"+base], out[name+"_count"+base] = true, true
			case dto.MetricType_SUMMARY:
				for _, q := range m.GetSummary().GetQuantile() {
					out[fmt.Sprintf("%s%s quantile=%v", name, base, q.GetQuantile())] = true
				}
				out[name+"_sum"+base], out[name+"_count"+base] = true, true
			default:
				out[name+base] = true
			}
		}
	}
	return out
}

// grafanaDashboard is the part of a Grafana dashboard's JSON model the checks read.
type grafanaDashboard struct {
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	ID         int                `json:"id"`
	Type       string             `json:"type"`
	Title      string             `json:"title"`
	Datasource *grafanaDatasource `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr       string             `json:"expr"`
		RefID      string             `json:"refId"`
		Datasource *grafanaDatasource `json:"datasource"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's
}

type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// promqlFunctions are the PromQL functions and aggregations the dashboard may call.
var promqlFunctions = map[string]bool{
	"rate": true, "irate": true, "increase": true, "sum": true, "avg": true, "max": true, "min": true, "count": true,
	"histogram_quantile": true, "clamp_min": true, "clamp_max": true, "time": true, "topk": true, "max_over_time": true,
}

var (
	promqlString  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlMatcher = regexp.MustCompile(`\{[^}]*\}`)
	promqlRange   = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGroup   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent   = regexp.MustCompile(`\b[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promqlKeyword = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true, "Inf": true, "NaN": true}
	// promqlSelector is a metric name with its label matchers, if any.
	promqlSelector = regexp.MustCompile(`\b((?:nextbest|process|go)_[a-zA-Z0-9_:]*)(\{[^}]*\})?`)
	promqlRoute    = regexp.MustCompile(`route=~?"([^"]*)"`)
)

// promqlMetrics returns the metric names in a PromQL expression, and the functions it
// calls: the identifiers left once string literals, label matchers, ranges and grouping
// label lists are taken out.
func promqlMetrics(expr string) (metrics, functions []string) {
	s := promqlString.ReplaceAllString(expr, `""`)
	s = promqlMatcher.ReplaceAllString(s, " ")
	s = promqlRange.ReplaceAllString(s, " ")
	s = promqlGroup.ReplaceAllString(s, " ")
	for _, m := range promqlIdent.FindAllStringSubmatch(s, -1) {
		name := strings.TrimSpace(strings.TrimSuffix(m[0], m[1]))
		switch {
		case m[1] != "":
			functions = append(functions, name)
		case !promqlKeyword[name]:
			metrics = append(metrics, name)
		}
	}
	return metrics, functions
}

// checkGrafanaDashboard checks the dashboard's JSON model (a schema version, a data
// source variable that every panel and target uses, unique panel ids, a position and
// PromQL targets for every panel) and that every expression names only families the
// server exposes (mfs), with the suffixes their type allows (_bucket for histograms;
// _sum and _count for histograms and summaries), selects the instance variable, and
// names only routes the server has served.
func checkGrafanaDashboard(t *testing.T, path string, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.SchemaVersion < 36 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d, uid %q, title %q", d.SchemaVersion, d.UID, d.Title)
	}
	routes := map[string]bool{}
	for _, m := range mfs["nextbest_http_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" {
				routes[l.GetValue()] = true
			}
		}
	}
	var exprs []string
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "query" {
			var q struct{ Query string }
			if json.Unmarshal(v.Query, &q) != nil {
				json.Unmarshal(v.Query, &q.Query)
			}
			// label_values(metric, label)
			inner, ok := strings.CutPrefix(q.Query, "label_values(")
			name, _, ok2 := strings.Cut(inner, ",")
			if !ok || !ok2 || !exposed(mfs, name) {
				t.Errorf("variable %s: query %q is not label_values(metric, label) of an exposed metric", v.Name, q.Query)
			}
		}
	}
	if vars["datasource"] != "datasource" || vars["instance"] != "query" {
		t.Errorf("variables %v: want a datasource variable \"datasource\" and a query variable \"instance\"", vars)
	}
	ids := map[int]bool{}
	usesDS := func(ds *grafanaDatasource) bool {
		return ds != nil && ds.Type == "prometheus" && ds.UID == "${datasource}"
	}
	var walk func(ps []grafanaPanel)
	panels := 0
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if ids[p.ID] || p.ID == 0 {
				t.Errorf("panel %q: id %d not unique", p.Title, p.ID)
			}
			ids[p.ID] = true
			if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
				t.Errorf("panel %q: no gridPos", p.Title)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			panels++
			if !usesDS(p.Datasource) || len(p.Targets) == 0 {
				t.Errorf("panel %q: datasource %+v, %d targets; want the ${datasource} variable and a PromQL target", p.Title, p.Datasource, len(p.Targets))
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" || tg.RefID == "" || !usesDS(tg.Datasource) {
					t.Errorf("panel %q: target %+v", p.Title, tg)
				}
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)
	if panels < 10 {
		t.Errorf("%d panels", panels)
	}
	used := map[string]bool{}
	for _, e := range exprs {
		names, funcs := promqlMetrics(e)
		if len(names) == 0 {
			t.Errorf("%q names no metric", e)
		}
		for _, f := range funcs {
			if !promqlFunctions[f] {
				t.Errorf("%q calls %s, not a PromQL function the dashboard is known to use", e, f)
			}
		}
		for _, name := range names {
			if !exposed(mfs, name) {
				t.Errorf("%q: the server exposes no %s", e, name)
			}
			used[name] = true
		}
		if strings.Contains(e, "histogram_quantile") && (!strings.Contains(e, "_bucket") || !regexp.MustCompile(`by \([^)]*\ble\b`).MatchString(e)) {
			t.Errorf("%q: histogram_quantile wants the _bucket series summed by le", e)
		}
		for _, sel := range promqlSelector.FindAllStringSubmatch(e, -1) {
			if !strings.Contains(sel[2], `instance=~"$instance"`) {
				t.Errorf("%q: %s does not select instance=~\"$instance\"", e, sel[0])
			}
		}
		for _, r := range promqlRoute.FindAllStringSubmatch(e, -1) {
			if !routes[r[1]] {
				t.Errorf("%q: the server has no route %q (it has %v)", e, r[1], routes)
			}
		}
	}
	t.Logf("%d panels, %d expressions, %d metric names", panels, len(exprs), len(used))
}

// exposed reports whether name is a family of mfs, or a series of one (a histogram's
// _bucket, _sum or _count; a summary's _sum or _count).
func exposed(mfs map[string]*dto.MetricFamily, name string) bool {
	if mfs[name] != nil {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			switch mfs[base].GetType() {
			case dto.MetricType_HISTOGRAM:
				return true
			case dto.MetricType_SUMMARY:
				return suffix != "_bucket"
			}
		}
	}
	return false
}

// checkOperationsDoc checks that docs/operations.md names every nextbest family the
// server exposes, with its type, so that a new metric comes with its line there.
func checkOperationsDoc(t *testing.T, path string, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "nextbest_") {
			continue
		}
		row := regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(name) + "` \\| " + strings.ToLower(mf.GetType().String()) + " \\|")
		if !row.MatchString(doc) {
			t.Errorf("%s has no row \"| `%s` | %s |\"", path, name, strings.ToLower(mf.GetType().String()))
		}
	}
}
