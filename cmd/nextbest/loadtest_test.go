package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 ms: the nearest-rank p-th percentile of n values is the ceil(p/100*n)-th
	// smallest, so p50 is 50 ms, p90 90 ms, p99 99 ms and p100 the maximum.
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	// 15, 20, 35, 40, 50: the textbook example of the nearest-rank method (Wikipedia,
	// "Percentile"): p30 = 20, p40 = 20, p50 = 35, p100 = 50.
	five := []time.Duration{15, 20, 35, 40, 50}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"1..100 p50", hundred, 50, 50 * time.Millisecond},
		{"1..100 p90", hundred, 90, 90 * time.Millisecond},
		{"1..100 p99", hundred, 99, 99 * time.Millisecond},
		{"1..100 p99.9", hundred, 99.9, 100 * time.Millisecond},
		{"1..100 p100", hundred, 100, 100 * time.Millisecond},
		{"1..100 p0.5 is the minimum", hundred, 0.5, time.Millisecond},
		{"five p30", five, 30, 20},
		{"five p40", five, 40, 20},
		{"five p50", five, 50, 35},
		{"five p100", five, 100, 50},
		{"one value", []time.Duration{7}, 99, 7},
		{"empty", nil, 50, 0},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: percentile(p=%g) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestFillStats(t *testing.T) {
	// 1,000 latencies of 1..1000 us, unsorted, over 2 s: 500 req/s, p50 500 us, p90 900 us,
	// p99 990 us, max 1 ms.
	lats := make([]time.Duration, 1000)
	for i := range lats {
		lats[i] = time.Duration((i*7919)%1000+1) * time.Microsecond // 7919 is prime: a permutation
	}
	r := ltPhaseResult{Seconds: 2}
	fillStats(&r, lats)
	const tol = 1e-9 // ms; the values are exact in binary up to rounding of the division
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"req/s", r.RPS, 500}, {"p50", r.P50, 0.5}, {"p90", r.P90, 0.9}, {"p99", r.P99, 0.99}, {"max", r.Max, 1}} {
		if d := c.got - c.want; d > tol || d < -tol {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseProcStatus(t *testing.T) {
	raw := []byte("Name:\tnextbest\nVmPeak:\t 2000000 kB\nVmHWM:\t  409600 kB\nVmRSS:\t  204800 kB\nRssAnon:\t  153600 kB\nRssFile:\t   51200 kB\nRssShmem:\t       0 kB\nThreads:\t12\n")
	m := parseProcStatus(raw)
	// 204800 kB = 200 MB, 409600 kB = 400 MB, 153600 kB = 150 MB, 51200 kB = 50 MB.
	if want := (ltMemInfo{rss: 200, hwm: 400, anon: 150, file: 50}); m != want {
		t.Errorf("parseProcStatus = %+v, want %+v", m, want)
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
		if err := cmdLoadtest(context.Background(), []string{"--addr", addr}, &out, &errOut); err == nil {
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
	args := []string{"--spawn", "--duration", "1s", "--warmup", "200ms", "--concurrency", "4", "--feedback-concurrency", "8", "--customers", "50", "--feedback-decisions", "1000", "--json", path}
	if err := cmdLoadtest(context.Background(), args, &out, &errOut); err != nil {
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
