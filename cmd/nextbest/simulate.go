package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/nextbest/nextbest/internal/cli"
	"github.com/nextbest/nextbest/sim/driver"
)

func simulateCmd() *cobra.Command {
	o := driver.DefaultOptions()
	c := &cobra.Command{
		Use:   "simulate [--addr 127.0.0.1:8090] [--customers 20000] [--days 90] [--seed 1]",
		Short: "Run a synthetic telco against a manual-clock server",
		Long: `simulate drives a running nextbest with a synthetic telco over HTTP. Its customers visit
the web and the app, call the call centre, read emails, take offers or not, leave, and
answer NPS surveys, through the service's API exactly as client systems would (decide,
feedback, outcomes, the outbound feed, profiles). It sets up legacy campaigns and an
experiment (NBA / legacy / no-contact holdout), moves the server's manual clock day by
day, and at the end prints the service's report next to the ground truth that only the
simulator knows. Progress goes to stderr, the report to stdout.

The server must run with a manual clock, e.g. nextbest serve --config cmd/nextbest/demo.yaml.
The same --seed on a fresh server started with the same config prints the same report.
docs/simulation.md explains the world, the ground truth and the determinism.`,
		Example: `  nextbest serve --config cmd/nextbest/demo.yaml &
  nextbest simulate --customers 15000 --days 90 --seed 1`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.Key == "" {
				o.Key = os.Getenv("NEXTBEST_KEY")
			}
			if o.Customers < 1 || o.Days < 1 || o.Workers < 1 {
				return cli.Usage(c, errors.New("simulate: --customers, --days and --workers must be at least 1"))
			}
			return driver.Simulate(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.Addr, "addr", o.Addr, "address of the running server (host:port or URL); the replicas of a cluster, comma-separated, take the requests in turn")
	fs.StringVar(&o.Key, "key", "", "API key with the admin role (default $NEXTBEST_KEY; none needed with insecure_local)")
	fs.IntVar(&o.Customers, "customers", o.Customers, "customers in the world")
	fs.IntVar(&o.Days, "days", o.Days, "simulated days")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the world: the same seed gives the same world")
	fs.StringVar(&o.World, "world", "", "YAML file overriding the world's parameters (default: sim/world.yaml, built in)")
	fs.IntVar(&o.Workers, "workers", o.Workers, "concurrent HTTP requests for profiles and inbound decisions")
	fs.StringVar(&o.Experiment, "experiment", "", "experiment id (default simulation-SEED)")
	fs.IntVar(&o.Progress, "progress", 0, "print progress every N simulated days (default: about 30 lines a run)")
	fs.DurationVar(&o.Wait, "wait", 0, "wait up to this long for the server to be ready")
	fs.BoolVar(&o.Check, "check", false, "only check that a manual-clock nextbest answers at --addr: print ready, none, system-clock or other")
	return c
}
