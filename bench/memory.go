package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
	"github.com/prometheus/procfs"
	"golang.org/x/sync/errgroup"
)

// loadtest --memory: the resident memory of the real binary serving 1,000 full-covariance
// d = 64 actions while it logs a million decisions (issue 3, item 5).

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
	PeakAnonMB     float64   `json:"peak_rss_anon_mb"` // highest RssAnon, sampled every ltMemSample
	PeakFileMB     float64   `json:"peak_rss_file_mb"` // highest RssFile, sampled every ltMemSample
	// Of FileMB: clean pages, which the kernel drops under memory pressure (they are
	// reread from the files), and dirty ones, which it must write back first.
	FileCleanMB   float64 `json:"rss_file_clean_mb"`
	FileDirtyMB   float64 `json:"rss_file_dirty_mb"`
	HeapInuseMB   float64 `json:"heap_inuse_mb,omitempty"`
	GoMemLimitMB  float64 `json:"go_memory_limit_mb,omitempty"` // 0: none
	TargetMB      float64 `json:"target_mb"`
	TargetMeasure string  `json:"target_measure"` // the field the target is checked against
	TargetMet     bool    `json:"target_met"`
	// The server's memory cgroup, when it has a limit: its peak charge (anonymous memory
	// and the page cache the server brought in), how often the limit was reached, and
	// how many processes in it the kernel killed for want of memory.
	CgroupLimitMB  float64 `json:"cgroup_limit_mb,omitempty"`
	CgroupPeakMB   float64 `json:"cgroup_peak_mb,omitempty"`
	CgroupLimitHit int64   `json:"cgroup_limit_hit,omitempty"`
	CgroupOOMKills int64   `json:"cgroup_oom_kills,omitempty"`
	DiskMB         float64 `json:"disk_mb"` // allocated blocks of the data directory
	LSMMB          float64 `json:"lsm_mb"`
	VlogMB         float64 `json:"vlog_mb"`
	StopSeconds    float64 `json:"stop_seconds"`
	// After a restart on the same data.
	RestartReadySeconds float64 `json:"restart_ready_seconds,omitempty"`
	RestartRSSMB        float64 `json:"restart_rss_mb,omitempty"`
	RestartPeakRSSMB    float64 `json:"restart_peak_rss_mb,omitempty"`
	RestartAnonMB       float64 `json:"restart_rss_anon_mb,omitempty"`
	RestartFileMB       float64 `json:"restart_rss_file_mb,omitempty"`
}

// Memory runs the real binary (o.Bin) as a subprocess, or with o.Spawn the server
// in-process, loads 1,000 full-covariance d = 64 actions and a million decisions, and
// reports its resident memory: anonymous and file-backed apart.
func Memory(ctx context.Context, o LoadtestOptions, stdout, stderr io.Writer) error {
	o.Memory = true
	if err := o.Validate(); err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	bin, err := nextbestBinary(o.Bin)
	if err != nil {
		return fmt.Errorf("memory: %w", err)
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
	fmt.Fprintf(stdout, "nextbest-bench memory: %s on %s, %d CPUs (%s)\n", where, data, rep.CPUs, rep.CPUModel)

	srv, err := launch("server.log")
	if err != nil {
		return err
	}
	defer srv.kill()
	t, err := newLtTarget(ctx, srv.url(), srv.adminKey(), nil)
	if err != nil {
		return err
	}
	defer t.admin.CloseIdleConnections()
	setup := setupClient(srv.url(), t.decide)
	defer setup.CloseIdleConnections()

	// Schema, catalog, profiles.
	start := time.Now()
	schema, err := t.admin.PutSchema(ctx, []byte(memSchema))
	if err != nil {
		return fmt.Errorf("loadtest setup: %w", err)
	}
	rep.Dim = schema.Dim
	if schema.Dim != memSchemaDim {
		return fmt.Errorf("loadtest: the memory schema has %d dimensions, want %d", schema.Dim, memSchemaDim)
	}
	issues := []string{"retention", "sales", "service"}
	if err := ltParallel(ctx, 8, o.MemActions, func(i int) error {
		_, err := t.admin.PutAction(ctx, engine.ActionID(memActionID(i)), wire.ActionRequest{
			Issue: issues[i%3], Group: "g" + strconv.Itoa(i%20), Value: &engine.Money{Const: float64(10 + i%50)}, Model: engine.ModelSpec{Form: "full"},
		})
		return err
	}); err != nil {
		return fmt.Errorf("loadtest setup: %w", err)
	}
	if err := ltParallel(ctx, 8, o.Customers, func(i int) error {
		r := rand.New(rand.NewPCG(uint64(i), 0xc057))
		_, err := setup.PutCustomer(ctx, engine.CustomerID(ltCustomerID(i)), memProfile(r))
		return err
	}); err != nil {
		return fmt.Errorf("loadtest setup: %w", err)
	}
	rss, _ := procMemory(srv.pid())
	fmt.Fprintf(stdout, "setup: schema (dim %d), %d full-covariance actions, %d customers in %.1fs; RSS %.0f MB\n",
		schema.Dim, o.MemActions, o.Customers, time.Since(start).Seconds(), rss.rss)

	// The load: decides over random candidate subsets, feedback on every n-th.
	start = time.Now()
	var next, decided, decErrs, fed, fbErrs, peakAnon, peakFile atomic.Int64
	var firstErr atomic.Pointer[string]
	fail := func(n *atomic.Int64, err error) {
		n.Add(1)
		msg := err.Error()
		firstErr.CompareAndSwap(nil, &msg)
	}
	total := int64(o.Decisions)
	progress := time.NewTicker(ltMemSample) // samples memory; prints every 10 s
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
				peakFile.Store(max(peakFile.Load(), int64(m.file)))
				if ticks++; ticks%int(10*time.Second/ltMemSample) != 0 {
					continue
				}
				n := decided.Load()
				fmt.Fprintf(stdout, "  %8d decisions (%3.0f%%), %6.0f/s, %d feedback, RSS %4.0f MB (anon %4.0f, file %4.0f; peak %4.0f MB), errors %d\n",
					n, 100*float64(n)/float64(total), float64(n)/time.Since(start).Seconds(), fed.Load(), m.rss, m.anon, m.file, m.hwm, decErrs.Load()+fbErrs.Load())
			}
		}
	}()
	load := t.load(o.Concurrency)
	defer load.CloseIdleConnections()
	var g errgroup.Group
	for wi := range o.Concurrency {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(o.Seed, uint64(wi)+0x3e3))
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= total {
					return nil
				}
				res, err := load.Decide(ctx, memDecideRequest(rng, o.Customers, o.MemActions, o.Candidates))
				if err != nil {
					fail(&decErrs, err)
					continue
				}
				decided.Add(1)
				if o.FeedbackEvery == 0 || i%int64(o.FeedbackEvery) != 0 || len(res.Actions) == 0 {
					continue
				}
				d, a := res.DecisionID, res.Actions[0].ID
				// A hidden response rate that differs by action and segment.
				outcome := engine.Ignored
				if rng.Float64() < 0.05+0.2*float64(len(d)%2)*float64(a[len(a)-1]%2) {
					outcome = engine.Accepted
				}
				if _, err := load.Feedback(ctx, wire.FeedbackRequest{DecisionID: d, ActionID: a, Outcome: outcome}); err != nil {
					fail(&fbErrs, err)
					continue
				}
				fed.Add(1)
			}
			return nil
		})
	}
	g.Wait() // failed requests are counted, not returned
	close(loadDone)
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.LoadSeconds = time.Since(start).Seconds()
	rep.PeakAnonMB, rep.PeakFileMB = float64(peakAnon.Load()), float64(peakFile.Load())
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
	rep.PeakAnonMB, rep.PeakFileMB = max(rep.PeakAnonMB, m.anon), max(rep.PeakFileMB, m.file)
	rep.FileCleanMB, rep.FileDirtyMB = fileMappings(srv.pid())
	if cg, ok := procCgroupMemory(srv.pid()); ok {
		rep.CgroupLimitMB, rep.CgroupPeakMB, rep.CgroupLimitHit, rep.CgroupOOMKills = cg.limit, cg.peak, cg.limitHit, cg.oomKills
	}
	rep.judge()
	if o.MemProfile != "" {
		if err := writeHeapProfile(o.MemProfile); err != nil {
			return err
		}
	}
	metrics := scrapeMetrics(ctx, t.admin)
	rep.HeapInuseMB = metrics["go_memstats_heap_inuse_bytes"] / (1 << 20)
	if l := metrics["go_memlimit_bytes"]; l > 0 && l < math.MaxInt64 {
		rep.GoMemLimitMB = l / (1 << 20)
	}
	rep.LSMMB = metrics["nextbest_store_lsm_bytes"] / (1 << 20)
	rep.VlogMB = metrics["nextbest_store_vlog_bytes"] / (1 << 20)

	stopStart := time.Now()
	if err := srv.stop(); err != nil {
		return err
	}
	rep.StopSeconds = time.Since(stopStart).Seconds()
	rep.DiskMB = float64(store.DiskUsage(data)) / (1 << 20)

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
		rep.RestartRSSMB, rep.RestartPeakRSSMB, rep.RestartAnonMB, rep.RestartFileMB = m.rss, m.hwm, m.anon, m.file
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

// ltMemTarget is the issue's bound on the server's resident memory, in MB.
const ltMemTarget = 512

// ltMemSample is how often --memory samples the server's memory for the peaks of its
// anonymous and file-backed parts (the kernel keeps a high-water mark only of the sum).
const ltMemSample = 200 * time.Millisecond

// judge checks the target. Resident memory has two parts: anonymous memory (Go heap,
// stacks), which the server needs, and file-backed pages, the page cache of Badger's
// memory-mapped tables and logs, which grows with the store until the kernel needs the
// memory and then drops them (they are clean). Without a memory limit VmHWM is therefore
// about the size of the store, and the target is checked against the anonymous peak. In
// a memory cgroup with a limit at or below the target, the kernel holds the whole charge
// under it, and the target is checked against VmHWM, with no process killed.
func (r *ltMemReport) judge() {
	r.TargetMB = ltMemTarget
	if r.CgroupLimitMB > 0 && r.CgroupLimitMB <= ltMemTarget {
		r.TargetMeasure = "peak_rss_mb"
		r.TargetMet = r.PeakRSSMB <= ltMemTarget && r.CgroupOOMKills == 0
		return
	}
	r.TargetMeasure = "peak_rss_anon_mb"
	r.TargetMet = r.PeakAnonMB <= ltMemTarget
}

func printMemReport(w io.Writer, r *ltMemReport) {
	fmt.Fprintf(w, "\n%d decisions (%d errors) and %d feedback events (%d errors) in %.0fs: %.0f decides/s\n",
		r.Decisions, r.DecideErrors, r.Feedback, r.FeedbackErrors, r.LoadSeconds, r.DecidesPerSec)
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error: %s\n", r.FirstError)
	}
	limit := "no Go memory limit"
	if r.GoMemLimitMB > 0 {
		limit = fmt.Sprintf("Go memory limit %.0f MB", r.GoMemLimitMB)
	}
	fmt.Fprintf(w, "server memory, MB               end    peak\n")
	fmt.Fprintf(w, "  resident (VmRSS, VmHWM)    %7.0f %7.0f   anonymous + file-backed\n", r.RSSMB, r.PeakRSSMB)
	fmt.Fprintf(w, "  anonymous (RssAnon)        %7.0f %7.0f   Go heap and stacks: what the server needs\n", r.AnonMB, r.PeakAnonMB)
	fmt.Fprintf(w, "  file-backed (RssFile)      %7.0f %7.0f   Badger's mmapped tables and logs: %.0f clean, %.0f dirty at the end\n", r.FileMB, r.PeakFileMB, r.FileCleanMB, r.FileDirtyMB)
	fmt.Fprintf(w, "  Go heap in use             %7.0f       -   %s\n", r.HeapInuseMB, limit)
	if r.CgroupLimitMB > 0 {
		fmt.Fprintf(w, "  memory cgroup                    - %7.0f   limit %.0f MB, reached %d times, %d OOM kills\n", r.CgroupPeakMB, r.CgroupLimitMB, r.CgroupLimitHit, r.CgroupOOMKills)
	}
	fmt.Fprintf(w, "  (the peaks of RssAnon and RssFile are sampled every %v; VmHWM is the kernel's)\n", ltMemSample)
	verdict := "not met"
	if r.TargetMet {
		verdict = "met"
	}
	if r.TargetMeasure == "peak_rss_mb" {
		fmt.Fprintf(w, "target <= %.0f MB resident: checked against VmHWM in a %.0f MB memory cgroup: %.0f MB, %s\n", r.TargetMB, r.CgroupLimitMB, r.PeakRSSMB, verdict)
	} else {
		fmt.Fprintf(w, "target <= %.0f MB resident: checked against the peak anonymous memory: %.0f MB, %s\n", r.TargetMB, r.PeakAnonMB, verdict)
		fmt.Fprint(w, "  (file-backed pages are the page cache of Badger's mmapped files: they grow with the\n"+
			"  store until memory is short, and then the kernel drops them, so VmHWM is not the\n"+
			"  measure here; a memory cgroup of <= 512 MB checks VmHWM: docs/configuration.md)\n")
	}
	fmt.Fprintf(w, "store: %.0f MB on disk; graceful stop took %.1fs\n", r.DiskMB, r.StopSeconds)
	if r.RestartReadySeconds > 0 {
		fmt.Fprintf(w, "restart on the same data: ready in %.1fs, RSS %.0f MB (anonymous %.0f, file-backed %.0f; peak %.0f MB)\n",
			r.RestartReadySeconds, r.RestartRSSMB, r.RestartAnonMB, r.RestartFileMB, r.RestartPeakRSSMB)
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

// memDecideRequest returns a decide request: a random customer, a 20-field context (the
// schema's 9 context fields and 11 it ignores) and k distinct random candidate actions.
func memDecideRequest(r *rand.Rand, customers, actions, k int) wire.DecideRequest {
	req := wire.DecideRequest{CustomerID: engine.CustomerID(ltCustomerID(r.IntN(customers))), Channel: "web", Limit: 1}
	var picked [64]int
	for n := 0; n < min(k, len(picked)); {
		a := r.IntN(actions)
		if slices.Contains(picked[:n], a) {
			continue
		}
		picked[n] = a
		req.Actions = append(req.Actions, engine.ActionID(memActionID(a)))
		n++
	}
	req.Context = map[string]any{
		"basket_eur":         math.Round(r.ExpFloat64()*5000) / 100,
		"page_views":         r.IntN(40),
		"session_seconds":    r.IntN(3600),
		"hour":               r.IntN(24),
		"days_since_contact": r.IntN(365),
		"logged_in":          r.IntN(2) == 0,
		"promo_seen":         r.IntN(4) == 0,
		"device":             []string{"ios", "android", "desktop"}[r.IntN(3)],
		"intent":             []string{"browse", "upgrade", "cancel", "support"}[r.IntN(4)],
	}
	for j := range 11 {
		req.Context["extra_"+strconv.Itoa(j)] = ltWords[r.IntN(len(ltWords))]
	}
	return req
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

// ltCgroupMem is a memory cgroup's limit and peak charge in MB, how often the charge
// reached the limit, and how many processes the kernel killed in it for want of memory.
type ltCgroupMem struct {
	limit, peak        float64
	limitHit, oomKills int64
}

// procCgroupMemory reads the memory cgroup of pid from /sys/fs/cgroup; ok is false when
// the cgroup has no limit of its own or cannot be read. procfs names the cgroup
// (/proc/PID/cgroup); it has no reader of a cgroup's memory files, so readCgroupMemory
// reads those.
func procCgroupMemory(pid int) (m ltCgroupMem, ok bool) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return ltCgroupMem{}, false
	}
	cgroups, err := p.Cgroups()
	if err != nil {
		return ltCgroupMem{}, false
	}
	return readCgroupMemory("/sys/fs/cgroup", cgroups)
}

// readCgroupMemory reads, under root, the memory cgroup among cgroups (a process's, as
// procfs reads /proc/PID/cgroup): cgroup v1's memory controller (memory.limit_in_bytes,
// memory.max_usage_in_bytes, memory.failcnt, memory.oom_control) if it is mounted, else
// cgroup v2 (memory.max, memory.peak, memory.events). Both charge a cgroup with its
// anonymous memory and the page cache its processes brought in.
func readCgroupMemory(root string, cgroups []procfs.Cgroup) (m ltCgroupMem, ok bool) {
	v1, v2 := "", ""
	for _, c := range cgroups {
		if slices.Contains(c.Controllers, "memory") {
			v1 = c.Path
		}
		if c.HierarchyID == 0 && len(c.Controllers) == 0 {
			v2 = c.Path
		}
	}
	read := func(dir, name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	number := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0
		}
		return f
	}
	// field returns N from the line "key N" of a flat-keyed file (memory.events, oom_control).
	field := func(s, key string) int64 {
		for _, line := range strings.Split(s, "\n") {
			if k, v, ok := strings.Cut(line, " "); ok && k == key {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		return 0
	}
	var limit float64
	switch {
	case v1 != "":
		dir := filepath.Join(root, "memory", v1)
		limit = number(read(dir, "memory.limit_in_bytes"))
		m.peak = number(read(dir, "memory.max_usage_in_bytes"))
		m.limitHit = int64(number(read(dir, "memory.failcnt")))
		m.oomKills = field(read(dir, "memory.oom_control"), "oom_kill")
	case v2 != "":
		dir := filepath.Join(root, v2)
		limit = number(read(dir, "memory.max")) // "max", no limit, reads as 0
		m.peak = number(read(dir, "memory.peak"))
		events := read(dir, "memory.events")
		m.limitHit, m.oomKills = field(events, "max"), field(events, "oom_kill")
	}
	// cgroup v1 writes "no limit" as the largest page-aligned int64.
	if limit <= 0 || limit >= 1<<62 {
		return ltCgroupMem{}, false
	}
	m.limit, m.peak = limit/(1<<20), m.peak/(1<<20)
	return m, true
}

// scrapeMetrics reads the server's /metrics into a map from series (name and labels, as
// printed: `name{label="x"}`) to value; it returns an empty map on error.
func scrapeMetrics(ctx context.Context, c *client.Client) map[string]float64 {
	out := map[string]float64{}
	raw, err := c.Metrics(ctx)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(raw), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// nextbestBinary returns bin if given, else the nextbest binary beside this executable,
// else the one on $PATH.
func nextbestBinary(bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "nextbest"); exists(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath("nextbest")
	if err != nil {
		return "", errors.New("no nextbest binary beside this one or on $PATH: give --bin")
	}
	return p, nil
}
