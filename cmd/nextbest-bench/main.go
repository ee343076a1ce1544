// Command nextbest-bench drives a nextbest server to measure it: the load generator
// (throughput and latency of healthz, decide and durable feedback), the soak (80% of the
// maximum rate for a while; p99 and memory per window) and the memory test (the real
// binary's resident memory under a million decisions). The tools live in package bench;
// this binary reads the flags.
//
//	nextbest-bench loadtest --spawn [--duration 10s]
//	nextbest-bench soak     [--duration 60s] [--fraction 0.8]
//	nextbest-bench memory   [--bin ./bin/nextbest]
package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nextbest/nextbest/bench"
	"github.com/nextbest/nextbest/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { cli.Main(newRoot) }

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := cli.Root(&cobra.Command{
		Use:   "nextbest-bench",
		Short: "Measure a nextbest server: load test, soak, memory test",
		Long: `nextbest-bench drives a nextbest server on this machine (loopback only) and reports
what it measured: docs/benchmarks.md has the figures and the commands behind them.`,
		Example: `  nextbest-bench loadtest --spawn --duration 10s
  nextbest-bench soak --duration 60s
  nextbest-bench memory --bin ./bin/nextbest`,
		Version: version,
	}, stdout, stderr)
	root.AddCommand(loadtestCmd(false), loadtestCmd(true), soakCmd(), cli.VersionCmd("nextbest-bench", version))
	return root
}

// loadtestFlags adds the flags of loadtest and memory to fs.
func loadtestFlags(fs *pflag.FlagSet, o *bench.LoadtestOptions, memory bool) {
	fs.StringVar(&o.Config, "config", o.Config, "YAML config for the spawned server (--spawn, memory), e.g. store.sync_writes: false")
	fs.BoolVar(&o.Spawn, "spawn", o.Spawn, "run the server in-process on 127.0.0.1:0 with a fresh temp data dir, demo off")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "concurrent clients for healthz and decide (and memory)")
	fs.IntVar(&o.Customers, "customers", o.Customers, "customer profiles to create; decides pick one at random")
	fs.StringVar(&o.JSON, "json", o.JSON, "also write the results as JSON to this file")
	fs.StringVar(&o.MemProfile, "memprofile", o.MemProfile, "write a heap profile (after a GC) at the end of the load (--spawn)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed of the workload")
	if memory {
		fs.StringVar(&o.Bin, "bin", o.Bin, "nextbest binary to run (default: nextbest beside this executable, else on $PATH)")
		fs.IntVar(&o.Decisions, "decisions", o.Decisions, "decisions to log")
		fs.IntVar(&o.MemActions, "actions", o.MemActions, "actions, each with a full-covariance model")
		fs.IntVar(&o.Candidates, "candidates", o.Candidates, "random candidate actions per decide")
		fs.IntVar(&o.FeedbackEvery, "feedback-every", o.FeedbackEvery, "send feedback on every n-th decision")
		fs.BoolVar(&o.Restart, "restart", o.Restart, "restart the server at the end and report its memory after loading")
		return
	}
	fs.StringVar(&o.Addr, "addr", o.Addr, "address of a running server, e.g. 127.0.0.1:8080 (loopback only); the replicas of a cluster, comma-separated, take the requests in turn")
	fs.StringVar(&o.Key, "key", os.Getenv("NEXTBEST_KEY"), "--addr: an admin API key (default $NEXTBEST_KEY); the load runs with a decide key made from it and revoked after")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "measured time per phase")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "unmeasured time before each phase")
	fs.IntVar(&o.FeedbackC, "feedback-concurrency", o.FeedbackC, "concurrent clients for feedback")
	fs.IntVar(&o.FeedbackIDs, "feedback-decisions", o.FeedbackIDs, "before the feedback phase, decide (unmeasured) until this many decisions await feedback, so that the phase can run its whole duration")
	fs.StringVar(&o.Order, "feedback-order", o.Order, "which decisions feedback answers first: oldest (most are older than the server's in-memory cache of 65,536, so each is read from the store, as feedback minutes later is) or newest (cache hits)")
	fs.StringSliceVar(&o.Phases, "phases", o.Phases, "phases to run, in order (feedback needs decide)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", o.CPUProfile, "write a CPU profile of the measured phases (--spawn: server and clients)")
}

func loadtestCmd(memory bool) *cobra.Command {
	o := bench.DefaultLoadtestOptions()
	c := &cobra.Command{
		Use:   "loadtest (--spawn | --addr HOST:PORT) [flags]",
		Short: "Measure the HTTP ceiling, decide and durable feedback in one run",
		Long: `loadtest measures, phase by phase, healthz (the HTTP ceiling), decide and durable
feedback: requests per second, latency percentiles (an HDR histogram) and CPU use.
--spawn starts a server in-process on a fresh temp store; --addr uses a running server
(loopback only), which gets 20 lt-* actions, lt-c* customers, decisions and feedback.`,
		Example: `  nextbest-bench loadtest --spawn --duration 10s
  NEXTBEST_KEY=nbk_... nextbest-bench loadtest --addr 127.0.0.1:8080 --phases healthz,decide`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if memory {
				return bench.Memory(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
			}
			return bench.Loadtest(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	if memory {
		c.Use = "memory [flags]"
		c.Short = "Resident memory of the real binary under a million decisions"
		c.Long = `memory runs the real binary as a subprocess (or, with --spawn, the server in-process),
loads 1,000 full-covariance d=64 actions and 1,000,000 decisions, and reports its resident
memory: anonymous and file-backed apart (to run the server in a memory cgroup, give --bin
a wrapper: docs/configuration.md).`
		c.Example = `  nextbest-bench memory --bin ./bin/nextbest --json memory.json`
	}
	loadtestFlags(c.Flags(), &o, memory)
	return c
}

func soakCmd() *cobra.Command {
	o := bench.DefaultSoakOptions()
	c := &cobra.Command{
		Use:   "soak [--duration 60s] [--fraction 0.8 | --rate N] [flags]",
		Short: "Hold 80% of the maximum rate; watch p99 and memory per window",
		Long: `soak runs the real binary as a subprocess on a fresh store (loopback only), measures
the maximum rate of decide+feedback pairs with a closed loop (--probe; the maximum is the
rate over its second half), then drives an open loop at --fraction of that rate (or at
--rate, without a probe) for --duration, up to --in-flight pending. It reports per
10-second window the achieved rate, the p50 and p99 latency of decide and of durable
feedback, and the server's resident memory, and fails (exit 1) if decide's p99 exceeds
--p99 or feedback's exceeds --feedback-p99 in any window, or if anonymous memory grows
more than --rss-growth over the second half. docs/benchmarks.md has the figures.`,
		Example: `  nextbest-bench soak --duration 60s
  nextbest-bench soak --rate 2000 --duration 5m --data /tmp/soak-store`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return bench.Soak(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	fs := c.Flags()
	fs.DurationVar(&o.Duration, "duration", o.Duration, "length of the soak")
	fs.Float64Var(&o.Fraction, "fraction", o.Fraction, "share of the measured maximum rate to hold")
	fs.Float64Var(&o.Rate, "rate", o.Rate, "pairs/s to hold instead of --fraction of a probed maximum (no probe)")
	fs.DurationVar(&o.P99, "p99", o.P99, "decide's p99 latency target per window (issue 3's)")
	fs.DurationVar(&o.FeedbackP99, "feedback-p99", o.FeedbackP99, "durable feedback's p99 latency target per window")
	fs.Float64Var(&o.RSSGrowth, "rss-growth", o.RSSGrowth, "largest allowed growth of anonymous memory over the soak's second half (middle window to last), as a fraction")
	fs.DurationVar(&o.Probe, "probe", o.Probe, "length of the maximum-rate probe (the maximum is its second half's rate)")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "clients in the probe")
	fs.IntVar(&o.InFlight, "in-flight", o.InFlight, "the most pairs in flight during the soak; a pair due when that many are in flight is not sent, and counted")
	fs.StringVar(&o.Bin, "bin", o.Bin, "nextbest binary (default: nextbest beside this executable, else on $PATH)")
	fs.StringVar(&o.Config, "config", o.Config, "YAML config for the server (default: none, the defaults)")
	fs.StringVar(&o.Data, "data", o.Data, "store directory for the server, kept afterwards for nextbest du (default: a temporary one, removed); must not exist yet")
	fs.StringVar(&o.ServerProfiles, "server-profiles", o.ServerProfiles, "directory to write the server's CPU profile of each soak window to (cpu-window-N.pprof)")
	return c
}
