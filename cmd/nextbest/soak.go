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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const soakUsage = `Usage:
  nextbest soak [--duration 60s] [--fraction 0.8] [--p99 10ms]

Runs the real binary as a subprocess on a fresh store (loopback only), measures the
maximum rate of decide+feedback pairs with a closed loop, then drives an open loop at
--fraction of that rate for --duration, reporting per 10-second window the achieved
rate, p50 and p99 latency, and the server's resident memory (VmRSS). It fails (exit 2)
if p99 exceeds --p99 in any window or if RSS grows more than --rss-growth between the
second window and the last. docs/benchmarks.md has the figures.
`

func cmdSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, soakUsage); fs.PrintDefaults() }
	duration := fs.Duration("duration", 60*time.Second, "length of the soak")
	fraction := fs.Float64("fraction", 0.8, "share of the measured maximum rate to hold")
	p99Target := fs.Duration("p99", 10*time.Millisecond, "p99 latency target per window")
	rssGrowth := fs.Float64("rss-growth", 0.25, "largest allowed RSS growth from the second window to the last, as a fraction")
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
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *workers * 2, MaxConnsPerHost: *workers * 2}}
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
	pair := func(rng *rand.Rand) (time.Duration, error) {
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
			return 0, err
		}
		if len(d.Actions) == 0 {
			return time.Since(start), nil
		}
		outcome := "ignored"
		if rng.IntN(10) == 0 {
			outcome = "accepted"
		}
		fb := fmt.Sprintf(`{"decision_id": %q, "action_id": %q, "outcome": %q}`, d.DecisionID, d.Actions[0].ID, outcome)
		return time.Since(start), post(client, "POST", base+"/v1/feedback", fb, nil)
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
				if _, err := pair(rng); err != nil {
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
		lat []time.Duration
		n   int
		err int
	}
	var mu sync.Mutex
	windows := make([]window, int(duration.Seconds()/10))
	sem := make(chan struct{}, *workers)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	var skipped atomic.Int64
	var rssSeries []int64
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
			rssSeries = append(rssSeries, rssKB(cmd.Process.Pid))
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
			lat, err := pair(r)
			w := int(at / (10 * time.Second))
			if w >= len(windows) {
				return
			}
			mu.Lock()
			if err != nil {
				windows[w].err++
			} else {
				windows[w].lat = append(windows[w].lat, lat)
				windows[w].n++
			}
			mu.Unlock()
		}()
	}
	for range *workers {
		sem <- struct{}{}
	}
	fmt.Fprintf(stdout, "%-10s %10s %10s %10s %8s %10s\n", "window", "pairs/s", "p50", "p99", "errors", "RSS MB")
	failed := []string{}
	var rss []int64
	for w := range windows {
		lat := windows[w].lat
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p := func(q float64) time.Duration {
			if len(lat) == 0 {
				return 0
			}
			return lat[min(len(lat)-1, int(q*float64(len(lat))))]
		}
		var wr int64
		if k := (w+1)*10 - 1; k < len(rssSeries) {
			wr = rssSeries[k]
		} else if len(rssSeries) > 0 {
			wr = rssSeries[len(rssSeries)-1]
		}
		rss = append(rss, wr)
		fmt.Fprintf(stdout, "%3d-%3ds %10.0f %10s %10s %8d %10.1f\n", w*10, w*10+10, float64(windows[w].n)/10, p(0.5).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), windows[w].err, float64(wr)/1024)
		if p(0.99) > *p99Target {
			failed = append(failed, fmt.Sprintf("window %d: p99 %s over %s", w, p(0.99), *p99Target))
		}
		if windows[w].err > 0 {
			failed = append(failed, fmt.Sprintf("window %d: %d errors", w, windows[w].err))
		}
	}
	if len(rss) >= 3 && rss[1] > 0 && float64(rss[len(rss)-1]) > float64(rss[1])*(1+*rssGrowth) {
		failed = append(failed, fmt.Sprintf("RSS grew from %.0f MB to %.0f MB", float64(rss[1])/1024, float64(rss[len(rss)-1])/1024))
	}
	if n := skipped.Load(); n > 0 {
		fmt.Fprintf(stdout, "%d pairs not sent because %d were already in flight (the server fell behind the rate)\n", n, *workers)
	}
	if len(failed) > 0 {
		return fmt.Errorf("soak failed: %s", strings.Join(failed, "; "))
	}
	fmt.Fprintf(stdout, "soak passed: p99 under %s in every window, RSS growth within %.0f%%\n", *p99Target, 100**rssGrowth)
	return nil
}

func soakReady(ctx context.Context, c *http.Client, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := c.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("server not ready after 30s")
}

func post(c *http.Client, method, url, body string, out any) error {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// rssKB returns a process's resident set size in KiB, read by procMemory (0 if unavailable).
func rssKB(pid int) int64 {
	m, err := procMemory(pid)
	if err != nil {
		return 0
	}
	return int64(m.rss * 1024)
}
