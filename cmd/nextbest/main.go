// Command nextbest is the Next-Best-Action decision engine: one binary that serves the
// decision API and dashboards over an embedded Badger store, and the tools around it.
//
//	nextbest serve    [--addr 127.0.0.1:8080] [--data ./data] [--config nextbest.yaml]
//	nextbest backup   --out FILE  [--data ./data]
//	nextbest restore  --in FILE   [--data ./data]
//	nextbest verify   [--data ./data]
//	nextbest version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "nextbest:", err)
		}
		os.Exit(2)
	}
}

const usage = `nextbest: the Next-Best-Action decision engine

Usage:
  nextbest serve    [--addr 127.0.0.1:8080] [--data ./data] [--config FILE]   run the service
  nextbest backup   --out FILE [--data ./data]                                write a backup of a stopped store
  nextbest restore  --in FILE  [--data ./data]                                restore a backup into an empty store
  nextbest du       [--data ./data]                                          what each table of a stopped store holds
  nextbest verify   [--data ./data]                                          check every file and record of a stopped store
  nextbest export   --out FILE (--data DIR | --addr ...) [--since T]           the decision log as Parquet or JSON lines
  nextbest analyze  --data FILE --arm COL --control VAL --metric NAME:KIND    analyse an experiment table (CSV)
  nextbest evaluate --data DIR|--addr URL --policy JSON [...]                 off-policy evaluation of other policies on the decision log
  nextbest config   [--config FILE]                                          print the effective configuration as YAML
  nextbest import   outcomes FILE.csv                                         post churn, discounts, NPS answers to a running server
  nextbest keys     create|list|revoke ...                                   manage API keys (nextbest keys for help)
  nextbest loadtest [--addr ...] [--duration 10s]                            measure decide/feedback throughput and latency
  nextbest simulate [--addr ...] [--customers 20000] [--days 90] [--seed 1]  run a synthetic telco against a manual-clock server
  nextbest soak     [--duration 60s] [--fraction 0.8]                        hold 80% of the maximum rate; watch p99 and memory
  nextbest version                                                           print the version

Run "nextbest COMMAND --help" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "backup":
		return cmdBackup(ctx, args[1:], stdout, stderr)
	case "restore":
		return cmdRestore(ctx, args[1:], stdout, stderr)
	case "du":
		return cmdDu(ctx, args[1:], stdout, stderr)
	case "verify":
		return cmdVerify(ctx, args[1:], stdout, stderr)
	case "export":
		return cmdExport(ctx, args[1:], stdout, stderr)
	case "analyze":
		return cmdAnalyze(ctx, args[1:], stdout, stderr)
	case "evaluate":
		return cmdEvaluate(ctx, args[1:], stdout, stderr)
	case "config":
		return cmdConfig(ctx, args[1:], stdout, stderr)
	case "keys":
		return cmdKeys(ctx, args[1:], stdout, stderr)
	case "import":
		return cmdImport(ctx, args[1:], stdout, stderr)
	case "soak":
		return cmdSoak(ctx, args[1:], stdout, stderr)
	case "loadtest":
		return cmdLoadtest(ctx, args[1:], stdout, stderr)
	case "simulate":
		return cmdSimulate(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "nextbest", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
