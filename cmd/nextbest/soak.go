package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

const soakUsage = `Usage:
  nextbest soak [--duration 60s] [--fraction 0.8] [--p99 10ms] [--feedback-p99 100ms]

Runs the real binary as a subprocess on a fresh store (loopback only), measures the
maximum rate of decide+feedback pairs with a closed loop, then drives an open loop at
--fraction of that rate for --duration, reporting per 10-second window the achieved
rate, the p50 and p99 latency of decide and of durable feedback, and the server's
resident memory: in total (VmRSS), anonymous (Go heap and stacks, held under
memory_limit_mb) and file-backed (Badger's mapped files: page cache that grows with the
store and that the kernel reclaims under pressure). It fails (exit 2) if decide's p99
exceeds --p99 or feedback's exceeds --feedback-p99 in any window, or if anonymous memory
grows more than --rss-growth between the second window and the last.
docs/benchmarks.md has the figures.
`

func cmdSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, soakUsage); fs.PrintDefaults() }
	duration := fs.Duration("duration", 60*time.Second, "length of the soak")
	fraction := fs.Float64("fraction", 0.8, "share of the measured maximum rate to hold")
	p99Target := fs.Duration("p99", 10*time.Millisecond, "decide's p99 latency target per window (issue 3's)")
	fbP99Target := fs.Duration("feedback-p99", 100*time.Millisecond, "durable feedback's p99 latency target per window")
	rssGrowth := fs.Float64("rss-growth", 0.25, "largest allowed growth of anonymous memory from the second window to the last, as a fraction")
	probe := fs.Duration("probe", 10*time.Second, "length of the maximum-rate probe")
	workers := fs.Int("concurrency", 32, "clients in the probe (and the most in flight during the soak)")
	bin := fs.String("bin", "", "nextbest binary (default: this executable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fraction <= 0 || *fraction > 1 || *duration < 20*time.Second {
		return errors.New("soak: --fraction must be in (0, 1] and --duration at least 20s")
	}
	exe := *bin
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "nextbest-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.CommandContext(ctx, exe, "serve", "--addr", addr, "--data", filepath.Join(dir, "data"), "--no-demo", "--insecure-local")
	var serverLog bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &serverLog
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("soak: start server: %w", err)
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	base := "http://" + addr
	// fasthttp, as loadtest's measured phases: the load generator shares the machine.
	client := newFastClient(*workers * 2)
	defer client.CloseIdleConnections()
	if err := soakReady(ctx, client, base); err != nil {
		return fmt.Errorf("soak: %w\n%s", err, serverLog.String())
	}
	// The workload: 20 actions; decide with a 30-field context, then feedback on it.
	for i := range 20 {
		body := fmt.Sprintf(`{"value": %d, "lever": 1}`, 10+i)
		if err := post(client, "PUT", base+fmt.Sprintf("/v1/actions/a%02d", i), body, nil); err != nil {
			return err
		}
	}
	// pair sends one decide and, if it offered an action, feedback on it; it returns the
	// latency of each (feedback 0 when none was sent).
	pair := func(rng *rand.Rand) (decide, feedback time.Duration, err error) {
		ctxFields := make([]string, 0, 30)
		for f := range 30 {
			switch f % 3 {
			case 0:
				ctxFields = append(ctxFields, fmt.Sprintf(`"n%d": %.3f`, f, rng.Float64()*100))
			case 1:
				ctxFields = append(ctxFields, fmt.Sprintf(`"s%d": "v%d"`, f, rng.IntN(20)))
			default:
				ctxFields = append(ctxFields, fmt.Sprintf(`"b%d": %t`, f, rng.IntN(2) == 0))
			}
		}
		start := time.Now()
		var d struct {
			DecisionID string `json:"decision_id"`
			Actions    []struct {
				ID string `json:"id"`
			} `json:"actions"`
		}
		body := fmt.Sprintf(`{"customer_id": "c%d", "channel": "web", "context": {%s}}`, rng.IntN(100000), strings.Join(ctxFields, ", "))
		if err := post(client, "POST", base+"/v1/decide", body, &d); err != nil {
			return 0, 0, err
		}
		decide = time.Since(start)
		if len(d.Actions) == 0 {
			return decide, 0, nil
		}
		outcome := "ignored"
		if rng.IntN(10) == 0 {
			outcome = "accepted"
		}
		fb := fmt.Sprintf(`{"decision_id": %q, "action_id": %q, "outcome": %q}`, d.DecisionID, d.Actions[0].ID, outcome)
		start = time.Now()
		err = post(client, "POST", base+"/v1/feedback", fb, nil)
		return decide, time.Since(start), err
	}

	// Probe: closed loop with every worker busy.
	fmt.Fprintf(stderr, "probing the maximum rate for %s with %d clients...\n", *probe, *workers)
	var done atomic.Int64
	var probeErr atomic.Value
	pctx, cancel := context.WithTimeout(ctx, *probe)
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for pctx.Err() == nil {
				if _, _, err := pair(rng); err != nil {
					probeErr.Store(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	cancel()
	if err, _ := probeErr.Load().(error); err != nil {
		return fmt.Errorf("soak: probe: %w", err)
	}
	maxRate := float64(done.Load()) / probe.Seconds()
	rate := *fraction * maxRate
	fmt.Fprintf(stdout, "maximum: %.0f decide+feedback pairs/s (%.0f requests/s); soaking at %.0f%%: %.0f pairs/s for %s\n", maxRate, 2*maxRate, 100**fraction, rate, *duration)

	// Soak: open loop, one pair every 1/rate, at most `workers` in flight.
	type window struct {
		lat, fb []time.Duration // decide and feedback latencies
		n       int
		err     int
	}
	var mu sync.Mutex
	windows := make([]window, int(duration.Seconds()/10))
	sem := make(chan struct{}, *workers)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	var skipped atomic.Int64
	var memSeries []ltMemInfo
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	next := start
	rng := rand.New(rand.NewPCG(99, 1))
	for i := 0; time.Since(start) < *duration; i++ {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		select {
		case <-ticker.C:
			if m, err := procMemory(cmd.Process.Pid); err == nil {
				memSeries = append(memSeries, m)
			}
		default:
		}
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
				windows[w].lat = append(windows[w].lat, lat)
				if fb > 0 {
					windows[w].fb = append(windows[w].fb, fb)
				}
				windows[w].n++
			}
			mu.Unlock()
		}()
	}
	for range *workers {
		sem <- struct{}{}
	}
	fmt.Fprintf(stdout, "%-9s %8s %22s %22s %7s %22s\n", "", "", "decide", "feedback", "", "memory MB")
	fmt.Fprintf(stdout, "%-9s %8s %11s %10s %11s %10s %7s %8s %6s %6s\n", "window", "pairs/s", "p50", "p99", "p50", "p99", "errors", "RSS", "anon", "file")
	failed := []string{}
	var anon []float64
	for w := range windows {
		dp50, dp99 := quantiles(windows[w].lat)
		fp50, fp99 := quantiles(windows[w].fb)
		var m ltMemInfo
		if k := (w+1)*10 - 1; k < len(memSeries) {
			m = memSeries[k]
		} else if len(memSeries) > 0 {
			m = memSeries[len(memSeries)-1]
		}
		anon = append(anon, m.anon)
		r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
		fmt.Fprintf(stdout, "%3d-%3ds %8.0f %11s %10s %11s %10s %7d %8.0f %6.0f %6.0f\n", w*10, w*10+10, float64(windows[w].n)/10, r(dp50), r(dp99), r(fp50), r(fp99), windows[w].err, m.rss, m.anon, m.file)
		if dp99 > *p99Target {
			failed = append(failed, fmt.Sprintf("window %d: decide p99 %s over %s", w, r(dp99), *p99Target))
		}
		if fp99 > *fbP99Target {
			failed = append(failed, fmt.Sprintf("window %d: feedback p99 %s over %s", w, r(fp99), *fbP99Target))
		}
		if windows[w].err > 0 {
			failed = append(failed, fmt.Sprintf("window %d: %d errors", w, windows[w].err))
		}
	}
	if len(anon) >= 3 && anon[1] > 0 && anon[len(anon)-1] > anon[1]*(1+*rssGrowth) {
		failed = append(failed, fmt.Sprintf("anonymous memory grew from %.0f MB to %.0f MB", anon[1], anon[len(anon)-1]))
	}
	if size, err := dirSize(filepath.Join(dir, "data")); err == nil {
		fmt.Fprintf(stdout, "store on disk at the end: %.0f MB (file-backed memory is Badger's mapped files: page cache)\n", float64(size)/(1<<20))
	}
	if n := skipped.Load(); n > 0 {
		fmt.Fprintf(stdout, "%d pairs not sent because %d were already in flight (the server fell behind the rate)\n", n, *workers)
	}
	if len(failed) > 0 {
		return fmt.Errorf("soak failed: %s", strings.Join(failed, "; "))
	}
	fmt.Fprintf(stdout, "soak passed: decide p99 under %s and feedback p99 under %s in every window, anonymous memory growth within %.0f%%\n", *p99Target, *fbP99Target, 100**rssGrowth)
	return nil
}

// quantiles returns the p50 and p99 of lat (which it sorts); 0 for none.
func quantiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	return q(0.5), q(0.99)
}

// dirSize sums the disk space of the regular files under dir: allocated blocks where the
// system says (Badger's value-log files are sparse, 2 GB apparent from the start), else
// the apparent size.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				if st, ok := info.Sys().(*syscall.Stat_t); ok {
					n += st.Blocks * 512
				} else {
					n += info.Size()
				}
			}
		}
		return nil
	})
	return n, err
}

func soakReady(ctx context.Context, c *fasthttp.Client, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if code, _, err := c.GetTimeout(nil, base+"/readyz", time.Second); err == nil && code == fasthttp.StatusOK {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("server not ready after 30s")
}

func post(c *fasthttp.Client, method, url, body string, out any) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(url)
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	if err := c.DoTimeout(req, resp, 10*time.Second); err != nil {
		return err
	}
	if code := resp.StatusCode(); code/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, url, code, resp.Body())
	}
	if out != nil {
		return json.Unmarshal(resp.Body(), out)
	}
	return nil
}
