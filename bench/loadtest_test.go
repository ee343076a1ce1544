package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLatencyQuantiles: the HDR histogram's quantiles are the nearest-rank percentiles
// (the smallest value with at least p% of the values at or below it) to its precision, 3
// significant digits: within 0.1%.
func TestLatencyQuantiles(t *testing.T) {
	// 1..100 ms: the nearest-rank p-th percentile of n values is the ceil(p/100*n)-th
	// smallest, so p50 is 50 ms, p90 90 ms, p99 99 ms and p100 the maximum.
	hundred := newLatencies()
	for i := range 100 {
		hundred.record(time.Duration(i+1) * time.Millisecond)
	}
	// 15, 20, 35, 40, 50 us: the textbook example of the nearest-rank method (Wikipedia,
	// "Percentile"): p30 = 20, p40 = 20, p50 = 35, p100 = 50.
	five := newLatencies()
	for _, v := range []time.Duration{50, 15, 35, 20, 40} {
		five.record(v * time.Microsecond)
	}
	one := newLatencies()
	one.record(7 * time.Microsecond)
	for _, tc := range []struct {
		name string
		h    *latencies
		q    float64
		want time.Duration
	}{
		{"1..100 p50", hundred, 0.50, 50 * time.Millisecond},
		{"1..100 p90", hundred, 0.90, 90 * time.Millisecond},
		{"1..100 p99", hundred, 0.99, 99 * time.Millisecond},
		{"1..100 p99.9", hundred, 0.999, 100 * time.Millisecond},
		{"1..100 p100", hundred, 1, 100 * time.Millisecond},
		{"1..100 p0.5 is the minimum", hundred, 0.005, time.Millisecond},
		{"five p30", five, 0.30, 20 * time.Microsecond},
		{"five p40", five, 0.40, 20 * time.Microsecond},
		{"five p50", five, 0.50, 35 * time.Microsecond},
		{"five p100", five, 1, 50 * time.Microsecond},
		{"one value", one, 0.99, 7 * time.Microsecond},
		{"empty", newLatencies(), 0.50, 0},
	} {
		got := tc.h.quantile(tc.q)
		if d := math.Abs(float64(got - tc.want)); d > 0.001*float64(tc.want) {
			t.Errorf("%s: quantile(%g) = %v, want %v within 0.1%%", tc.name, tc.q, got, tc.want)
		}
	}
	if got := hundred.max(); got < 100*time.Millisecond || got > 100100*time.Microsecond {
		t.Errorf("max = %v, want 100 ms within 0.1%%", got)
	}
}

func TestFillStats(t *testing.T) {
	// 1,000 latencies of 1..1000 us, unsorted, over 2 s, recorded by two workers and
	// merged: 500 req/s, p50 500 us, p90 900 us, p99 990 us, max 1 ms.
	a, b := newLatencies(), newLatencies()
	for i := range 1000 {
		h := a
		if i%2 == 1 {
			h = b
		}
		h.record(time.Duration((i*7919)%1000+1) * time.Microsecond) // 7919 is prime: a permutation
	}
	a.merge(b)
	r := ltPhaseResult{Seconds: 2}
	fillStats(&r, a)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"req/s", r.RPS, 500}, {"p50", r.P50, 0.5}, {"p90", r.P90, 0.9}, {"p99", r.P99, 0.99}, {"max", r.Max, 1}} {
		if d := math.Abs(c.got - c.want); d > 0.001*c.want { // the histogram's precision
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestProcMemory reads this process's memory through procfs: resident memory is the sum
// of its anonymous, file-backed and shared-memory parts, and the peak is at least it.
func TestProcMemory(t *testing.T) {
	m, err := procMemory(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if m.rss <= 0 || m.anon <= 0 || m.hwm < m.rss || m.anon+m.file > m.rss+0.01 {
		t.Errorf("procMemory = %+v: want rss > 0, anon > 0, hwm >= rss, anon + file <= rss", m)
	}
	if _, err := procMemory(1 << 30); err == nil {
		t.Error("procMemory of a pid that does not exist: no error")
	}
}

func TestFirstAdminKey(t *testing.T) {
	out := "\nFirst start: created an admin API key.\n\n    admin key: nbk_c544a6e8_JVLovMtFtGZELvdgFAOOrI_GPA9pBqUZrDpS6_5w8es\n\nnextbest dev serving on http://127.0.0.1:1\n"
	if got, want := firstAdminKey(out), "nbk_c544a6e8_JVLovMtFtGZELvdgFAOOrI_GPA9pBqUZrDpS6_5w8es"; got != want {
		t.Errorf("firstAdminKey = %q, want %q", got, want)
	}
	if got := firstAdminKey("nextbest dev serving on http://127.0.0.1:1\n"); got != "" {
		t.Errorf("firstAdminKey without a key = %q, want empty", got)
	}
}

func TestLoadtestRefusesRemoteTargets(t *testing.T) {
	var out, errOut bytes.Buffer
	for _, addr := range []string{"10.0.0.1:8080", "example.com:80", "0.0.0.0:8080"} {
		o := DefaultLoadtestOptions()
		o.Addr = addr
		if err := Loadtest(context.Background(), o, &out, &errOut); err == nil {
			t.Errorf("loadtest --addr %s: no error, want a refusal of a non-loopback target", addr)
		}
	}
}

// TestLoadtestSpawnSmoke runs the whole load test briefly against an in-process server:
// every phase must report throughput and no errors.
func TestLoadtestSpawnSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server and three one-second load phases")
	}
	path := filepath.Join(t.TempDir(), "loadtest.json")
	var out, errOut bytes.Buffer
	o := DefaultLoadtestOptions()
	o.Spawn, o.Duration, o.Warmup, o.Concurrency, o.FeedbackC, o.Customers, o.FeedbackIDs, o.JSON = true, time.Second, 200*time.Millisecond, 4, 8, 50, 1000, path
	if err := Loadtest(context.Background(), o, &out, &errOut); err != nil {
		t.Fatalf("loadtest: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	t.Logf("loadtest output:\n%s", out.String())
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep loadtestReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Phases) != 3 {
		t.Fatalf("%d phases in the report, want healthz, decide, feedback", len(rep.Phases))
	}
	for i, want := range []string{"healthz", "decide", "feedback"} {
		p := rep.Phases[i]
		if p.Phase != want {
			t.Errorf("phase %d is %q, want %q", i, p.Phase, want)
		}
		if p.Requests == 0 || p.RPS <= 0 || p.P50 <= 0 {
			t.Errorf("%s: %d requests, %.0f/s, p50 %.3f ms; want throughput", p.Phase, p.Requests, p.RPS, p.P50)
		}
		if p.Errors != 0 {
			t.Errorf("%s: %d errors, first: %s", p.Phase, p.Errors, p.FirstError)
		}
	}
	if rep.DecideOfCeiling <= 0 {
		t.Errorf("decide as a share of the ceiling = %v, want > 0", rep.DecideOfCeiling)
	}
}
