// Command nextbest is the Next-Best-Action decision engine: one binary that serves the
// decision API and dashboards over an embedded Badger store, and the tools around it.
// It reads the command line (spf13/cobra) into the options of the packages that do the
// work: internal/service (serve), store (backup, restore, du, verify), export (export),
// engine (evaluate), experiments/table
// (analyze), client (keys, import), sim/driver (simulate).
//
//	nextbest serve    [--addr 127.0.0.1:8080] [--data ./data] [--config nextbest.yaml]
//	nextbest backup   --out FILE  [--data ./data]
//	nextbest restore  --in FILE   [--data ./data]
//	nextbest verify   [--data ./data]
//	nextbest help     [COMMAND]
//
// Exit status: 0 on success and for help, 1 for a runtime error, 2 for a usage error
// (an unknown command or flag, a missing required flag, a wrong number of arguments).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitStatus(err, os.Stderr))
}

// usageError is a mistake in the command line: exit status 2 and a hint to --help.
type usageError struct {
	err  error
	path string // the command's path, e.g. "nextbest keys create"
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usage marks err as a usage error of c.
func usage(c *cobra.Command, err error) error { return usageError{err, c.CommandPath()} }

// run executes the command line args. It returns nil, a usageError, or the command's
// error; it prints nothing of the error (exitStatus does).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	c, err := root.ExecuteContextC(ctx)
	var ue usageError
	if err != nil && !errors.As(err, &ue) && cobraUsage(err) {
		return usageError{err, c.CommandPath()}
	}
	return err
}

// exitStatus prints err once and returns the process's exit status.
func exitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "nextbest: %v\nRun '%s --help' for usage.\n", err, ue.path)
		return 2
	}
	fmt.Fprintln(stderr, "nextbest:", err)
	return 1
}

// cobraUsage reports whether err is one of cobra's own command-line errors that come back
// from Execute (unknown commands, argument counts, required flags); flag errors come
// through the flag error function as usageError.
func cobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command ", "accepts ", "requires at least ", "requires at most ", "required flag(s) ", "invalid argument "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "nextbest",
		Short: "The Next-Best-Action decision engine",
		Long: `nextbest decides, for each customer and moment, the next best action: per-action Bayesian
models with Thompson sampling, experiments, and dashboards, over an embedded store. One
binary serves the API and the dashboards (serve) and carries the tools around them.
The load test, soak and memory test are nextbest-bench's.`,
		Example: `  nextbest serve
  nextbest keys create --role decide --name checkout
  nextbest help serve`,
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs, // a word that is no command: "unknown command", exit 2
		RunE:          func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usage(c, err) })
	root.SetVersionTemplate("nextbest {{.Version}}\n")
	root.AddCommand(serveCmd(), backupCmd(), restoreCmd(), duCmd(), verifyCmd(), exportCmd(), evaluateCmd(), analyzeCmd(), configCmd(),
		keysCmd(), importCmd(), simulateCmd(), versionCmd())
	return root
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Long:    "version prints the version of this binary (as nextbest --version does).",
		Example: "  nextbest version",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(c.OutOrStdout(), "nextbest", version)
			return nil
		},
	}
}

// noArgs refuses positional arguments as a usage error that names the first.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usage(c, fmt.Errorf("%s: unexpected argument %q", c.Name(), args[0]))
	}
	return nil
}
