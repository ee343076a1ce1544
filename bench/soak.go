package bench

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
	"golang.org/x/sync/errgroup"
)

// SoakOptions configure Soak (nextbest-bench soak).
type SoakOptions struct {
	Duration       time.Duration // length of the soak
	Fraction       float64       // share of the probed maximum rate to hold
	Rate           float64       // pairs/s to hold instead (no probe)
	P99            time.Duration // decide's p99 target per window
	FeedbackP99    time.Duration // durable feedback's p99 target per window
	RSSGrowth      float64       // largest allowed growth of anonymous memory over the second half
	Probe          time.Duration // length of the maximum-rate probe
	Concurrency    int           // clients in the probe
	InFlight       int           // the most pairs in flight during the soak
	Bin            string        // nextbest binary; default: beside this executable, else $PATH
	Config         string        // YAML config for the server
	Data           string        // store directory, kept afterwards; must not exist yet
	ServerProfiles string        // directory for the server's CPU profile of each window
}

// DefaultSoakOptions returns the defaults of nextbest-bench soak.
func DefaultSoakOptions() SoakOptions {
	return SoakOptions{Duration: 60 * time.Second, Fraction: 0.8, P99: 10 * time.Millisecond, FeedbackP99: 100 * time.Millisecond,
		RSSGrowth: 0.25, Probe: 20 * time.Second, Concurrency: 32, InFlight: 256}
}

// Validate checks the options; the error names the flag.
func (o SoakOptions) Validate() error {
	switch {
	case o.Fraction <= 0 || o.Fraction > 1:
		return fmt.Errorf("soak: --fraction must be in (0, 1], got %v", o.Fraction)
	case o.Duration < 20*time.Second:
		return fmt.Errorf("soak: --duration must be at least 20s (two 10 s windows), got %v", o.Duration)
	case o.Rate < 0:
		return fmt.Errorf("soak: --rate must not be negative, got %v", o.Rate)
	case o.InFlight < 1:
		return fmt.Errorf("soak: --in-flight must be at least 1, got %d", o.InFlight)
	case o.Concurrency < 1:
		return fmt.Errorf("soak: --concurrency must be at least 1, got %d", o.Concurrency)
	case o.Data != "" && exists(o.Data):
		return fmt.Errorf("soak: --data %s already exists; the soak needs a fresh store", o.Data)
	}
	return nil
}

// Soak runs the real binary as a subprocess on a fresh store (loopback only), measures
// the maximum rate of decide+feedback pairs with a closed loop (the probe; the maximum is
// the rate over its second half, once the store has grown past its first seconds), then
// drives an open loop at Fraction of that rate (or at Rate, without a probe) for
// Duration: a pair is sent every 1/rate whether or not earlier ones have been answered, up
// to InFlight pending (a pair due beyond that is counted, not sent). It reports per
// 10-second window the achieved rate, the p50 and p99 latency of decide and of durable
// feedback, and the server's resident memory: in total (VmRSS), anonymous (Go heap and
// stacks, held under memory_limit_mb) and file-backed (Badger's mapped files: page cache
// that grows with the store and that the kernel reclaims under pressure). It fails if
// decide's p99 exceeds P99 or feedback's exceeds FeedbackP99 in any window, or if
// anonymous memory grows more than RSSGrowth over the second half of the soak (from the
// middle window to the last: in the first half the caches fill up to their sizes).
func Soak(ctx context.Context, o SoakOptions, stdout, stderr io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	exe, err := nextbestBinary(o.Bin)
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	dir, err := os.MkdirTemp("", "nextbest-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	if o.Data != "" {
		data = o.Data
	}
	// The real binary with its defaults (keys on, memory_limit_mb), as loadtest --memory
	// runs it; its log goes to a file named in any start-up error.
	srv, err := startProcess(ctx, exe, data, o.Config, filepath.Join(dir, "server.log"))
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	defer srv.kill()
	t, err := newLtTarget(ctx, srv.url(), srv.adminKey(), nil)
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	admin := t.admin
	defer admin.CloseIdleConnections()
	load := t.load(2 * max(o.Concurrency, o.InFlight))
	defer load.CloseIdleConnections()
	// The workload: 20 actions; decide with a 30-field context, then feedback on it.
	for i := range 20 {
		if _, err := admin.PutAction(ctx, engine.ActionID(fmt.Sprintf("a%02d", i)), wire.ActionRequest{Value: &engine.Money{Const: float64(10 + i)}, Lever: new(1.0)}); err != nil {
			return fmt.Errorf("soak: %w", err)
		}
	}
	// The decide requests are built before the clock starts, as loadtest's are: 30-field
	// contexts over 100,000 customers, most without a profile.
	reqs := decideRequests(rand.New(rand.NewPCG(7, 1)), 100000, nil)
	// pair sends one decide and, if it offered an action, feedback on it; it returns the
	// latency of each (feedback 0 when none was sent).
	pair := func(rng *rand.Rand) (decide, feedback time.Duration, err error) {
		start := time.Now()
		res, err := load.Decide(ctx, reqs[rng.IntN(len(reqs))])
		if err != nil {
			return 0, 0, err
		}
		decide = time.Since(start)
		if len(res.Actions) == 0 {
			return decide, 0, nil
		}
		outcome := engine.Ignored
		if rng.IntN(10) == 0 {
			outcome = engine.Accepted
		}
		start = time.Now()
		_, err = load.Feedback(ctx, wire.FeedbackRequest{DecisionID: res.DecisionID, ActionID: res.Actions[0].ID, Outcome: outcome})
		return decide, time.Since(start), err
	}

	rate := o.Rate
	if rate > 0 {
		fmt.Fprintf(stdout, "soaking at the given rate: %.0f pairs/s for %s (no probe)\n", rate, o.Duration)
	} else {
		fmt.Fprintf(stderr, "probing the maximum rate for %s with %d clients...\n", o.Probe, o.Concurrency)
		firstRate, maxRate, err := soakProbe(ctx, o.Concurrency, o.Probe, pair)
		if err != nil {
			return err
		}
		rate = o.Fraction * maxRate
		fmt.Fprintf(stdout, "maximum: %.0f decide+feedback pairs/s (%.0f requests/s) over the probe's second half (first half: %.0f pairs/s); soaking at %.0f%%: %.0f pairs/s for %s\n", maxRate, 2*maxRate, firstRate, 100*o.Fraction, rate, o.Duration)
	}

	// Soak: open loop, one pair every 1/rate, at most --in-flight pending.
	type window struct {
		lat, fb *latencies // decide and feedback latencies
		n       int
		err     int
	}
	var mu sync.Mutex
	windows := make([]window, int(o.Duration.Seconds()/10))
	for w := range windows {
		windows[w].lat, windows[w].fb = newLatencies(), newLatencies()
	}
	sem := make(chan struct{}, o.InFlight)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	var skipped atomic.Int64
	// A sampler beside the pacing loop, so that reading the server's memory and scraping
	// its metrics never delays a pair: memory every second, and the server's own
	// histogram of decide latency (what the service measured, without the load
	// generator's share of the cores and the loopback) from /metrics at the start and
	// after each window.
	var memSeries []ltMemInfo
	metrics0, sched0 := scrapeMetrics(ctx, admin), clientSchedLatencies()
	scrapes := []map[string]float64{decideHistogram(metrics0)}
	sampleCtx, stopSampler := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for k := 1; ; k++ {
			select {
			case <-sampleCtx.Done():
				return
			case <-tick.C:
			}
			if m, err := procMemory(srv.pid()); err == nil {
				memSeries = append(memSeries, m)
			}
			if k%10 == 0 && len(scrapes) < len(windows) {
				scrapes = append(scrapes, decideHistogram(scrapeMetrics(sampleCtx, admin)))
			}
		}
	}()
	profiled := make(chan error, 1)
	if o.ServerProfiles != "" {
		go func() { profiled <- soakProfiles(sampleCtx, admin, o.ServerProfiles, len(windows)) }()
	} else {
		profiled <- nil
	}
	next := start
	rng := rand.New(rand.NewPCG(99, 1))
	for i := 0; time.Since(start) < o.Duration; i++ {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		select {
		case sem <- struct{}{}:
		default:
			skipped.Add(1) // more than `workers` in flight: the server is falling behind
			continue
		}
		r := rand.New(rand.NewPCG(rng.Uint64(), uint64(i)))
		at := time.Since(start)
		go func() {
			defer func() { <-sem }()
			lat, fb, err := pair(r)
			w := int(at / (10 * time.Second))
			if w >= len(windows) {
				return
			}
			mu.Lock()
			if err != nil {
				windows[w].err++
			} else {
				windows[w].lat.record(lat)
				if fb > 0 {
					windows[w].fb.record(fb)
				}
				windows[w].n++
			}
			mu.Unlock()
		}()
	}
	for range o.InFlight {
		sem <- struct{}{}
	}
	stopSampler()
	<-sampled
	if err := <-profiled; err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	metrics1, sched1 := scrapeMetrics(ctx, admin), clientSchedLatencies()
	if len(scrapes) == len(windows) { // the last window ends once its pairs have
		scrapes = append(scrapes, decideHistogram(metrics1))
	}
	soakTime := time.Since(start)
	if err := srv.stop(); err != nil { // SIGTERM after the load, as an operator would
		return fmt.Errorf("soak: %w", err)
	}
	fmt.Fprintf(stdout, "%-9s %8s %22s %11s %22s %7s %22s\n", "", "", "decide", "decide", "feedback", "", "memory MB")
	fmt.Fprintf(stdout, "%-9s %8s %11s %10s %11s %11s %10s %7s %8s %6s %6s\n", "window", "pairs/s", "p50", "p99", "server p99", "p50", "p99", "errors", "RSS", "anon", "file")
	failed := []string{}
	var anon []float64
	for w := range windows {
		dp50, dp99 := windows[w].lat.quantile(0.50), windows[w].lat.quantile(0.99)
		fp50, fp99 := windows[w].fb.quantile(0.50), windows[w].fb.quantile(0.99)
		var m ltMemInfo
		if k := (w+1)*10 - 1; k < len(memSeries) {
			m = memSeries[k]
		} else if len(memSeries) > 0 {
			m = memSeries[len(memSeries)-1]
		}
		anon = append(anon, m.anon)
		r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
		server := "-"
		if w+1 < len(scrapes) {
			if q, ok := histogramQuantile(scrapes[w], scrapes[w+1], 0.99); ok {
				server = "<" + r(q)
			}
		}
		fmt.Fprintf(stdout, "%3d-%3ds %8.0f %11s %10s %11s %11s %10s %7d %8.0f %6.0f %6.0f\n", w*10, w*10+10, float64(windows[w].n)/10, r(dp50), r(dp99), server, r(fp50), r(fp99), windows[w].err, m.rss, m.anon, m.file)
		if dp99 > o.P99 {
			failed = append(failed, fmt.Sprintf("window %d: decide p99 %s over %s", w, r(dp99), o.P99))
		}
		if fp99 > o.FeedbackP99 {
			failed = append(failed, fmt.Sprintf("window %d: feedback p99 %s over %s", w, r(fp99), o.FeedbackP99))
		}
		if windows[w].err > 0 {
			failed = append(failed, fmt.Sprintf("window %d: %d errors", w, windows[w].err))
		}
	}
	if f := anonGrowth(anon, o.RSSGrowth); f != "" {
		failed = append(failed, f)
	}
	const fsyncs, fsyncSeconds = "nextbest_store_fsyncs_total", "nextbest_store_fsync_seconds_total"
	if n := metrics1[fsyncs] - metrics0[fsyncs]; n > 0 {
		fmt.Fprintf(stdout, "store fsyncs: %.0f/s, %s each on average\n", n/soakTime.Seconds(), time.Duration((metrics1[fsyncSeconds]-metrics0[fsyncSeconds])/n*float64(time.Second)).Round(time.Microsecond))
	}
	// The server's garbage collection over the soak: how often, and its share of the
	// server's CPU (the runtime's estimate of the collector's CPU time, assists included).
	if cpu := metrics1["process_cpu_seconds_total"] - metrics0["process_cpu_seconds_total"]; cpu > 0 {
		cycles := metrics1["go_gc_duration_seconds_count"] - metrics0["go_gc_duration_seconds_count"]
		gc := metrics1["go_gc_cpu_seconds_total"] - metrics0["go_gc_cpu_seconds_total"]
		fmt.Fprintf(stdout, "server garbage collection: %.1f cycles/s, %.0f%% of the server's CPU (%.2f of %.2f CPU-seconds)\n", cycles/soakTime.Seconds(), 100*gc/cpu, gc, cpu)
	}
	// Time a goroutine waited to run once runnable (Go's runtime/metrics), in either
	// process: where a request waits outside the server's handlers.
	server99, ok1 := bucketQuantile(metrics0, metrics1, "go_sched_latencies_seconds_bucket", 0.99)
	client99, ok2 := clientSchedQuantile(sched0, sched1, 0.99)
	if ok1 && ok2 {
		fmt.Fprintf(stdout, "goroutine scheduling latency p99 (runnable to running): server <%s, load generator <%s\n", server99.Round(time.Microsecond), client99.Round(time.Microsecond))
	}
	fmt.Fprintf(stdout, "store on disk at the end: %.0f MB (file-backed memory is Badger's mapped files: page cache)\n", float64(store.DiskUsage(data))/(1<<20))
	if n := skipped.Load(); n > 0 {
		fmt.Fprintf(stdout, "%d pairs not sent because %d were already in flight (the server fell behind the rate)\n", n, o.InFlight)
	}
	if len(failed) > 0 {
		return fmt.Errorf("soak failed: %s", strings.Join(failed, "; "))
	}
	fmt.Fprintf(stdout, "soak passed: decide p99 under %s and feedback p99 under %s in every window, anonymous memory growth over the second half within %.0f%%\n", o.P99, o.FeedbackP99, 100*o.RSSGrowth)
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// anonGrowth says how anonymous memory (MB per window) grew over the soak's second half,
// from the middle window to the last, if by more than the fraction limit; "" if not, or
// with fewer than three windows. The first half is left out: the caches fill up in it.
func anonGrowth(anon []float64, limit float64) string {
	mid, last := len(anon)/2, len(anon)-1
	if len(anon) < 3 || anon[mid] <= 0 || anon[last] <= anon[mid]*(1+limit) {
		return ""
	}
	return fmt.Sprintf("anonymous memory grew from %.0f MB to %.0f MB over the second half", anon[mid], anon[last])
}

// soakProfiles writes the server's CPU profile of each of n 10 s windows to dir, one
// after the other, until ctx ends (the soak's last window is cut short when it does).
func soakProfiles(ctx context.Context, admin *client.Client, dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("server profiles: %w", err)
	}
	var buf bytes.Buffer
	for k := range n {
		buf.Reset()
		err := admin.Profile(ctx, "profile", 10, &buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("server profile of window %d: %w", k, err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("cpu-window-%d.pprof", k)), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("server profiles: %w", err)
		}
	}
	return nil
}

// decideSeries is the prefix of the buckets of the server's latency histogram of
// successful decides (api.Metrics), up to the value of their le label.
const decideSeries = `nextbest_http_request_duration_seconds_bucket{route="/v1/decide",method="POST",code="2xx",le="`

// decideHistogram picks the server's decide latency buckets out of a scrape
// (scrapeMetrics), as decide{le="x"}: the cumulative count of decides that took at most x
// seconds. It returns nil for a failed scrape, and the window's server column then shows
// "-".
func decideHistogram(metrics map[string]float64) map[string]float64 {
	if len(metrics) == 0 {
		return nil
	}
	out := map[string]float64{}
	for series, n := range metrics {
		if le, ok := strings.CutPrefix(series, decideSeries); ok {
			out[`decide{le="`+le] = n
		}
	}
	return out
}

// bucketQuantile returns the upper bound of the Prometheus histogram bucket (name{le="x"},
// cumulative) that holds quantile q of the observations made between scrapes a and b.
func bucketQuantile(a, b map[string]float64, name string, q float64) (time.Duration, bool) {
	type bucket struct{ le, n float64 }
	var bs []bucket
	for series, n := range b {
		le, ok := strings.CutPrefix(series, name+`{le="`)
		if !ok {
			continue
		}
		le = strings.TrimSuffix(le, `"}`)
		v, err := strconv.ParseFloat(le, 64)
		if le == "+Inf" {
			v, err = math.Inf(1), nil
		}
		if err == nil {
			bs = append(bs, bucket{v, n - a[series]})
		}
	}
	slices.SortFunc(bs, func(x, y bucket) int { return cmp.Compare(x.le, y.le) })
	if len(bs) == 0 || bs[len(bs)-1].n <= 0 {
		return 0, false
	}
	for _, bk := range bs {
		if bk.n >= q*bs[len(bs)-1].n {
			if math.IsInf(bk.le, 1) {
				return 0, false
			}
			return time.Duration(bk.le * float64(time.Second)), true
		}
	}
	return 0, false
}

// clientSchedLatencies reads this process's histogram of goroutine scheduling latencies.
func clientSchedLatencies() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

// clientSchedQuantile returns the upper bound of the bucket that holds quantile q of the
// scheduling latencies observed between a and b.
func clientSchedQuantile(a, b *metrics.Float64Histogram, q float64) (time.Duration, bool) {
	if a == nil || b == nil || len(a.Counts) != len(b.Counts) {
		return 0, false
	}
	var total uint64
	for i := range b.Counts {
		total += b.Counts[i] - a.Counts[i]
	}
	if total == 0 {
		return 0, false
	}
	var seen uint64
	for i := range b.Counts {
		seen += b.Counts[i] - a.Counts[i]
		if float64(seen) >= q*float64(total) {
			hi := b.Buckets[i+1]
			if math.IsInf(hi, 1) {
				return 0, false
			}
			return time.Duration(hi * float64(time.Second)), true
		}
	}
	return 0, false
}

// histogramQuantile returns the upper bound of the bucket of the decide histogram
// (decideHistogram) that holds quantile q of the decides made between scrapes a and b.
// ok is false without observations, or when q falls above the highest finite bucket.
func histogramQuantile(a, b map[string]float64, q float64) (time.Duration, bool) {
	if a == nil || b == nil {
		return 0, false
	}
	return bucketQuantile(a, b, "decide", q)
}

// soakProbe runs pair in a closed loop with every worker busy for probe, and returns the
// rate of pairs over its first half and over its second. The rate falls as the store
// grows (more compaction, more of the value log to write), so the first seconds on a
// fresh store overstate what the server sustains: the soak takes the second half's rate
// as the maximum, and shows the first half's beside it.
func soakProbe(ctx context.Context, workers int, probe time.Duration, pair func(*rand.Rand) (time.Duration, time.Duration, error)) (first, second float64, err error) {
	var done atomic.Int64
	pctx, cancel := context.WithTimeout(ctx, probe)
	defer cancel()
	g, gctx := errgroup.WithContext(pctx)
	for w := range workers {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for gctx.Err() == nil {
				if _, _, err := pair(rng); err != nil {
					return err // ends the probe: the others stop at their next pair
				}
				done.Add(1)
			}
			return nil
		})
	}
	half := probe / 2
	select {
	case <-time.After(half):
	case <-gctx.Done():
	}
	atHalf := done.Load()
	if err := g.Wait(); err != nil {
		return 0, 0, fmt.Errorf("soak: probe: %w", err)
	}
	return float64(atHalf) / half.Seconds(), float64(done.Load()-atHalf) / (probe - half).Seconds(), nil
}
