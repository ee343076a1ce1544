package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nextbest/nextbest/api"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/cli"
	"github.com/nextbest/nextbest/internal/evaltext"
	"github.com/nextbest/nextbest/internal/service"
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
	since := fs.String("since", "", "evaluate decisions from this time (RFC 3339, a duration back from now such as 30d, or Unix seconds)")
	until := fs.String("until", "", "and before this time (as --since)")
	sources := fs.String("sources", "", "evaluate only decisions of these sources, comma-separated (inbound, outbound, campaign)")
	asOf := fs.String("as-of", "", "count outcomes up to this time (as --since; default the server's clock)")
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
		t, err := api.ParseTime("--"+f.flag, f.val, now)
		if err != nil {
			return cli.Usage(c, fmt.Errorf("evaluate: %w", err))
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
	evaltext.Write(stdout, res)
	return nil
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
	stop := evaltext.Progress(stderr, every, func() engine.JobProgress {
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
			evaltext.PrintProgress(stderr, job.Progress, time.Since(start))
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
