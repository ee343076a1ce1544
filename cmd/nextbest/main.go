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
	"io"

	"github.com/spf13/cobra"

	"github.com/nextbest/nextbest/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { cli.Main(newRoot) }

// run executes the command line args. It returns nil, a cli.UsageError, or the command's
// error; it prints nothing of the error (cli.ExitStatus does).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return cli.Execute(ctx, newRoot(stdout, stderr), args)
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := cli.Root(&cobra.Command{
		Use:   "nextbest",
		Short: "The Next-Best-Action decision engine",
		Long: `nextbest decides, for each customer and moment, the next best action: per-action Bayesian
models with Thompson sampling, experiments, and dashboards, over an embedded store. One
binary serves the API and the dashboards (serve) and carries the tools around them.
The load test, soak and memory test are nextbest-bench's.`,
		Example: `  nextbest serve
  nextbest keys create --role decide --name checkout
  nextbest help serve`,
		Version: version,
	}, stdout, stderr)
	root.AddCommand(serveCmd(), backupCmd(), restoreCmd(), duCmd(), verifyCmd(), exportCmd(), evaluateCmd(), analyzeCmd(), configCmd(),
		keysCmd(), importCmd(), simulateCmd(), cli.VersionCmd("nextbest", version))
	return root
}
