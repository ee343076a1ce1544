package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/cli"
	"github.com/nextbest/nextbest/internal/numtext"
	"github.com/nextbest/nextbest/internal/service"
	"github.com/nextbest/nextbest/offpolicy"
	"github.com/spf13/cobra"
)

func evaluateCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "evaluate (--data DIR [--config FILE] | --addr HOST:PORT) --policy JSON [--policy JSON ...] [--spec FILE]",
		Short: "Off-policy evaluation: what other policies would have earned on the logged decisions",
		Long: `evaluate estimates, from the decision log, what other policies would have earned: the
logged policy itself (the sanity check), uniform random, always one action, or the NBA
policy with another threshold, alpha, catalog or models (docs/evaluation.md). --data
evaluates a stopped server's store (with --config, the server's configuration: its engine
options are the logged policy's); --addr asks a running server (POST /v1/evaluations, an
analyst or admin key from --key or $NEXTBEST_KEY) and follows the job. --spec FILE gives
the whole request as JSON (- reads stdin).

A policy is a JSON object:
  {"type": "logged"}                          the logging policy itself
  {"type": "uniform"}                         uniformly at random, "no action" included
  {"type": "always", "action": "data-addon"}  one action whenever eligible
  {"type": "nba", "threshold": 15}            the NBA policy with other options, actions
  {"type": "nba", "models": "logged", "alpha": 1}   ... or models

It prints a table of every policy against the logged one (estimate, 95% interval, the
difference from the logged policy with its interval, the effective sample size, the
largest weight, warnings) and, with --json FILE, writes the whole result. Progress goes
to stderr.`,
		Example: `  nextbest evaluate --data tmp/demo/store --config cmd/nextbest/demo.yaml \
      --policy '{"type": "logged"}' --policy '{"type": "nba", "models": "logged", "threshold": 15}'
  nextbest evaluate --addr 127.0.0.1:8090 --spec spec.json --json result.json`,
		Args: cli.NoArgs,
	}
	fs := c.Flags()
	data := fs.String("data", "", "data directory of a stopped store to evaluate")
	config := fs.String("config", "", "with --data: the server's YAML config file (its engine options)")
	addr := fs.String("addr", "", "a running server to evaluate on (host:port or URL)")
	key := fs.String("key", "", "with --addr: an analyst or admin key (default $NEXTBEST_KEY)")
	specFile := fs.String("spec", "", "the evaluation request as a JSON file (- for stdin)")
	policies := fs.StringArray("policy", nil, "a target policy as JSON (repeatable)")
	since := fs.String("since", "", "evaluate decisions from this time (RFC 3339, or a duration back from now such as 30d)")
	until := fs.String("until", "", "and before this time (RFC 3339)")
	sources := fs.String("sources", "", "evaluate only decisions of these sources, comma-separated (inbound, outbound, campaign)")
	asOf := fs.String("as-of", "", "count outcomes up to this time (RFC 3339; default the server's clock)")
	boot := fs.Int("bootstrap", -1, "bootstrap replicates (default 200; 0 for none)")
	seed := fs.Uint64("seed", 0, "seed of the bootstrap (default 1)")
	workers := fs.Int("workers", 0, "scoring goroutines (default one per CPU with --data, half with --addr)")
	jsonOut := fs.String("json", "", "write the result as JSON to this file (- for stdout, instead of the table)")
	every := fs.Duration("progress", 2*time.Second, "how often to print progress on stderr (0: never)")
	c.RunE = func(c *cobra.Command, _ []string) error {
		k := *key
		if k == "" {
			k = os.Getenv("NEXTBEST_KEY")
		}
		return runEvaluate(c, evaluateFlags{data: *data, config: *config, addr: *addr, key: k, specFile: *specFile, policies: *policies,
			since: *since, until: *until, sources: *sources, asOf: *asOf, boot: boot, seed: *seed, workers: *workers, jsonOut: *jsonOut, every: *every})
	}
	return c
}

// evaluateFlags is the command line of evaluate.
type evaluateFlags struct {
	data, config, addr, key, specFile string
	policies                          []string
	since, until, sources, asOf       string
	boot                              *int
	seed                              uint64
	workers                           int
	jsonOut                           string
	every                             time.Duration
}

// runEvaluate runs an off-policy evaluation on a stopped store or a running server.
func runEvaluate(c *cobra.Command, f evaluateFlags) error {
	ctx, stdout, stderr := c.Context(), c.OutOrStdout(), c.ErrOrStderr()
	data, config, addr, key, specFile, policies := &f.data, &f.config, &f.addr, &f.key, &f.specFile, f.policies
	since, until, sources, asOf, boot, seed, workers, jsonOut, every := &f.since, &f.until, &f.sources, &f.asOf, f.boot, &f.seed, &f.workers, &f.jsonOut, &f.every
	if (*data == "") == (*addr == "") {
		return cli.Usage(c, errors.New("evaluate: give --data DIR (a stopped store) or --addr HOST:PORT (a running server)"))
	}
	var spec engine.EvaluationSpec
	if *specFile != "" {
		var raw []byte
		var err error
		if *specFile == "-" {
			raw, err = io.ReadAll(os.Stdin)
		} else {
			raw, err = os.ReadFile(*specFile)
		}
		if err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		d := json.NewDecoder(strings.NewReader(string(raw)))
		d.DisallowUnknownFields()
		if err := d.Decode(&spec); err != nil {
			return fmt.Errorf("evaluate: --spec %s: %w", *specFile, err)
		}
	}
	for i, p := range policies {
		var ps engine.PolicySpec
		d := json.NewDecoder(strings.NewReader(p))
		d.DisallowUnknownFields()
		if err := d.Decode(&ps); err != nil {
			return fmt.Errorf("evaluate: --policy %d (%s): %w", i+1, p, err)
		}
		spec.Policies = append(spec.Policies, ps)
	}
	if len(spec.Policies) == 0 {
		return cli.Usage(c, errors.New("evaluate: no policy: give --policy JSON (repeatable) or --spec FILE; nextbest evaluate --help has examples"))
	}
	now := time.Now()
	for _, f := range []struct {
		flag string
		val  string
		dst  *time.Time
	}{{"since", *since, &spec.Since}, {"until", *until, &spec.Until}, {"as-of", *asOf, &spec.AsOf}} {
		if f.val == "" {
			continue
		}
		t, err := parseWhen(f.val, now)
		if err != nil {
			return fmt.Errorf("evaluate: --%s: %w", f.flag, err)
		}
		*f.dst = t
	}
	if *sources != "" {
		spec.Sources = strings.Split(*sources, ",")
	}
	if *boot >= 0 {
		spec.Bootstrap = boot
	}
	if *seed != 0 {
		spec.Seed = *seed
	}
	if *workers != 0 {
		spec.Workers = *workers
	}

	var res *engine.Evaluation
	var err error
	if *data != "" {
		res, err = evaluateStore(ctx, *data, *config, spec, stderr, *every)
	} else {
		res, err = evaluateServer(ctx, *addr, *key, spec, stderr, *every)
	}
	if err != nil {
		return err
	}
	if *jsonOut != "" {
		raw, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return fmt.Errorf("evaluate: encode the result: %w", err)
		}
		raw = append(raw, '\n')
		if *jsonOut == "-" {
			_, err = stdout.Write(raw)
			return err
		}
		if err := os.WriteFile(*jsonOut, raw, 0o644); err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
	}
	writeEvaluation(stdout, res)
	return nil
}

// parseWhen reads an RFC 3339 time, or a duration back from now ("30d", "12h").
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := engine.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 30d", s)
	}
	return now.Add(-time.Duration(d)), nil
}

// evaluateStore evaluates a stopped store in this process: the engine is opened on it
// with the server's configuration (its options are the logged policy's) but not run, so
// nothing is written.
func evaluateStore(ctx context.Context, dir, config string, spec engine.EvaluationSpec, stderr io.Writer, every time.Duration) (*engine.Evaluation, error) {
	o := service.DefaultOptions()
	if config != "" {
		if err := service.LoadConfig(&o, config); err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
	}
	st, err := openStopped("evaluate", dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	eng, err := service.OpenEngine(ctx, o, st, dir)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	var prog engine.EvaluationProgress
	stop := progressLoop(stderr, every, func() engine.JobProgress {
		return engine.JobProgress{Read: prog.Read(), Evaluated: prog.Evaluated(), LastTime: prog.LastTime()}
	})
	res, err := eng.Evaluate(ctx, spec, &prog)
	stop()
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	return res, nil
}

// evaluateServer starts the evaluation as a job on a running server and follows it; an
// interrupt cancels the job.
func evaluateServer(ctx context.Context, addr, key string, spec engine.EvaluationSpec, stderr io.Writer, every time.Duration) (*engine.Evaluation, error) {
	c := client.New(addr, client.WithKey(key), client.WithUserAgent("nextbest evaluate"))
	defer c.CloseIdleConnections()
	job, err := c.StartEvaluation(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	start := time.Now()
	last := time.Time{}
	for job.State == engine.JobRunning {
		select {
		case <-ctx.Done():
			// Leave nothing running on the server.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_, _ = c.CancelEvaluation(cctx, job.ID)
			cancel()
			return nil, fmt.Errorf("evaluate: interrupted; job %s cancelled", job.ID)
		case <-time.After(250 * time.Millisecond):
		}
		if job, err = c.Evaluation(ctx, job.ID); err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		if every > 0 && time.Since(last) >= every {
			last = time.Now()
			printProgress(stderr, job.Progress, time.Since(start))
		}
	}
	switch job.State {
	case engine.JobDone:
		return job.Result, nil
	case engine.JobCancelled:
		return nil, fmt.Errorf("evaluate: job %s was cancelled on the server", job.ID)
	}
	if job.Error != nil {
		return nil, fmt.Errorf("evaluate: %s: %s", job.Error.Code, job.Error.Message)
	}
	return nil, fmt.Errorf("evaluate: job %s ended %s", job.ID, job.State)
}

// progressLoop prints progress every interval until stop is called.
func progressLoop(w io.Writer, every time.Duration, read func() engine.JobProgress) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				printProgress(w, read(), time.Since(start))
			}
		}
	}()
	return func() { close(done); <-finished }
}

func printProgress(w io.Writer, p engine.JobProgress, elapsed time.Duration) {
	at := ""
	if !p.LastTime.IsZero() {
		at = " (up to " + p.LastTime.Format("2006-01-02 15:04") + ")"
	}
	fmt.Fprintf(w, "evaluate: %s decisions read%s, %s evaluated, %s\n", numtext.Group(float64(p.Read), 0), at, numtext.Group(float64(p.Evaluated), 0), elapsed.Round(time.Second))
}

// The estimators the table shows, in order; the JSON has all of them.
var tableMethods = []offpolicy.Method{offpolicy.MethodDR, offpolicy.MethodSNIPS, offpolicy.MethodIPS, offpolicy.MethodDM}

// writeEvaluation prints the comparison table.
func writeEvaluation(w io.Writer, ev *engine.Evaluation) {
	fmt.Fprintf(w, "Off-policy evaluation of %s NBA decisions", numtext.Group(float64(ev.Evaluated), 0))
	if !ev.First.IsZero() {
		fmt.Fprintf(w, " from %s to %s", ev.First.Format("2006-01-02 15:04"), ev.Last.Format("2006-01-02 15:04"))
	}
	fmt.Fprintf(w, " (outcomes as of %s; %s decisions read, %.1f s)\n", ev.AsOf.Format("2006-01-02 15:04"), numtext.Group(float64(ev.Read), 0), ev.Seconds)
	for _, x := range ev.Excluded {
		fmt.Fprintf(w, "  not evaluated: %s %s\n", numtext.Group(float64(x.Count), 0), x.Message)
	}
	for _, r := range ev.Rewards {
		fmt.Fprintf(w, "\n%s: %s\n", rewardTitle(r.Name), r.Description)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  policy\testimator\testimate\t95% interval\tvs logged (95% interval)\tESS\tmax weight\twarnings\t")
		for _, p := range ev.Policies {
			re := p.Response
			if r.Name == engine.RewardNetValue {
				re = p.NetValue
			}
			if re == nil {
				fmt.Fprintf(tw, "  %s\t\t(no decision's horizon had passed by the as-of time)\t\t\t\t\t\t\n", p.Name)
				continue
			}
			if p.Spec.Type == engine.PolicyLogged {
				fmt.Fprintf(tw, "  %s\tobserved\t%s\t%s\t\t%s\t\t\t\n", p.Name, evalNum(re.Logged.Value), evalInterval(re.Logged.Normal), numtext.Group(float64(re.N), 0))
			}
			for k, m := range tableMethods {
				e, _ := re.Estimate(m)
				name, ess, maxw, warn := "", "", "", ""
				if k == 0 {
					name = p.Name
					ess = numtext.Group(math.Round(float64(re.Weights.ESS)), 0)
					if math.IsNaN(float64(re.Weights.ESS)) {
						ess = "-"
					}
					maxw = evalNum(re.Weights.MaxWeight)
					var kinds []string
					for _, wr := range re.Warnings {
						kinds = append(kinds, wr.Kind)
					}
					warn = strings.Join(kinds, ", ")
				}
				if p.Spec.Type == engine.PolicyLogged {
					name = ""
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s %s\t%s\t%s\t%s\t\n", name, m, evalNum(e.Value), evalInterval(e.Normal), evalSigned(e.VsLogged), evalInterval(e.VsLoggedInterval), ess, maxw, warn)
			}
		}
		tw.Flush()
	}
	var warned []string
	for _, p := range ev.Policies {
		for _, re := range []*engine.RewardEstimate{p.Response, p.NetValue} {
			if re == nil {
				continue
			}
			for _, wr := range re.Warnings {
				warned = append(warned, fmt.Sprintf("  %s, %s: %s", p.Name, rewardTitle(re.Reward), wr.Message))
			}
		}
	}
	if len(warned) > 0 {
		fmt.Fprintln(w, "\nWarnings (the estimate may not be trusted):")
		for _, s := range warned {
			fmt.Fprintln(w, s)
		}
	}
	fmt.Fprintln(w, "\nPolicies:")
	for _, p := range ev.Policies {
		fmt.Fprintf(w, "  %s: %s\n", p.Name, p.Description)
	}
	fmt.Fprintln(w, "\nNotes:")
	for _, n := range ev.Notes {
		fmt.Fprintf(w, "  - %s\n", n)
	}
}

func rewardTitle(name string) string {
	switch name {
	case engine.RewardResponse:
		return "Response"
	case engine.RewardNetValue:
		return "Net value"
	}
	return name
}

// evalNum prints a number with 4 significant digits, or "-".
func evalNum(f engine.NullFloat) string {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func evalSigned(f engine.NullFloat) string {
	s := evalNum(f)
	if s != "-" && !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

func evalInterval(i engine.IntervalResult) string {
	if math.IsNaN(float64(i.Lo)) || math.IsNaN(float64(i.Hi)) {
		return ""
	}
	return "[" + evalNum(i.Lo) + ", " + evalNum(i.Hi) + "]"
}
