package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/service"
	"golang.org/x/sync/errgroup"
)

// LoadtestOptions configure Loadtest and Memory (nextbest-bench loadtest and memory).
type LoadtestOptions struct {
	Addr        string // a running server, loopback only
	Key         string // admin key for setup; the load uses a decide key made with it
	Spawn       bool   // start the server in-process on a fresh temp store
	Config      string // YAML config for the spawned server
	Duration    time.Duration
	Warmup      time.Duration
	Concurrency int    // healthz and decide clients
	FeedbackC   int    // feedback clients
	FeedbackIDs int    // decisions to have in hand before the feedback phase
	Order       string // which decisions feedback answers first: "oldest" or "newest"
	Customers   int
	Phases      []string
	JSON        string
	CPUProfile  string
	MemProfile  string
	Seed        uint64

	// Memory only.
	Memory        bool // set by Memory
	Bin           string
	Decisions     int
	MemActions    int
	Candidates    int
	FeedbackEvery int
	Restart       bool
}

// DefaultLoadtestOptions returns the defaults of nextbest-bench loadtest and memory.
func DefaultLoadtestOptions() LoadtestOptions {
	return LoadtestOptions{
		Duration: 10 * time.Second, Warmup: 2 * time.Second, Concurrency: 32, FeedbackC: 128, FeedbackIDs: 100_000,
		Order: "oldest", Customers: 1000, Phases: []string{"healthz", "decide", "feedback"}, Seed: 1,
		Decisions: 1_000_000, MemActions: 1000, Candidates: 5, FeedbackEvery: 10, Restart: true,
	}
}

func (o *LoadtestOptions) newest() bool { return o.Order == "newest" }

// The synthetic workload of the throughput phases: the issue's figures.
const (
	ltActions       = 20   // actions in the catalog
	ltContextFields = 30   // fields in each decide context: 12 numbers, 12 strings, 6 booleans
	ltBodies        = 4096 // distinct pre-built decide bodies the clients cycle through
	ltMaxIDs        = 4 << 20
	ltTimeout       = 10 * time.Second // per request; keeps every loop bounded
)

// Loadtest measures the HTTP ceiling (healthz), decide and durable feedback in one run,
// against a running server on loopback (Addr) or one started in-process (Spawn).
func Loadtest(ctx context.Context, o LoadtestOptions, stdout, stderr io.Writer) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	return runLoadtest(ctx, o, stdout, stderr)
}

// Validate checks the options; the error names the flag.
func (o *LoadtestOptions) Validate() error {
	modes := 0
	for _, on := range []bool{o.Addr != "", o.Spawn && !o.Memory, o.Memory} {
		if on {
			modes++
		}
	}
	if modes != 1 {
		return errors.New("give exactly one of --addr, --spawn or --memory (--memory --spawn runs the server in-process)")
	}
	if o.MemProfile != "" && !o.Spawn {
		return errors.New("--memprofile needs an in-process server: --spawn, or --memory --spawn")
	}
	if o.Addr != "" {
		for _, h := range client.Hosts(o.Addr) {
			if err := checkLoopback(h); err != nil {
				return err
			}
		}
		if o.Config != "" {
			return errors.New("--config applies to --spawn and --memory only")
		}
	}
	if o.Duration <= 0 || o.Duration > time.Hour {
		return errors.New("--duration: must be in (0, 1h]")
	}
	if o.Warmup < 0 || o.Warmup > 10*time.Minute {
		return errors.New("--warmup: must be in [0, 10m]")
	}
	if o.Concurrency < 1 || o.Concurrency > 4096 || o.FeedbackC < 1 || o.FeedbackC > 4096 {
		return errors.New("--concurrency and --feedback-concurrency: must be in [1, 4096]")
	}
	if o.FeedbackIDs < 0 || o.FeedbackIDs > ltMaxIDs {
		return fmt.Errorf("--feedback-decisions: must be in [0, %d]", ltMaxIDs)
	}
	if o.Customers < 1 || o.Customers > 1_000_000 {
		return errors.New("--customers: must be in [1, 1000000]")
	}
	if o.Order != "oldest" && o.Order != "newest" {
		return fmt.Errorf("--feedback-order: %q is not oldest or newest", o.Order)
	}
	seen := map[string]bool{}
	for _, p := range o.Phases {
		switch p {
		case "healthz", "decide":
		case "feedback":
			if !seen["decide"] {
				return errors.New("--phases: feedback needs a decide phase before it (it answers those decisions)")
			}
		default:
			return fmt.Errorf("--phases: unknown phase %q (want healthz, decide, feedback)", p)
		}
		if seen[p] {
			return fmt.Errorf("--phases: %q twice", p)
		}
		seen[p] = true
	}
	if o.Memory {
		if o.Decisions < 1 || o.MemActions < 1 || o.MemActions > 10000 {
			return errors.New("--decisions must be positive and --actions in [1, 10000]")
		}
		if o.Candidates < 1 || o.Candidates > o.MemActions {
			return errors.New("--candidates: must be in [1, --actions]")
		}
		if o.FeedbackEvery < 0 {
			return errors.New("--feedback-every: must not be negative (0: no feedback)")
		}
	}
	return nil
}

// checkLoopback refuses targets that are not on this machine: a load test saturates what
// it points at.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want HOST:PORT", addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--addr %q: the load test only targets loopback addresses (127.0.0.1, ::1, localhost)", addr)
}

// ltPhaseResult is one measured phase.
type ltPhaseResult struct {
	Phase       string  `json:"phase"`
	Concurrency int     `json:"concurrency"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"requests_per_second"`
	P50         float64 `json:"p50_ms"`
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	Max         float64 `json:"max_ms"`
	FirstError  string  `json:"first_error,omitempty"`
	Note        string  `json:"note,omitempty"`
	// CPU use during the measured window, in percent of all CPUs: the whole machine, and
	// this process (with --spawn: server and load generator).
	CPUBusy float64 `json:"cpu_busy_percent"`
	CPUSelf float64 `json:"cpu_self_percent"`
	// CPUPerRequest is this process's CPU time per request in microseconds: with --spawn,
	// the server's and the load generator's together. Other processes on the machine do
	// not change it, so it tells what two idle cores would do: 2e6 / CPUPerRequest req/s.
	CPUPerRequest float64 `json:"cpu_us_per_request"`
}

// loadtestReport is what --json writes.
type loadtestReport struct {
	Started       time.Time       `json:"started"`
	Target        string          `json:"target"`
	Spawned       bool            `json:"spawned"`
	CPUs          int             `json:"cpus"`
	CPUModel      string          `json:"cpu_model"`
	GoVersion     string          `json:"go_version"`
	LoadAvg       string          `json:"loadavg_at_start"`
	Actions       int             `json:"actions"`
	ContextFields int             `json:"context_fields"`
	Customers     int             `json:"customers"`
	Phases        []ltPhaseResult `json:"phases"`
	// FeedbackOrder says which decisions feedback answered first: "oldest" or "newest".
	FeedbackOrder string `json:"feedback_order"`
	// DecideOfCeiling is decide req/s as a percentage of healthz req/s.
	DecideOfCeiling float64 `json:"decide_percent_of_ceiling,omitempty"`
}

func runLoadtest(ctx context.Context, o LoadtestOptions, stdout, stderr io.Writer) (err error) {
	base, admin := "http://"+o.Addr, o.Key
	var replicas []string
	if hosts := client.Hosts(o.Addr); len(hosts) > 1 {
		// The replicas of a cluster take the requests in turn (client.RoundRobin).
		base, replicas = "http://"+hosts[0], hosts
	}
	if o.Spawn {
		dir, err := os.MkdirTemp("", "nextbest-loadtest-")
		if err != nil {
			return fmt.Errorf("loadtest: %w", err)
		}
		defer os.RemoveAll(dir)
		srv, err := spawnInProcess(ctx, o.Config, dir, stderr)
		if err != nil {
			return err
		}
		defer func() {
			if serr := srv.stop(); serr != nil && err == nil {
				err = serr
			}
		}()
		base, admin = srv.url(), srv.adminKey()
	}
	t, err := newLtTarget(ctx, base, admin, replicas)
	if err != nil {
		return err
	}
	defer t.close(context.WithoutCancel(ctx))
	rep := loadtestReport{
		Started: time.Now().UTC(), Target: base, Spawned: o.Spawn, CPUs: runtime.NumCPU(), CPUModel: cpuModel(),
		GoVersion: runtime.Version(), LoadAvg: loadAvg(), FeedbackOrder: o.Order, Actions: ltActions, ContextFields: ltContextFields, Customers: o.Customers,
	}
	fmt.Fprintf(stdout, "nextbest loadtest against %s (spawned in-process: %t), %d CPUs (%s), GOMAXPROCS %d, load average %s\n",
		base, o.Spawn, rep.CPUs, rep.CPUModel, runtime.GOMAXPROCS(0), rep.LoadAvg)

	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x10ad7e57))
	start := time.Now()
	ids, err := setupCatalog(ctx, t, o.Customers)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "setup: %d actions, %d customer profiles in %.1fs\n", ltActions, o.Customers, time.Since(start).Seconds())
	reqs := decideRequests(rng, o.Customers, ids)

	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return fmt.Errorf("loadtest: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("loadtest: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}

	var pool ltDecisionPool
	for _, p := range o.Phases {
		var res ltPhaseResult
		switch p {
		case "healthz":
			res = runHealthz(ctx, o, t, stdout)
		case "decide":
			res = runDecide(ctx, o, t, reqs, &pool, stdout)
		case "feedback":
			prepareFeedback(ctx, o, t, reqs, &pool, stdout)
			res = runFeedback(ctx, o, t, &pool, stdout)
		}
		rep.Phases = append(rep.Phases, res)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if o.MemProfile != "" {
		if err := writeHeapProfile(o.MemProfile); err != nil {
			return err
		}
	}
	var ceiling, decide *ltPhaseResult
	for i := range rep.Phases {
		switch rep.Phases[i].Phase {
		case "healthz":
			ceiling = &rep.Phases[i]
		case "decide":
			decide = &rep.Phases[i]
		}
	}
	if ceiling != nil && decide != nil && ceiling.RPS > 0 {
		rep.DecideOfCeiling = 100 * decide.RPS / ceiling.RPS
	}
	fmt.Fprintln(stdout)
	printPhases(stdout, rep.Phases)
	if !o.Spawn {
		fmt.Fprintln(stdout, "(cpu self and cpu us/req are the load generator's alone; the server is another process)")
	}
	for _, r := range rep.Phases {
		if other := r.CPUBusy - r.CPUSelf; o.Spawn && other > 10 {
			fmt.Fprintf(stdout, "warning: other processes used %.0f%% of the CPUs during %s; its figures understate this machine\n", other, r.Phase)
		}
	}
	if rep.DecideOfCeiling > 0 {
		fmt.Fprintf(stdout, "decide: %.1f%% of the healthz ceiling (target >= 50%%), p99 %.2f ms (target <= 10 ms)\n", rep.DecideOfCeiling, decide.P99)
	}
	for _, r := range rep.Phases {
		if r.Phase == "feedback" {
			fmt.Fprintf(stdout, "feedback: %.0f durable events/s (target >= 10,000), %s decisions first\n", r.RPS, rep.FeedbackOrder)
		}
	}
	if o.JSON != "" {
		if err := ltWriteJSON(o.JSON, rep); err != nil {
			return err
		}
	}
	return nil
}

// ---- the in-process server (--spawn) ----

// ltServer is a server the load test started: in-process (--spawn) or a child process
// (--memory).
type ltServer interface {
	url() string
	adminKey() string // the admin key printed on first start, if any
	pid() int
	stop() error // as SIGTERM would
	kill()       // if still running
}

type ltSpawned struct {
	base   string
	out    *ltBuffer // serve's stdout, which shows the first admin key
	cancel context.CancelFunc
	done   chan error
}

func (s *ltSpawned) url() string      { return s.base }
func (s *ltSpawned) adminKey() string { return firstAdminKey(s.out.String()) }
func (s *ltSpawned) pid() int         { return os.Getpid() }
func (s *ltSpawned) kill()            { s.stop() }

// spawnInProcess runs serve on 127.0.0.1:0 over the store in dir, with the default
// options (or those of config) and the demo catalog off, and waits until it is ready.
func spawnInProcess(ctx context.Context, config, dir string, stderr io.Writer) (*ltSpawned, error) {
	o := service.DefaultOptions()
	if config != "" {
		if err := service.LoadConfig(&o, config); err != nil {
			return nil, err
		}
	}
	o.Data = dir
	o.Demo = false
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("loadtest: config: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &ltSpawned{base: "http://" + ln.Addr().String(), out: new(ltBuffer), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- service.Run(sctx, o, ln, log, s.out) }()
	if err := waitReady(ctx, s.base, s.done); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// stop shuts the server down as SIGTERM would; it may be called more than once.
func (s *ltSpawned) stop() error {
	s.cancel()
	var err error
	select {
	case err = <-s.done:
		s.done <- err
	case <-time.After(2 * time.Minute):
		err = errors.New("loadtest: the spawned server did not stop within 2 minutes")
	}
	if err != nil {
		return fmt.Errorf("loadtest: spawned server: %w", err)
	}
	return nil
}

// ltBuffer is a bytes.Buffer safe for one writer and one reader at a time.
type ltBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *ltBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *ltBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// firstAdminKey finds the key in serve's first-start message ("admin key: nbk_...").
func firstAdminKey(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if _, k, ok := strings.Cut(line, "admin key:"); ok {
			return strings.TrimSpace(k)
		}
	}
	return ""
}

// ltTarget is the server under test with the keys the load test uses.
type ltTarget struct {
	base     string
	replicas []string       // the replicas of a cluster (--addr h1,h2,h3), taking the requests in turn
	admin    *client.Client // sets up the catalog; keyless for a server without keys
	decide   string         // the load's key: the role a decision service has
	decideID access.KeyID
}

// newLtTarget makes a decide-role key with the admin key, so that the load runs under the
// role (and rate limit) of a real decision service. Without an admin key the load runs
// keyless, which a server started with --insecure-local accepts.
func newLtTarget(ctx context.Context, base, admin string, replicas []string) (*ltTarget, error) {
	t := &ltTarget{base: base, replicas: replicas, admin: setupClient(base, admin, replicas...)}
	if admin == "" {
		return t, nil
	}
	k, err := t.admin.CreateKey(ctx, wire.KeyRequest{Role: access.Decide, Name: "nextbest loadtest"})
	if err != nil {
		return nil, fmt.Errorf("loadtest setup: %w (--key must be an admin key)", err)
	}
	t.decide, t.decideID = k.Secret, k.ID
	return t, nil
}

// setupClient is a client for the setup requests: it waits and retries, for up to a
// minute, when the server rate-limits the key (429).
func setupClient(base, key string, replicas ...string) *client.Client {
	return client.New(base, client.WithKey(key), client.WithHTTPClient(newLoadClient(16, replicas...)), client.WithRateLimitRetries(60))
}

// load returns a client with the load's key over n connections.
func (t *ltTarget) load(n int) *client.Client {
	return client.New(t.base, client.WithKey(t.decide), client.WithHTTPClient(newLoadClient(n, t.replicas...)), client.WithUserAgent("nextbest-loadtest"))
}

// close revokes the decide key.
func (t *ltTarget) close(ctx context.Context) {
	if t.decideID != "" {
		t.admin.RevokeKey(ctx, t.decideID)
	}
	t.admin.CloseIdleConnections()
}

// waitReady polls /readyz for up to a minute; it gives up early if exited delivers.
func waitReady(ctx context.Context, base string, exited <-chan error) error {
	c := client.New(base, client.WithHTTPClient(&http.Client{Timeout: time.Second}))
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := c.Readyz(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("loadtest: server at %s not ready after a minute: %v", base, err)
		}
		select {
		case err := <-exited:
			return fmt.Errorf("loadtest: server exited before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ---- HTTP client ----

// newLoadClient returns a keep-alive client with one idle connection per concurrent
// client, so that no request waits for a dial after the warmup.
func newLoadClient(concurrency int, replicas ...string) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		MaxConnsPerHost:     concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	if len(replicas) > 1 {
		return &http.Client{Transport: client.RoundRobin(tr, replicas), Timeout: ltTimeout}
	}
	return &http.Client{Transport: tr, Timeout: ltTimeout}
}

// ltWorker is one client's state.
type ltWorker struct {
	c   *client.Client
	rng *rand.Rand
	ids []ltOffered // decisions this client collected (decide phase)
}

// ---- phases ----

// ltPhaseFunc sends one request. stop means there is no more work (feedback has answered
// every decision); the call that says so sent nothing and is not counted.
type ltPhaseFunc func(ctx context.Context, w *ltWorker) (stop bool, err error)

// ltRunPhase runs fn from clients concurrent workers: warmup unmeasured, then duration
// measured. A request counts if it started in the measured window; the phase's time runs
// from the window's start until the last such request has finished.
// finish, if not nil, is called with each worker when it is done.
func ltRunPhase(ctx context.Context, name string, clients int, t *ltTarget, seed uint64, warmup, duration time.Duration, fn ltPhaseFunc, finish func(*ltWorker), stdout io.Writer) ltPhaseResult {
	fmt.Fprintf(stdout, "phase %-8s %4d clients: warmup %v, measuring %v ...", name, clients, warmup, duration)
	c := t.load(clients)
	defer c.CloseIdleConnections()
	start := time.Now()
	measureFrom := start.Add(warmup)
	until := measureFrom.Add(duration)
	lats := make([]*latencies, clients)
	errs := make([]int64, clients)
	var firstErr atomic.Pointer[string]
	var stopped atomic.Bool
	var last atomic.Int64 // unix ns when the last measured request finished
	cpuStart := make(chan cpuSample, 1)
	cpuTimer := time.AfterFunc(time.Until(measureFrom), func() { cpuStart <- readCPU() })
	var g errgroup.Group
	for i := range clients {
		g.Go(func() error {
			w := &ltWorker{c: c, rng: rand.New(rand.NewPCG(seed, uint64(i)))}
			lat := newLatencies()
			for ctx.Err() == nil && !stopped.Load() {
				t0 := time.Now()
				if !t0.Before(until) {
					break
				}
				stop, err := fn(ctx, w)
				t1 := time.Now()
				if stop {
					stopped.Store(true)
					break
				}
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil {
					errs[i]++
					if firstErr.Load() == nil {
						msg := err.Error()
						firstErr.CompareAndSwap(nil, &msg)
					}
				} else {
					lat.record(t1.Sub(t0))
				}
				for {
					l := last.Load()
					if t1.UnixNano() <= l || last.CompareAndSwap(l, t1.UnixNano()) {
						break
					}
				}
			}
			lats[i] = lat
			if finish != nil {
				finish(w)
			}
			return nil
		})
	}
	g.Wait() // the workers return no errors: they count them
	cpuTimer.Stop()
	end := time.Unix(0, last.Load())
	res := ltPhaseResult{Phase: name, Concurrency: clients}
	var cpu0, cpu1 cpuSample
	select {
	case cpu0 = <-cpuStart:
		cpu1 = readCPU()
		res.CPUBusy, res.CPUSelf = cpu0.usage(cpu1)
	default: // the phase ended before its measured window began
	}
	if last.Load() == 0 {
		end = measureFrom
	}
	all := newLatencies()
	for i := range lats {
		all.merge(lats[i])
		res.Errors += errs[i]
	}
	res.Requests = all.count() + res.Errors
	if res.Requests > 0 && cpu0.total > 0 {
		res.CPUPerRequest = (cpu1.self - cpu0.self) * 1e6 / float64(res.Requests)
	}
	res.Seconds = end.Sub(measureFrom).Seconds()
	fillStats(&res, all)
	if p := firstErr.Load(); p != nil {
		res.FirstError = *p
	}
	if stopped.Load() {
		res.Note = "ran out of work before the duration"
		if end.Before(until) {
			res.Note = fmt.Sprintf("ran out of work after %.1fs", res.Seconds)
		}
	}
	fmt.Fprintf(stdout, " %d requests, %.0f/s, p99 %.2f ms, %d errors\n", res.Requests, res.RPS, res.P99, res.Errors)
	if res.FirstError != "" {
		fmt.Fprintf(stdout, "  first error: %s\n", res.FirstError)
	}
	return res
}

// fillStats sets the rate and latency percentiles of r from the successful requests'
// latencies: req/s counts successful requests only, and so do the percentiles.
func fillStats(r *ltPhaseResult, lats *latencies) {
	if r.Seconds > 0 {
		r.RPS = float64(lats.count()) / r.Seconds
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	r.P50 = ms(lats.quantile(0.50))
	r.P90 = ms(lats.quantile(0.90))
	r.P99 = ms(lats.quantile(0.99))
	r.Max = ms(lats.max())
}

func runHealthz(ctx context.Context, o LoadtestOptions, t *ltTarget, stdout io.Writer) ltPhaseResult {
	return ltRunPhase(ctx, "healthz", o.Concurrency, t, o.Seed, o.Warmup, o.Duration, func(ctx context.Context, w *ltWorker) (bool, error) {
		_, err := w.c.Healthz(ctx)
		return false, err
	}, nil, stdout)
}

// ltOffered is a decision and the action it returned: what feedback answers.
type ltOffered struct {
	decision engine.DecisionID
	action   engine.ActionID
}

// ltDecisionPool collects the decisions of the decide phase for the feedback phase, which
// answers each once.
type ltDecisionPool struct {
	mu   sync.Mutex
	ids  []ltOffered
	next atomic.Int64
}

func (p *ltDecisionPool) add(batch []ltOffered) {
	p.mu.Lock()
	if room := ltMaxIDs - len(p.ids); room > 0 {
		p.ids = append(p.ids, batch[:min(room, len(batch))]...)
	}
	p.mu.Unlock()
}

// sort puts the decisions in time order (decision ids sort by time).
func (p *ltDecisionPool) sort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	slices.SortFunc(p.ids, func(a, b ltOffered) int { return strings.Compare(string(a.decision), string(b.decision)) })
}

func (p *ltDecisionPool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ids)
}

// take returns the next unanswered decision, oldest or newest first; ok is false when
// none is left. Only call it once every add has returned.
func (p *ltDecisionPool) take(newest bool) (ltOffered, bool) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.ids)) {
		return ltOffered{}, false
	}
	if newest {
		i = int64(len(p.ids)) - 1 - i
	}
	return p.ids[i], true
}

func runDecide(ctx context.Context, o LoadtestOptions, t *ltTarget, reqs []wire.DecideRequest, pool *ltDecisionPool, stdout io.Writer) ltPhaseResult {
	var decided atomic.Int64
	res := ltRunPhase(ctx, "decide", o.Concurrency, t, o.Seed, o.Warmup, o.Duration, func(ctx context.Context, w *ltWorker) (bool, error) {
		res, err := w.c.Decide(ctx, reqs[w.rng.IntN(len(reqs))])
		if err != nil {
			return false, err
		}
		if len(res.Actions) > 0 && len(w.ids) < ltMaxIDs/o.Concurrency {
			w.ids = append(w.ids, ltOffered{res.DecisionID, res.Actions[0].ID})
		}
		return false, nil
	}, func(w *ltWorker) {
		pool.add(w.ids)
		decided.Add(int64(len(w.ids)))
	}, stdout)
	fmt.Fprintf(stdout, "  %d decisions (warmup included) returned an action and await feedback\n", decided.Load())
	return res
}

// prepareFeedback decides, unmeasured, until the pool holds o.FeedbackIDs decisions, for
// at most five minutes.
func prepareFeedback(ctx context.Context, o LoadtestOptions, t *ltTarget, reqs []wire.DecideRequest, pool *ltDecisionPool, stdout io.Writer) {
	need := o.FeedbackIDs - pool.len()
	if need <= 0 {
		return
	}
	fmt.Fprintf(stdout, "preparing feedback: %d more decisions (unmeasured) ...", need)
	start := time.Now()
	deadline := start.Add(5 * time.Minute)
	c := t.load(o.Concurrency)
	defer c.CloseIdleConnections()
	var left atomic.Int64
	left.Store(int64(need))
	var g errgroup.Group
	for i := range o.Concurrency {
		g.Go(func() error {
			w := &ltWorker{c: c, rng: rand.New(rand.NewPCG(o.Seed+1, uint64(i)))}
			for ctx.Err() == nil && left.Load() > 0 && time.Now().Before(deadline) {
				res, err := w.c.Decide(ctx, reqs[w.rng.IntN(len(reqs))])
				if err == nil && len(res.Actions) > 0 {
					w.ids = append(w.ids, ltOffered{res.DecisionID, res.Actions[0].ID})
					left.Add(-1)
				}
			}
			pool.add(w.ids)
			return nil
		})
	}
	g.Wait() // failed decides are retried until the deadline, not returned
	fmt.Fprintf(stdout, " %d in hand after %.1fs\n", pool.len(), time.Since(start).Seconds())
}

// feedbackOutcomes are drawn uniformly: 20% positive (accepted, clicked).
var feedbackOutcomes = []engine.Outcome{engine.Accepted, engine.Clicked, engine.Ignored, engine.Ignored, engine.Ignored, engine.Ignored, engine.Ignored, engine.Rejected, engine.Rejected, engine.Rejected}

func runFeedback(ctx context.Context, o LoadtestOptions, t *ltTarget, pool *ltDecisionPool, stdout io.Writer) ltPhaseResult {
	pool.sort()
	res := ltRunPhase(ctx, "feedback", o.FeedbackC, t, o.Seed, o.Warmup, o.Duration, func(ctx context.Context, w *ltWorker) (bool, error) {
		d, ok := pool.take(o.newest())
		if !ok {
			return true, nil
		}
		_, err := w.c.Feedback(ctx, wire.FeedbackRequest{DecisionID: d.decision, ActionID: d.action, Outcome: feedbackOutcomes[w.rng.IntN(len(feedbackOutcomes))]})
		return false, err
	}, nil, stdout)
	if res.Note != "" {
		fmt.Fprintf(stdout, "  note: %s: every decision of the decide phase got its one feedback event\n", res.Note)
	}
	return res
}

func printPhases(w io.Writer, phases []ltPhaseResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tclients\trequests\terrors\treq/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tcpu busy\tcpu self\tcpu us/req\t")
	for _, r := range phases {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f%%\t%.0f%%\t%.0f\t\n", r.Phase, r.Concurrency, r.Requests, r.Errors, r.RPS, r.P50, r.P90, r.P99, r.Max, r.CPUBusy, r.CPUSelf, r.CPUPerRequest)
	}
	tw.Flush()
}

func ltWriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	return nil
}

// writeHeapProfile writes this process's heap profile after a garbage collection.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("loadtest: heap profile: %w", err)
	}
	return f.Close()
}

// ---- the throughput workload ----

// ltActionID names the i-th load-test action.
func ltActionID(i int) string { return fmt.Sprintf("lt-%02d", i+1) }

// ltCustomerID names the i-th load-test customer.
func ltCustomerID(i int) string { return fmt.Sprintf("lt-c%06d", i) }

var (
	ltPlans    = []string{"prepaid", "basic", "plus", "premium"}
	ltSegments = []string{"student", "family", "business", "senior", "young_pro"}
	ltWords    = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
)

// setupCatalog puts the 20 actions and the customer profiles. A third of the actions have
// an eligibility rule, a few are offered on some channels only; decides go to "web", where
// every customer has at least the unconditional ones. It returns the action ids and whether
// the catalog holds other actions too (then decides name theirs as candidates).
func setupCatalog(ctx context.Context, t *ltTarget, customers int) (candidates []engine.ActionID, err error) {
	profiles := setupClient(t.base, t.decide, t.replicas...) // as a decision service would
	defer profiles.CloseIdleConnections()
	issues := []string{"retention", "sales", "service"}
	rules := []string{"(profile.tenure_months ?? 0) >= 3", "(context.num_01 ?? 0) > 10", `(profile.plan ?? "") != "prepaid"`, "!(context.flag_01 ?? false) || (profile.monthly_spend ?? 0) > 20"}
	ids := make([]engine.ActionID, ltActions)
	for i := range ltActions {
		ids[i] = engine.ActionID(ltActionID(i))
		a := wire.ActionRequest{Issue: issues[i%3], Group: "g" + strconv.Itoa(i%5), Value: &engine.Money{Const: float64(50 + 15*i)},
			Description: "load-test action " + strconv.Itoa(i+1)}
		if i%3 == 0 {
			a.Eligibility = rules[(i/3)%len(rules)]
		}
		if i >= 16 {
			a.Channels = []string{"web", "app"}
		}
		if _, err := t.admin.PutAction(ctx, ids[i], a); err != nil {
			return nil, fmt.Errorf("loadtest setup: %w", err)
		}
	}
	if err := ltParallel(ctx, 16, customers, func(i int) error {
		r := rand.New(rand.NewPCG(uint64(i), 0xc057))
		attrs := map[string]any{
			"tenure_months":   r.IntN(120),
			"monthly_spend":   math.Round(r.Float64()*8000) / 100,
			"plan":            ltPlans[r.IntN(len(ltPlans))],
			"segment":         ltSegments[r.IntN(len(ltSegments))],
			"has_device_plan": r.IntN(2) == 0,
			"region":          "r" + strconv.Itoa(r.IntN(8)),
		}
		_, err := profiles.PutCustomer(ctx, engine.CustomerID(ltCustomerID(i)), attrs)
		return err
	}); err != nil {
		return nil, fmt.Errorf("loadtest setup: %w", err)
	}
	list, err := t.admin.Actions(ctx)
	if err != nil {
		return nil, fmt.Errorf("loadtest setup: %w", err)
	}
	if len(list) == ltActions {
		return nil, nil // the catalog is exactly ours: decide over all of it
	}
	return ids, nil
}

// decideRequests pre-builds decide requests over random customers, each with a 30-field
// context: 12 numbers, 12 strings, 6 booleans. candidates, if any, are sent as the
// candidate subset.
func decideRequests(rng *rand.Rand, customers int, candidates []engine.ActionID) []wire.DecideRequest {
	out := make([]wire.DecideRequest, ltBodies)
	for i := range out {
		ctx := make(map[string]any, ltContextFields)
		for j := range 12 {
			ctx[fmt.Sprintf("num_%02d", j+1)] = math.Round(rng.NormFloat64()*1000+float64(j)*10) / 100
		}
		for j := range 12 {
			ctx[fmt.Sprintf("str_%02d", j+1)] = ltWords[rng.IntN(len(ltWords))]
		}
		for j := range 6 {
			ctx[fmt.Sprintf("flag_%02d", j+1)] = rng.IntN(2) == 0
		}
		out[i] = wire.DecideRequest{CustomerID: engine.CustomerID(ltCustomerID(rng.IntN(customers))), Channel: "web", Context: ctx, Actions: candidates}
	}
	return out
}

// ltParallel calls fn(0..n-1) from k goroutines and returns the first error; after an
// error no further call starts.
func ltParallel(ctx context.Context, k, n int, fn func(i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(k)
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
