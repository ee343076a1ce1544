package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

// loadtestOptions are the flags of `nextbest loadtest`.
type loadtestOptions struct {
	Addr        string
	Key         string // admin key for setup; the load uses a decide key made with it
	Spawn       bool
	Config      string // YAML config for the spawned server
	Duration    time.Duration
	Warmup      time.Duration
	Concurrency int  // healthz and decide clients
	FeedbackC   int  // feedback clients
	FeedbackIDs int  // decisions to have in hand before the feedback phase
	Newest      bool // feedback answers the newest decisions first
	Customers   int
	Phases      []string
	JSON        string
	CPUProfile  string
	MemProfile  string
	Seed        uint64

	// --memory mode.
	Memory        bool
	Bin           string
	Decisions     int
	MemActions    int
	Candidates    int
	FeedbackEvery int
	Restart       bool
}

// The synthetic workload of the throughput phases: the issue's figures.
const (
	ltActions       = 20   // actions in the catalog
	ltContextFields = 30   // fields in each decide context: 12 numbers, 12 strings, 6 booleans
	ltBodies        = 4096 // distinct pre-built decide bodies the clients cycle through
	ltMaxIDs        = 4 << 20
	ltTimeout       = 10 * time.Second // per request; keeps every loop bounded
)

const loadtestUsage = `nextbest loadtest: measure the HTTP ceiling, decide and durable feedback in one run

Usage:
  nextbest loadtest --spawn [flags]          start a server in-process on a fresh temp store
  nextbest loadtest --addr HOST:PORT [flags] use a running server (loopback only); it gets
                                             20 lt-* actions, lt-c* customers, decisions, feedback
  nextbest loadtest --memory [flags]         run the real binary as a subprocess, load 1,000
                                             full-covariance d=64 actions and 1,000,000 decisions,
                                             and report its resident memory

Flags:
`

func cmdLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o loadtestOptions
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, loadtestUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Addr, "addr", "", "address of a running server, e.g. 127.0.0.1:8080 (loopback only)")
	fs.StringVar(&o.Key, "key", os.Getenv("NEXTBEST_KEY"), "--addr: an admin API key (default $NEXTBEST_KEY); the load runs with a decide key made from it and revoked after")
	fs.BoolVar(&o.Spawn, "spawn", false, "start the server in-process on 127.0.0.1:0 with a fresh temp data dir, demo off")
	fs.StringVar(&o.Config, "config", "", "YAML config for the spawned server (--spawn, --memory), e.g. store.sync_writes: false")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time per phase")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured time before each phase")
	fs.IntVar(&o.Concurrency, "concurrency", 32, "concurrent clients for healthz and decide (and --memory)")
	fs.IntVar(&o.FeedbackC, "feedback-concurrency", 128, "concurrent clients for feedback")
	fs.IntVar(&o.FeedbackIDs, "feedback-decisions", 100_000, "before the feedback phase, decide (unmeasured) until this many decisions await feedback, so that the phase can run its whole duration")
	order := fs.String("feedback-order", "oldest", "which decisions feedback answers first: oldest (most are older than the server's in-memory cache of 65,536, so each is read from the store, as feedback minutes later is) or newest (cache hits)")
	fs.IntVar(&o.Customers, "customers", 1000, "customer profiles to create; decides pick one at random")
	phases := fs.String("phases", "healthz,decide,feedback", "phases to run, in order (feedback needs decide)")
	fs.StringVar(&o.JSON, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the measured phases (--spawn: server and clients)")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile (after a GC) at the end of the load (--spawn, --memory --spawn)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed of the workload")
	fs.BoolVar(&o.Memory, "memory", false, "memory test: see above; with --spawn the server runs in-process (for --memprofile)")
	fs.StringVar(&o.Bin, "bin", "", "--memory: nextbest binary to run (default: this executable)")
	fs.IntVar(&o.Decisions, "decisions", 1_000_000, "--memory: decisions to log")
	fs.IntVar(&o.MemActions, "actions", 1000, "--memory: actions, each with a full-covariance model")
	fs.IntVar(&o.Candidates, "candidates", 5, "--memory: random candidate actions per decide")
	fs.IntVar(&o.FeedbackEvery, "feedback-every", 10, "--memory: send feedback on every n-th decision")
	fs.BoolVar(&o.Restart, "restart", true, "--memory: restart the server at the end and report its memory after loading")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("loadtest: unexpected argument %q", fs.Arg(0))
	}
	o.Phases = strings.Split(*phases, ",")
	switch *order {
	case "oldest":
	case "newest":
		o.Newest = true
	default:
		return fmt.Errorf("loadtest: --feedback-order: %q is not oldest or newest", *order)
	}
	if err := o.validate(); err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	if o.Memory {
		return runMemoryTest(ctx, o, stdout, stderr)
	}
	return runLoadtest(ctx, o, stdout, stderr)
}

func (o *loadtestOptions) validate() error {
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
		if err := checkLoopback(o.Addr); err != nil {
			return err
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

func runLoadtest(ctx context.Context, o loadtestOptions, stdout, stderr io.Writer) (err error) {
	base, admin := "http://"+o.Addr, o.Key
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
	setup := newLoadClient(16)
	defer setup.CloseIdleConnections()
	t, err := newLtTarget(ctx, setup, base, admin)
	if err != nil {
		return err
	}
	defer t.close(context.WithoutCancel(ctx), setup)
	rep := loadtestReport{
		Started: time.Now().UTC(), Target: base, Spawned: o.Spawn, CPUs: runtime.NumCPU(), CPUModel: cpuModel(),
		GoVersion: runtime.Version(), LoadAvg: loadAvg(), FeedbackOrder: map[bool]string{false: "oldest", true: "newest"}[o.Newest], Actions: ltActions, ContextFields: ltContextFields, Customers: o.Customers,
	}
	fmt.Fprintf(stdout, "nextbest loadtest against %s (spawned in-process: %t), %d CPUs (%s), GOMAXPROCS %d, load average %s\n",
		base, o.Spawn, rep.CPUs, rep.CPUModel, runtime.GOMAXPROCS(0), rep.LoadAvg)

	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x10ad7e57))
	start := time.Now()
	ids, err := setupCatalog(ctx, setup, t, o.Customers)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "setup: %d actions, %d customer profiles in %.1fs\n", ltActions, o.Customers, time.Since(start).Seconds())
	bodies := decideBodies(rng, o.Customers, ids)

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
			res = runDecide(ctx, o, t, bodies, &pool, stdout)
		case "feedback":
			prepareFeedback(ctx, o, t, bodies, &pool, stdout)
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
	o := DefaultOptions()
	if config != "" {
		if err := loadConfig(&o, config); err != nil {
			return nil, err
		}
	}
	o.Data = dir
	o.Demo = false
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("loadtest: config: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &ltSpawned{base: "http://" + ln.Addr().String(), out: new(ltBuffer), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- serve(sctx, o, ln, log, s.out) }()
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
	admin    string // sets up the catalog; empty for a server without keys
	decide   string // runs the load: the role a decision service has
	decideID string
}

// newLtTarget makes a decide-role key with the admin key, so that the load runs under the
// role (and rate limit) of a real decision service. Without an admin key the load runs
// keyless, which a server started with --insecure-local accepts.
func newLtTarget(ctx context.Context, c *http.Client, base, admin string) (*ltTarget, error) {
	t := &ltTarget{base: base, admin: admin}
	if admin == "" {
		return t, nil
	}
	var k struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	w := &ltWorker{client: c, key: admin}
	if err := ltSendJSON(ctx, w, http.MethodPost, base+"/v1/keys", []byte(`{"role":"decide","name":"nextbest loadtest"}`), http.StatusCreated, &k); err != nil {
		return nil, fmt.Errorf("%w (--key must be an admin key)", err)
	}
	t.decide, t.decideID = k.Key, k.ID
	return t, nil
}

// close revokes the decide key.
func (t *ltTarget) close(ctx context.Context, c *http.Client) {
	if t.decideID != "" {
		w := &ltWorker{client: c, key: t.admin}
		w.do(ctx, http.MethodDelete, t.base+"/v1/keys/"+t.decideID, nil, http.StatusOK)
	}
}

// waitReady polls /readyz for up to a minute; it gives up early if exited delivers.
func waitReady(ctx context.Context, base string, exited <-chan error) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := c.Get(base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
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
func newLoadClient(concurrency int) *http.Client {
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
	return &http.Client{Transport: tr, Timeout: ltTimeout}
}

// ltWorker is one client's reusable request state.
type ltWorker struct {
	client *http.Client
	key    string // API key sent as a bearer token; empty: none
	rng    *rand.Rand
	buf    bytes.Buffer
	rd     bytes.Reader
	ids    []ltOffered // decisions this client collected (decide phase)
}

// do sends one request and reads the whole response into w.buf. A status other than want
// is an error.
func (w *ltWorker) do(ctx context.Context, method, url string, body []byte, want int) error {
	var rd io.Reader
	if body != nil {
		w.rd.Reset(body)
		rd = &w.rd
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if w.key != "" {
		req.Header.Set("Authorization", "Bearer "+w.key)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return &statusError{code: resp.StatusCode, msg: fmt.Sprintf("%s %s: status %d: %.200s", method, req.URL.Path, resp.StatusCode, w.buf.Bytes())}
	}
	return nil
}

// statusError is an answer with an unexpected status.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// ---- phases ----

// ltPhaseFunc sends one request. stop means there is no more work (feedback has answered
// every decision); the call that says so sent nothing and is not counted.
type ltPhaseFunc func(ctx context.Context, w *ltWorker) (stop bool, err error)

// ltRunPhase runs fn from clients concurrent workers: warmup unmeasured, then duration
// measured. A request counts if it started in the measured window; the phase's time runs
// from the window's start until the last such request has finished.
// finish, if not nil, is called with each worker when it is done.
func ltRunPhase(ctx context.Context, name string, clients int, key string, seed uint64, warmup, duration time.Duration, fn ltPhaseFunc, finish func(*ltWorker), stdout io.Writer) ltPhaseResult {
	fmt.Fprintf(stdout, "phase %-8s %4d clients: warmup %v, measuring %v ...", name, clients, warmup, duration)
	client := newLoadClient(clients)
	defer client.CloseIdleConnections()
	start := time.Now()
	measureFrom := start.Add(warmup)
	until := measureFrom.Add(duration)
	lats := make([][]time.Duration, clients)
	errs := make([]int64, clients)
	var firstErr atomic.Pointer[string]
	var stopped atomic.Bool
	var last atomic.Int64 // unix ns when the last measured request finished
	cpuStart := make(chan cpuSample, 1)
	cpuTimer := time.AfterFunc(time.Until(measureFrom), func() { cpuStart <- readCPU() })
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &ltWorker{client: client, key: key, rng: rand.New(rand.NewPCG(seed, uint64(i)))}
			lat := make([]time.Duration, 0, 4096)
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
					lat = append(lat, t1.Sub(t0))
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
		}()
	}
	wg.Wait()
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
	var all []time.Duration
	for i := range lats {
		all = append(all, lats[i]...)
		res.Errors += errs[i]
	}
	res.Requests = int64(len(all)) + res.Errors
	if res.Requests > 0 && cpu0.total > 0 {
		res.CPUPerRequest = (cpu1.self - cpu0.self) * clockTick / float64(res.Requests)
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
// latencies (which it sorts): req/s counts successful requests only, and so do the
// percentiles.
func fillStats(r *ltPhaseResult, lats []time.Duration) {
	if r.Seconds > 0 {
		r.RPS = float64(len(lats)) / r.Seconds
	}
	slices.Sort(lats)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	r.P50 = ms(percentile(lats, 50))
	r.P90 = ms(percentile(lats, 90))
	r.P99 = ms(percentile(lats, 99))
	if len(lats) > 0 {
		r.Max = ms(lats[len(lats)-1])
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the nearest-rank
// method: the smallest value with at least p% of the values at or below it, that is
// sorted[ceil(p/100*n)-1]. It returns 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	r := int(math.Ceil(p / 100 * float64(n)))
	r = min(max(r, 1), n)
	return sorted[r-1]
}

func runHealthz(ctx context.Context, o loadtestOptions, t *ltTarget, stdout io.Writer) ltPhaseResult {
	url := t.base + "/healthz"
	return ltRunPhase(ctx, "healthz", o.Concurrency, t.decide, o.Seed, o.Warmup, o.Duration, func(ctx context.Context, w *ltWorker) (bool, error) {
		return false, w.do(ctx, http.MethodGet, url, nil, http.StatusOK)
	}, nil, stdout)
}

// ltOffered is a decision and the action it returned: what feedback answers.
type ltOffered struct {
	decision, action string
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
	slices.SortFunc(p.ids, func(a, b ltOffered) int { return strings.Compare(a.decision, b.decision) })
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

func runDecide(ctx context.Context, o loadtestOptions, t *ltTarget, bodies [][]byte, pool *ltDecisionPool, stdout io.Writer) ltPhaseResult {
	url := t.base + "/v1/decide"
	var decided atomic.Int64
	res := ltRunPhase(ctx, "decide", o.Concurrency, t.decide, o.Seed, o.Warmup, o.Duration, func(ctx context.Context, w *ltWorker) (bool, error) {
		if err := w.do(ctx, http.MethodPost, url, bodies[w.rng.IntN(len(bodies))], http.StatusOK); err != nil {
			return false, err
		}
		d, a, err := parseDecided(w.buf.Bytes())
		if err != nil {
			return false, err
		}
		if a != "" && len(w.ids) < ltMaxIDs/o.Concurrency {
			w.ids = append(w.ids, ltOffered{d, a})
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
func prepareFeedback(ctx context.Context, o loadtestOptions, t *ltTarget, bodies [][]byte, pool *ltDecisionPool, stdout io.Writer) {
	need := o.FeedbackIDs - pool.len()
	if need <= 0 {
		return
	}
	fmt.Fprintf(stdout, "preparing feedback: %d more decisions (unmeasured) ...", need)
	start := time.Now()
	deadline := start.Add(5 * time.Minute)
	url := t.base + "/v1/decide"
	client := newLoadClient(o.Concurrency)
	defer client.CloseIdleConnections()
	var left atomic.Int64
	left.Store(int64(need))
	var wg sync.WaitGroup
	for i := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &ltWorker{client: client, key: t.decide, rng: rand.New(rand.NewPCG(o.Seed+1, uint64(i)))}
			for ctx.Err() == nil && left.Load() > 0 && time.Now().Before(deadline) {
				if err := w.do(ctx, http.MethodPost, url, bodies[w.rng.IntN(len(bodies))], http.StatusOK); err != nil {
					continue
				}
				if d, a, err := parseDecided(w.buf.Bytes()); err == nil && a != "" {
					w.ids = append(w.ids, ltOffered{d, a})
					left.Add(-1)
				}
			}
			pool.add(w.ids)
		}()
	}
	wg.Wait()
	fmt.Fprintf(stdout, " %d in hand after %.1fs\n", pool.len(), time.Since(start).Seconds())
}

// feedbackOutcomes are drawn uniformly: 20% positive (accepted, clicked).
var feedbackOutcomes = []string{"accepted", "clicked", "ignored", "ignored", "ignored", "ignored", "ignored", "rejected", "rejected", "rejected"}

func runFeedback(ctx context.Context, o loadtestOptions, t *ltTarget, pool *ltDecisionPool, stdout io.Writer) ltPhaseResult {
	url := t.base + "/v1/feedback"
	pool.sort()
	res := ltRunPhase(ctx, "feedback", o.FeedbackC, t.decide, o.Seed, o.Warmup, o.Duration, func(ctx context.Context, w *ltWorker) (bool, error) {
		d, ok := pool.take(o.Newest)
		if !ok {
			return true, nil
		}
		return false, w.do(ctx, http.MethodPost, url, ltFeedbackBody(d, feedbackOutcomes[w.rng.IntN(len(feedbackOutcomes))]), http.StatusAccepted)
	}, nil, stdout)
	if res.Note != "" {
		fmt.Fprintf(stdout, "  note: %s: every decision of the decide phase got its one feedback event\n", res.Note)
	}
	return res
}

func ltFeedbackBody(d ltOffered, outcome string) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"decision_id":"`...)
	b = append(b, d.decision...)
	b = append(b, `","action_id":"`...)
	b = append(b, d.action...)
	b = append(b, `","outcome":"`...)
	b = append(b, outcome...)
	return append(b, `"}`...)
}

// parseDecided picks the decision id and the first returned action out of a decide
// response without a full JSON decode; action is empty for "no action".
func parseDecided(b []byte) (decision, action string, err error) {
	decision, ok := ltJSONString(b, `"decision_id":"`)
	if !ok {
		return "", "", fmt.Errorf("decide response without decision_id: %.200s", b)
	}
	if i := bytes.Index(b, []byte(`"actions":[{`)); i >= 0 {
		action, _ = ltJSONString(b[i:], `"id":"`)
	}
	return decision, action, nil
}

// ltJSONString returns the string value after key (which ends with the opening quote), up
// to the closing quote. Ids contain no escapes (engine.ValidID).
func ltJSONString(b []byte, key string) (string, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return "", false
	}
	b = b[i+len(key):]
	j := bytes.IndexByte(b, '"')
	if j < 0 {
		return "", false
	}
	return string(b[:j]), true
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

// clockTick is the length of one /proc clock tick (USER_HZ, 100 on Linux) in microseconds.
const clockTick = 1e6 / 100

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

// cpuSample is the machine's and this process's CPU time so far, in clock ticks.
type cpuSample struct{ total, idle, self float64 }

// readCPU reads /proc/stat and /proc/self/stat; it returns zeros where they are missing.
func readCPU() cpuSample {
	var c cpuSample
	if raw, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(raw), "\n")
		f := strings.Fields(line)
		for i := 1; i < len(f) && i <= 8; i++ { // user nice system idle iowait irq softirq steal
			v, _ := strconv.ParseFloat(f[i], 64)
			c.total += v
			if i == 4 || i == 5 {
				c.idle += v
			}
		}
	}
	if raw, err := os.ReadFile("/proc/self/stat"); err == nil {
		// The command name may hold spaces; the fields after it start at ") ".
		if _, rest, ok := strings.Cut(string(raw), ") "); ok {
			f := strings.Fields(rest)
			if len(f) > 12 {
				u, _ := strconv.ParseFloat(f[11], 64) // utime, field 14
				s, _ := strconv.ParseFloat(f[12], 64) // stime, field 15
				c.self = u + s
			}
		}
	}
	return c
}

// usage returns the percentage of all CPUs busy between c and later, and used by this
// process.
func (c cpuSample) usage(later cpuSample) (busy, self float64) {
	dt := later.total - c.total
	if c.total == 0 || dt <= 0 {
		return 0, 0
	}
	return 100 * (dt - (later.idle - c.idle)) / dt, min(100, 100*(later.self-c.self)/dt)
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	return strings.Join(f[:min(3, len(f))], " ")
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or runtime.GOARCH.
func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
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
func setupCatalog(ctx context.Context, c *http.Client, t *ltTarget, customers int) (candidates []string, err error) {
	admin := func() *ltWorker { return &ltWorker{client: c, key: t.admin} }
	profiles := func() *ltWorker { return &ltWorker{client: c, key: t.decide} } // as a decision service would
	issues := []string{"retention", "sales", "service"}
	rules := []string{"(profile.tenure_months ?? 0) >= 3", "(context.num_01 ?? 0) > 10", `(profile.plan ?? "") != "prepaid"`, "!(context.flag_01 ?? false) || (profile.monthly_spend ?? 0) > 20"}
	ids := make([]string, ltActions)
	for i := range ltActions {
		ids[i] = ltActionID(i)
		a := map[string]any{
			"issue": issues[i%3], "group": "g" + strconv.Itoa(i%5), "value": 50 + 15*i,
			"description": "load-test action " + strconv.Itoa(i+1),
		}
		if i%3 == 0 {
			a["eligibility"] = rules[(i/3)%len(rules)]
		}
		if i >= 16 {
			a["channels"] = []string{"web", "app"}
		}
		if err := ltPutJSON(ctx, admin(), t.base+"/v1/actions/"+ids[i], a); err != nil {
			return nil, err
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
		return ltPutJSON(ctx, profiles(), t.base+"/v1/customers/"+ltCustomerID(i), map[string]any{"attributes": attrs})
	}); err != nil {
		return nil, err
	}
	var list struct {
		Actions []struct {
			ID string `json:"id"`
		} `json:"actions"`
	}
	if err := ltSendJSON(ctx, admin(), http.MethodGet, t.base+"/v1/actions", nil, http.StatusOK, &list); err != nil {
		return nil, err
	}
	if len(list.Actions) == ltActions {
		return nil, nil // the catalog is exactly ours: decide over all of it
	}
	return ids, nil
}

// decideBodies pre-builds decide requests over random customers, each with a 30-field
// context: 12 numbers, 12 strings, 6 booleans. candidates, if any, are sent as the
// candidate subset.
func decideBodies(rng *rand.Rand, customers int, candidates []string) [][]byte {
	out := make([][]byte, ltBodies)
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
		req := map[string]any{"customer_id": ltCustomerID(rng.IntN(customers)), "channel": "web", "context": ctx}
		if len(candidates) > 0 {
			req["actions"] = candidates
		}
		out[i], _ = json.Marshal(req) // maps of numbers, strings and booleans always encode
	}
	return out
}

func ltPutJSON(ctx context.Context, w *ltWorker, url string, body any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return ltSendJSON(ctx, w, http.MethodPut, url, raw, http.StatusOK, nil)
}

// ltSendJSON sends one setup request and decodes the answer into out, if not nil. It waits
// and retries, for up to a minute, when the server rate-limits the key (429).
func ltSendJSON(ctx context.Context, w *ltWorker, method, url string, body []byte, want int, out any) error {
	for attempt := 0; ; attempt++ {
		err := w.do(ctx, method, url, body, want)
		var se *statusError
		if errors.As(err, &se) && se.code == http.StatusTooManyRequests && attempt < 60 {
			select {
			case <-time.After(time.Second):
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err != nil {
			return fmt.Errorf("loadtest setup: %w", err)
		}
		break
	}
	if out != nil {
		if err := json.Unmarshal(w.buf.Bytes(), out); err != nil {
			return fmt.Errorf("loadtest setup: %s %s: %w", method, url, err)
		}
	}
	return nil
}

// ltParallel calls fn(0..n-1) from k goroutines and returns the first error.
func ltParallel(ctx context.Context, k, n int, fn func(i int) error) error {
	var next atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && first.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	wg.Wait()
	if p := first.Load(); p != nil {
		return *p
	}
	return ctx.Err()
}

// ---- --memory: resident memory of the real binary ----

// memSchema is a 64-dimension feature schema: the intercept, 10 numeric fields (2 dims
// each: value, missing), 4 booleans (2 each) and 5 categorical fields with vocabularies
// (size+2 each: values, other, missing): 1 + 20 + 8 + (6+8+10+5+6) = 64.
const memSchema = `{"fields": [
  {"name": "tenure_months", "source": "profile", "type": "numeric", "clip": [0, 240], "standardize": true},
  {"name": "monthly_spend", "source": "profile", "type": "numeric", "clip": [0, 500], "log1p": true, "standardize": true},
  {"name": "data_gb", "source": "profile", "type": "numeric", "standardize": true},
  {"name": "calls_per_month", "source": "profile", "type": "numeric", "standardize": true},
  {"name": "age", "source": "profile", "type": "numeric", "clip": [16, 100], "standardize": true},
  {"name": "basket_eur", "source": "context", "type": "numeric", "clip": [0, 1000], "log1p": true, "standardize": true},
  {"name": "page_views", "source": "context", "type": "numeric", "standardize": true},
  {"name": "session_seconds", "source": "context", "type": "numeric", "log1p": true, "standardize": true},
  {"name": "hour", "source": "context", "type": "numeric", "standardize": true},
  {"name": "days_since_contact", "source": "context", "type": "numeric", "standardize": true},
  {"name": "has_device_plan", "source": "profile", "type": "boolean"},
  {"name": "roaming", "source": "profile", "type": "boolean"},
  {"name": "logged_in", "source": "context", "type": "boolean"},
  {"name": "promo_seen", "source": "context", "type": "boolean"},
  {"name": "plan", "source": "profile", "type": "categorical", "vocabulary": ["prepaid", "basic", "plus", "premium"]},
  {"name": "segment", "source": "profile", "type": "categorical", "vocabulary": ["student", "family", "business", "senior", "young_pro", "other"]},
  {"name": "region", "source": "profile", "type": "categorical", "vocabulary": ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"]},
  {"name": "device", "source": "context", "type": "categorical", "vocabulary": ["ios", "android", "desktop"]},
  {"name": "intent", "source": "context", "type": "categorical", "vocabulary": ["browse", "upgrade", "cancel", "support"]}
]}`

const memSchemaDim = 64

// ltMemReport is what --memory --json writes.
type ltMemReport struct {
	Started        time.Time `json:"started"`
	CPUs           int       `json:"cpus"`
	CPUModel       string    `json:"cpu_model"`
	Actions        int       `json:"actions"`
	Dim            int       `json:"dim"`
	Candidates     int       `json:"candidates_per_decide"`
	InProcess      bool      `json:"in_process"` // --spawn: RSS includes the load generator
	Decisions      int64     `json:"decisions"`
	DecideErrors   int64     `json:"decide_errors"`
	Feedback       int64     `json:"feedback"`
	FeedbackErrors int64     `json:"feedback_errors"`
	FirstError     string    `json:"first_error,omitempty"`
	LoadSeconds    float64   `json:"load_seconds"`
	DecidesPerSec  float64   `json:"decides_per_second"`
	RSSMB          float64   `json:"rss_mb"`           // VmRSS at the end of the load
	PeakRSSMB      float64   `json:"peak_rss_mb"`      // VmHWM: the kernel's high-water mark
	AnonMB         float64   `json:"rss_anon_mb"`      // of VmRSS: heap, stacks
	FileMB         float64   `json:"rss_file_mb"`      // of VmRSS: mapped files (Badger tables, logs)
	PeakAnonMB     float64   `json:"peak_rss_anon_mb"` // highest RssAnon, sampled every second
	// Of FileMB: clean pages, which the kernel drops under memory pressure (they are
	// reread from the files), and dirty ones, which it must write back first.
	FileCleanMB float64 `json:"rss_file_clean_mb"`
	FileDirtyMB float64 `json:"rss_file_dirty_mb"`
	HeapInuseMB float64 `json:"heap_inuse_mb,omitempty"`
	DiskMB      float64 `json:"disk_mb"` // allocated blocks of the data directory
	LSMMB       float64 `json:"lsm_mb"`
	VlogMB      float64 `json:"vlog_mb"`
	StopSeconds float64 `json:"stop_seconds"`
	// After a restart on the same data.
	RestartReadySeconds float64 `json:"restart_ready_seconds,omitempty"`
	RestartRSSMB        float64 `json:"restart_rss_mb,omitempty"`
	RestartPeakRSSMB    float64 `json:"restart_peak_rss_mb,omitempty"`
}

func runMemoryTest(ctx context.Context, o loadtestOptions, stdout, stderr io.Writer) error {
	bin := o.Bin
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("loadtest: %w", err)
		}
		bin = exe
	}
	dir, err := os.MkdirTemp("", "nextbest-memtest-")
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	rep := ltMemReport{Started: time.Now().UTC(), CPUs: runtime.NumCPU(), CPUModel: cpuModel(), Actions: o.MemActions, Candidates: o.Candidates, InProcess: o.Spawn}
	launch := func(log string) (ltServer, error) {
		if o.Spawn {
			return spawnInProcess(ctx, o.Config, data, stderr)
		}
		return startProcess(ctx, bin, data, o.Config, filepath.Join(dir, log))
	}
	where := bin + " serve"
	if o.Spawn {
		where = "in-process server (RSS includes the load generator)"
	}
	fmt.Fprintf(stdout, "nextbest loadtest --memory: %s on %s, %d CPUs (%s)\n", where, data, rep.CPUs, rep.CPUModel)

	srv, err := launch("server.log")
	if err != nil {
		return err
	}
	defer srv.kill()
	c := newLoadClient(max(o.Concurrency, 16))
	defer c.CloseIdleConnections()
	admin := srv.adminKey()
	t, err := newLtTarget(ctx, c, srv.url(), admin)
	if err != nil {
		return err
	}
	adminW := func() *ltWorker { return &ltWorker{client: c, key: admin} }

	// Schema, catalog, profiles.
	start := time.Now()
	var schema struct {
		Dim int `json:"dim"`
	}
	if err := ltSendJSON(ctx, adminW(), http.MethodPut, srv.url()+"/v1/schema", []byte(memSchema), http.StatusOK, &schema); err != nil {
		return err
	}
	rep.Dim = schema.Dim
	if schema.Dim != memSchemaDim {
		return fmt.Errorf("loadtest: the memory schema has %d dimensions, want %d", schema.Dim, memSchemaDim)
	}
	issues := []string{"retention", "sales", "service"}
	if err := ltParallel(ctx, 8, o.MemActions, func(i int) error {
		return ltPutJSON(ctx, adminW(), srv.url()+"/v1/actions/"+memActionID(i), map[string]any{
			"issue": issues[i%3], "group": "g" + strconv.Itoa(i%20), "value": 10 + i%50, "model": map[string]any{"form": "full"},
		})
	}); err != nil {
		return err
	}
	if err := ltParallel(ctx, 8, o.Customers, func(i int) error {
		r := rand.New(rand.NewPCG(uint64(i), 0xc057))
		return ltPutJSON(ctx, &ltWorker{client: c, key: t.decide}, srv.url()+"/v1/customers/"+ltCustomerID(i), map[string]any{"attributes": memProfile(r)})
	}); err != nil {
		return err
	}
	rss, _ := procMemory(srv.pid())
	fmt.Fprintf(stdout, "setup: schema (dim %d), %d full-covariance actions, %d customers in %.1fs; RSS %.0f MB\n",
		schema.Dim, o.MemActions, o.Customers, time.Since(start).Seconds(), rss.rss)

	// The load: decides over random candidate subsets, feedback on every n-th.
	start = time.Now()
	var next, decided, decErrs, fed, fbErrs, peakAnon atomic.Int64
	var firstErr atomic.Pointer[string]
	fail := func(n *atomic.Int64, err error) {
		n.Add(1)
		msg := err.Error()
		firstErr.CompareAndSwap(nil, &msg)
	}
	total := int64(o.Decisions)
	progress := time.NewTicker(time.Second) // samples memory; prints every 10th
	defer progress.Stop()
	loadDone := make(chan struct{})
	go func() {
		ticks := 0
		for {
			select {
			case <-loadDone:
				return
			case <-progress.C:
				m, _ := procMemory(srv.pid())
				peakAnon.Store(max(peakAnon.Load(), int64(m.anon)))
				if ticks++; ticks%10 != 0 {
					continue
				}
				n := decided.Load()
				fmt.Fprintf(stdout, "  %8d decisions (%3.0f%%), %6.0f/s, %d feedback, RSS %4.0f MB (anon %4.0f, file %4.0f; peak %4.0f MB), errors %d\n",
					n, 100*float64(n)/float64(total), float64(n)/time.Since(start).Seconds(), fed.Load(), m.rss, m.anon, m.file, m.hwm, decErrs.Load()+fbErrs.Load())
			}
		}
	}()
	var wg sync.WaitGroup
	for wi := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &ltWorker{client: c, key: t.decide, rng: rand.New(rand.NewPCG(o.Seed, uint64(wi)+0x3e3))}
			var body []byte
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				body = memDecideBody(body[:0], w.rng, o.Customers, o.MemActions, o.Candidates)
				if err := w.do(ctx, http.MethodPost, srv.url()+"/v1/decide", body, http.StatusOK); err != nil {
					fail(&decErrs, err)
					continue
				}
				decided.Add(1)
				if o.FeedbackEvery == 0 || i%int64(o.FeedbackEvery) != 0 {
					continue
				}
				d, a, err := parseDecided(w.buf.Bytes())
				if err != nil {
					fail(&fbErrs, err)
					continue
				}
				if a == "" {
					continue
				}
				// A hidden response rate that differs by action and segment.
				outcome := "ignored"
				if w.rng.Float64() < 0.05+0.2*float64(len(d)%2)*float64(a[len(a)-1]%2) {
					outcome = "accepted"
				}
				if err := w.do(ctx, http.MethodPost, srv.url()+"/v1/feedback", ltFeedbackBody(ltOffered{d, a}, outcome), http.StatusAccepted); err != nil {
					fail(&fbErrs, err)
					continue
				}
				fed.Add(1)
			}
		}()
	}
	wg.Wait()
	close(loadDone)
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.LoadSeconds = time.Since(start).Seconds()
	rep.PeakAnonMB = float64(peakAnon.Load())
	rep.Decisions, rep.DecideErrors, rep.Feedback, rep.FeedbackErrors = decided.Load(), decErrs.Load(), fed.Load(), fbErrs.Load()
	rep.DecidesPerSec = float64(rep.Decisions) / rep.LoadSeconds
	if p := firstErr.Load(); p != nil {
		rep.FirstError = *p
	}
	m, err := procMemory(srv.pid())
	if err != nil {
		return err
	}
	rep.RSSMB, rep.PeakRSSMB, rep.AnonMB, rep.FileMB = m.rss, m.hwm, m.anon, m.file
	rep.PeakAnonMB = max(rep.PeakAnonMB, m.anon)
	rep.FileCleanMB, rep.FileDirtyMB = fileMappings(srv.pid())
	if o.MemProfile != "" {
		if err := writeHeapProfile(o.MemProfile); err != nil {
			return err
		}
	}
	metrics := scrapeMetrics(ctx, adminW(), srv.url())
	rep.HeapInuseMB = metrics["go_memstats_heap_inuse_bytes"] / (1 << 20)
	rep.LSMMB = metrics["nextbest_store_lsm_bytes"] / (1 << 20)
	rep.VlogMB = metrics["nextbest_store_vlog_bytes"] / (1 << 20)

	stopStart := time.Now()
	if err := srv.stop(); err != nil {
		return err
	}
	rep.StopSeconds = time.Since(stopStart).Seconds()
	rep.DiskMB = diskUsage(data) / (1 << 20)

	if o.Restart {
		restart := time.Now()
		srv2, err := launch("server2.log")
		if err != nil {
			return err
		}
		defer srv2.kill()
		rep.RestartReadySeconds = time.Since(restart).Seconds()
		m, err := procMemory(srv2.pid())
		if err != nil {
			return err
		}
		rep.RestartRSSMB, rep.RestartPeakRSSMB = m.rss, m.hwm
		if o.MemProfile != "" {
			fmt.Fprintln(stdout, "(in-process: the restart's memory includes the first run's)")
		}
		if err := srv2.stop(); err != nil {
			return err
		}
	}
	printMemReport(stdout, &rep)
	if o.JSON != "" {
		return ltWriteJSON(o.JSON, rep)
	}
	return nil
}

func printMemReport(w io.Writer, r *ltMemReport) {
	fmt.Fprintf(w, "\n%d decisions (%d errors) and %d feedback events (%d errors) in %.0fs: %.0f decides/s\n",
		r.Decisions, r.DecideErrors, r.Feedback, r.FeedbackErrors, r.LoadSeconds, r.DecidesPerSec)
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error: %s\n", r.FirstError)
	}
	fmt.Fprintf(w, "server resident memory: %.0f MB now, %.0f MB peak (VmHWM); target <= 512 MB\n", r.RSSMB, r.PeakRSSMB)
	fmt.Fprintf(w, "  anonymous (heap, stacks): %.0f MB now, %.0f MB peak (sampled every second); Go heap in use %.0f MB\n", r.AnonMB, r.PeakAnonMB, r.HeapInuseMB)
	fmt.Fprintf(w, "  mapped files (Badger tables, logs): %.0f MB now, of which %.0f MB clean (the kernel drops them under memory pressure) and %.0f MB dirty\n", r.FileMB, r.FileCleanMB, r.FileDirtyMB)
	fmt.Fprintf(w, "store: %.0f MB on disk; graceful stop took %.1fs\n", r.DiskMB, r.StopSeconds)
	if r.RestartReadySeconds > 0 {
		fmt.Fprintf(w, "restart on the same data: ready in %.1fs, RSS %.0f MB (peak %.0f MB)\n", r.RestartReadySeconds, r.RestartRSSMB, r.RestartPeakRSSMB)
	}
}

func memActionID(i int) string { return fmt.Sprintf("m-%04d", i) }

// memProfile is a customer profile with the schema's profile fields.
func memProfile(r *rand.Rand) map[string]any {
	return map[string]any{
		"tenure_months":   r.IntN(120),
		"monthly_spend":   math.Round(r.Float64()*8000) / 100,
		"data_gb":         math.Round(r.ExpFloat64()*500) / 100,
		"calls_per_month": r.IntN(200),
		"age":             18 + r.IntN(70),
		"has_device_plan": r.IntN(2) == 0,
		"roaming":         r.IntN(5) == 0,
		"plan":            ltPlans[r.IntN(len(ltPlans))],
		"segment":         []string{"student", "family", "business", "senior", "young_pro", "other"}[r.IntN(6)],
		"region":          "r" + strconv.Itoa(r.IntN(8)),
	}
}

// memDecideBody appends a decide request: a random customer, a 20-field context (the
// schema's 9 context fields and 11 it ignores) and k distinct random candidate actions.
func memDecideBody(b []byte, r *rand.Rand, customers, actions, k int) []byte {
	b = append(b, `{"customer_id":"`...)
	b = append(b, ltCustomerID(r.IntN(customers))...)
	b = append(b, `","channel":"web","limit":1,"actions":[`...)
	var picked [64]int
	n := 0
	for n < min(k, len(picked)) {
		a := r.IntN(actions)
		if slices.Contains(picked[:n], a) {
			continue
		}
		picked[n] = a
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, memActionID(a)...)
		b = append(b, '"')
		n++
	}
	b = append(b, `],"context":{"basket_eur":`...)
	b = strconv.AppendFloat(b, math.Round(r.ExpFloat64()*5000)/100, 'f', -1, 64)
	b = append(b, `,"page_views":`...)
	b = strconv.AppendInt(b, int64(r.IntN(40)), 10)
	b = append(b, `,"session_seconds":`...)
	b = strconv.AppendInt(b, int64(r.IntN(3600)), 10)
	b = append(b, `,"hour":`...)
	b = strconv.AppendInt(b, int64(r.IntN(24)), 10)
	b = append(b, `,"days_since_contact":`...)
	b = strconv.AppendInt(b, int64(r.IntN(365)), 10)
	b = append(b, `,"logged_in":`...)
	b = strconv.AppendBool(b, r.IntN(2) == 0)
	b = append(b, `,"promo_seen":`...)
	b = strconv.AppendBool(b, r.IntN(4) == 0)
	b = append(b, `,"device":"`...)
	b = append(b, []string{"ios", "android", "desktop"}[r.IntN(3)]...)
	b = append(b, `","intent":"`...)
	b = append(b, []string{"browse", "upgrade", "cancel", "support"}[r.IntN(4)]...)
	b = append(b, '"')
	for j := range 11 {
		b = append(b, `,"extra_`...)
		b = strconv.AppendInt(b, int64(j), 10)
		b = append(b, `":"`...)
		b = append(b, ltWords[r.IntN(len(ltWords))]...)
		b = append(b, '"')
	}
	return append(b, `}}`...)
}

// ltProcess is a nextbest server running as a child process.
type ltProcess struct {
	cmd    *exec.Cmd
	base   string
	out    *ltBuffer // its stdout
	exited chan error
}

// adminKey returns the admin key the server printed on its first start, if any.
func (p *ltProcess) adminKey() string { return firstAdminKey(p.out.String()) }

func (p *ltProcess) pid() int    { return p.cmd.Process.Pid }
func (p *ltProcess) url() string { return p.base }

// startProcess runs `bin serve` on 127.0.0.1:0 over data, logging to logPath, and waits
// until it serves and is ready.
func startProcess(ctx context.Context, bin, data, config, logPath string) (*ltProcess, error) {
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--no-demo"}
	if config != "" {
		args = append(args, "--config", config)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("loadtest: start %s: %w", bin, err)
	}
	p := &ltProcess{cmd: cmd, out: new(ltBuffer), exited: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(p.out, sc.Text())
			if _, rest, ok := strings.Cut(sc.Text(), "serving on http://"); ok {
				a, _, _ := strings.Cut(rest, " ")
				select {
				case addr <- a:
				default:
				}
			}
		}
		p.exited <- cmd.Wait()
		logf.Close()
	}()
	select {
	case a := <-addr:
		p.base = "http://" + a
	case err := <-p.exited:
		p.exited <- err
		return nil, fmt.Errorf("loadtest: %s serve exited before serving (%v); its log: %s", bin, err, logPath)
	case <-time.After(2 * time.Minute):
		p.kill()
		return nil, fmt.Errorf("loadtest: %s serve did not start within 2 minutes; its log: %s", bin, logPath)
	case <-ctx.Done():
		p.kill()
		return nil, ctx.Err()
	}
	if err := waitReady(ctx, p.base, p.exited); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// stop sends SIGTERM and waits for a clean exit.
func (p *ltProcess) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("loadtest: stop server: %w", err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err
		if err != nil {
			return fmt.Errorf("loadtest: server exited with %w", err)
		}
		return nil
	case <-time.After(5 * time.Minute):
		p.kill()
		return errors.New("loadtest: server did not stop within 5 minutes of SIGTERM; killed")
	}
}

// kill ends the process if it still runs.
func (p *ltProcess) kill() {
	select {
	case err := <-p.exited:
		p.exited <- err
	default:
		p.cmd.Process.Kill()
		p.exited <- <-p.exited
	}
}

// ltMemInfo is a process's resident memory in MB: in total (VmRSS), its peak (VmHWM), and
// the anonymous (heap, stacks) and file-backed (mapped Badger tables and logs) parts of
// VmRSS.
type ltMemInfo struct{ rss, hwm, anon, file float64 }

// procMemory reads VmRSS and VmHWM from /proc/PID/status.
func procMemory(pid int) (ltMemInfo, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ltMemInfo{}, fmt.Errorf("loadtest: read memory of pid %d: %w", pid, err)
	}
	return parseProcStatus(raw), nil
}

func parseProcStatus(raw []byte) ltMemInfo {
	var m ltMemInfo
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			m.rss = kb / 1024
		case "VmHWM":
			m.hwm = kb / 1024
		case "RssAnon":
			m.anon = kb / 1024
		case "RssFile":
			m.file = kb / 1024
		}
	}
	return m
}

// fileMappings sums the clean and dirty resident pages of pid's file-backed mappings, in
// MB, from /proc/PID/smaps.
func fileMappings(pid int) (clean, dirty float64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, 0
	}
	file := false
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") { // a mapping's header: range perms offset dev inode [path]
			file = len(f) >= 6 && strings.HasPrefix(f[5], "/")
			continue
		}
		if !file || len(f) != 3 {
			continue
		}
		kb, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Private_Clean:", "Shared_Clean:":
			clean += kb / 1024
		case "Private_Dirty:", "Shared_Dirty:":
			dirty += kb / 1024
		}
	}
	return clean, dirty
}

// scrapeMetrics reads the server's unlabelled metrics; it returns an empty map on error.
func scrapeMetrics(ctx context.Context, w *ltWorker, base string) map[string]float64 {
	out := map[string]float64{}
	if err := w.do(ctx, http.MethodGet, base+"/metrics", nil, http.StatusOK); err != nil {
		return out
	}
	for _, line := range strings.Split(w.buf.String(), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.ContainsAny(name, "{#") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// diskUsage returns the bytes allocated on disk to the files under dir (Badger's
// preallocated and sparse files count for what they occupy, not their length).
func diskUsage(dir string) float64 {
	var total float64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				total += float64(st.Blocks) * 512
			} else {
				total += float64(fi.Size())
			}
		}
		return nil
	})
	return total
}
