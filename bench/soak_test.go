package bench

import (
	"bytes"
	"context"
	"io"
	"math"
	"regexp"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/testserver"
)

func TestHistogramQuantile(t *testing.T) {
	before := map[string]float64{`decide{le="0.001"}`: 10, `decide{le="0.0063"}`: 10, `decide{le="0.025"}`: 10, `decide{le="+Inf"}`: 10}
	after := map[string]float64{
		`decide{le="0.001"}`:  108, // 98 in the window
		`decide{le="0.0063"}`: 109, // 1 more
		`decide{le="0.025"}`:  110, // 1 more
		`decide{le="+Inf"}`:   110,
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, time.Millisecond},
		{0.98, time.Millisecond},
		{0.99, 6300 * time.Microsecond},
		{1, 25 * time.Millisecond},
	} {
		got, ok := histogramQuantile(before, after, tc.q)
		if !ok || got.Round(time.Microsecond) != tc.want {
			t.Errorf("q%.2f = %v, %v; want %v", tc.q, got, ok, tc.want)
		}
	}
	if _, ok := histogramQuantile(after, after, 0.99); ok {
		t.Error("no observations between two equal scrapes, but ok")
	}
	if _, ok := histogramQuantile(nil, after, 0.99); ok {
		t.Error("a failed scrape (nil), but ok")
	}
}

// TestScrapeDecideHistogram checks the soak's scrape against what a real server
// exports, so that a renamed metric fails here instead of emptying the soak's column.
func TestScrapeDecideHistogram(t *testing.T) {
	ctx := context.Background()
	s, err := spawnInProcess(ctx, "", t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	c := setupClient(s.url(), s.adminKey())
	before := decideHistogram(scrapeMetrics(ctx, c))
	if before == nil {
		t.Fatal("scrape failed")
	}
	for i := range 20 {
		if _, err := c.Decide(ctx, wire.DecideRequest{CustomerID: engine.CustomerID("c" + string(rune('a'+i))), Channel: "web"}); err != nil {
			t.Fatalf("decide: %v", err)
		}
	}
	after := decideHistogram(scrapeMetrics(ctx, c))
	if n := after[`decide{le="+Inf"}`] - before[`decide{le="+Inf"}`]; n != 20 {
		t.Fatalf("the scraped decide histogram counted %v decides, want 20 (buckets %v)", n, after)
	}
	if q, ok := histogramQuantile(before, after, 0.99); !ok || q <= 0 || q > 10*time.Second {
		t.Errorf("p99 of the scraped decides = %v, %v", q, ok)
	}
}

// TestSoakAtGivenRate runs the soak end to end against the real binary at a low fixed
// rate: every pair is sent, each window reports its rate and latencies, and the verdict
// is printed. Its latency targets are loose on purpose: speed is not what it checks.
func TestSoakAtGivenRate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary for 20 s")
	}
	bin := testserver.BuildNextbest(t)
	var out, errOut bytes.Buffer
	o := DefaultSoakOptions()
	o.Bin, o.Rate, o.Duration, o.P99, o.FeedbackP99, o.RSSGrowth = bin, 50, 20*time.Second, 10*time.Second, 10*time.Second, 100
	err := Soak(context.Background(), o, &out, &errOut)
	if err != nil {
		t.Fatalf("soak: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	text := out.String()
	for _, want := range []string{"soaking at the given rate: 50 pairs/s for 20s (no probe)", "soak passed", "store fsyncs: ", "server garbage collection: ", "goroutine scheduling latency p99 (runnable to running): server <"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "not sent") {
		t.Errorf("pairs skipped at 50 pairs/s:\n%s", text)
	}
	// Two windows, each with about 500 pairs (50/s for 10 s) and no errors.
	re := regexp.MustCompile(`(?m)^\s*(0|10)-\s*(10|20)s\s+(\d+)\s+.*\s(\d+)\s+\d+\s+\d+\s+\d+\s*$`)
	rows := re.FindAllStringSubmatch(text, -1)
	if len(rows) != 2 {
		t.Fatalf("want 2 windows in the report, found %d:\n%s", len(rows), text)
	}
	for _, r := range rows {
		if rate, _ := strconv.Atoi(r[3]); rate < 45 || rate > 55 {
			t.Errorf("window %s-%ss: %d pairs/s, want about 50", r[1], r[2], rate)
		}
		if r[4] != "0" {
			t.Errorf("window %s-%ss: %s errors", r[1], r[2], r[4])
		}
		if !strings.Contains(r[0], "<") { // the server's own p99, from its /metrics
			t.Errorf("window %s-%ss: no server p99 in %q", r[1], r[2], r[0])
		}
	}
}

func TestSoakRefusesBadFlags(t *testing.T) {
	existing := t.TempDir()
	for _, tc := range []struct {
		set  func(*SoakOptions)
		want string
	}{
		{func(o *SoakOptions) { o.Rate = -1 }, "soak: --rate must not be negative, got -1"},
		{func(o *SoakOptions) { o.InFlight = 0 }, "soak: --in-flight must be at least 1, got 0"},
		{func(o *SoakOptions) { o.Concurrency = 0 }, "soak: --concurrency must be at least 1, got 0"},
		{func(o *SoakOptions) { o.Fraction = 1.5 }, "soak: --fraction must be in (0, 1], got 1.5"},
		{func(o *SoakOptions) { o.Duration = 10 * time.Second }, "soak: --duration must be at least 20s (two 10 s windows), got 10s"},
		{func(o *SoakOptions) { o.Data = existing }, "soak: --data " + existing + " already exists; the soak needs a fresh store"},
	} {
		o := DefaultSoakOptions()
		tc.set(&o)
		var out, errOut bytes.Buffer
		err := Soak(context.Background(), o, &out, &errOut)
		if err == nil || err.Error() != tc.want {
			t.Errorf("soak %+v: error %v, want %q", o, err, tc.want)
		}
	}
}

// TestSchedQuantiles checks the two readers of scheduling-latency histograms the soak
// prints: the server's, cumulative Prometheus buckets between two scrapes, and the load
// generator's own, runtime/metrics counts between two reads.
func TestSchedQuantiles(t *testing.T) {
	a := map[string]float64{`h{le="0.001"}`: 10, `h{le="0.01"}`: 10, `h{le="+Inf"}`: 10, "other": 5}
	// Between the scrapes: 90 under 1 ms, 9 more under 10 ms, 1 above.
	b := map[string]float64{`h{le="0.001"}`: 100, `h{le="0.01"}`: 109, `h{le="+Inf"}`: 110, "other": 7}
	for _, tc := range []struct {
		q    float64
		want time.Duration
		ok   bool
	}{{0.5, time.Millisecond, true}, {0.9, time.Millisecond, true}, {0.95, 10 * time.Millisecond, true}, {0.99, 10 * time.Millisecond, true}, {0.999, 0, false}} {
		if got, ok := bucketQuantile(a, b, "h", tc.q); got != tc.want || ok != tc.ok {
			t.Errorf("server q%v: %v %v, want %v %v", tc.q, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := bucketQuantile(a, a, "h", 0.5); ok {
		t.Error("no observations between the scrapes, yet a quantile")
	}

	before := &metrics.Float64Histogram{Counts: []uint64{5, 0, 0}, Buckets: []float64{0, 1e-6, 1e-3, math.Inf(1)}}
	after := &metrics.Float64Histogram{Counts: []uint64{5 + 98, 1, 1}, Buckets: before.Buckets}
	if got, ok := clientSchedQuantile(before, after, 0.98); got != time.Microsecond || !ok {
		t.Errorf("client q0.98: %v %v", got, ok)
	}
	if got, ok := clientSchedQuantile(before, after, 0.99); got != time.Millisecond || !ok {
		t.Errorf("client q0.99: %v %v", got, ok)
	}
	if _, ok := clientSchedQuantile(before, after, 1); ok {
		t.Error("a quantile in the unbounded bucket")
	}
}

func TestSoakAnonGrowth(t *testing.T) {
	for _, tc := range []struct {
		anon []float64
		want string
	}{
		{[]float64{160, 270, 316, 345, 349, 345}, ""},                      // caches fill in the first half
		{[]float64{160, 200, 240, 280, 320, 360}, "from 280 MB to 360 MB"}, // steady growth: 29% in the second half
		{[]float64{300, 300, 300, 300, 300, 376}, "from 300 MB to 376 MB"}, // 25.3% in the second half
		{[]float64{300, 300, 300, 300, 300, 375}, ""},                      // exactly 25%
		{[]float64{100, 400}, ""},                                          // too short to judge
	} {
		got := anonGrowth(tc.anon, 0.25)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%v: %q, want %q", tc.anon, got, tc.want)
		}
	}
}
