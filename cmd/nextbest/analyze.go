package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nextbest/nextbest/experiments"
	"github.com/nextbest/nextbest/experiments/table"
	"github.com/nextbest/nextbest/internal/cli"
)

func analyzeCmd() *cobra.Command {
	o := table.Options{ProgressEvery: table.DefaultProgressEvery}
	var data, metrics []string
	var weights, sep string
	c := &cobra.Command{
		Use:   "analyze --data FILE [--data ...] --arm COLUMN --control ARM --metric NAME:KIND [...]",
		Short: "Compare the arms of an experiment from exported CSV tables",
		Long: `analyze compares the arms of an experiment from exported CSV tables.

Each row is one unit (customer, session, impression). The table needs a header
row, the arm column and one column per metric; other columns are ignored.

  --data PATH          the rows name their arm in the --arm column
  --data LABEL=PATH    every row of PATH is in arm LABEL; PATH needs no arm column.
                       Write ./PATH to read a file whose name holds "=" as a plain path.

Several --data files are read one after the other, as one table. Each has its
own header and separator; columns are matched by name, so every file needs the
metric columns (and the arm column, unless labelled) and may differ otherwise.

--metric NAME:KIND[:lower] names a column and how to read it:
  binary  0/1, true/false, yes/no          (conversion; Newcombe CI, z test)
  mean    any finite number                (spend; Welch CI and t test)
  count   a non-negative whole number      (visits; Welch)
  nps     a 0-10 rating, empty = no answer (Net Promoter Score; Welch)
Add :lower for metrics where a decrease is good (churn, cost).

The table goes to stdout (to stderr with --json -). P-values are Holm-adjusted
over every metric x arm comparison for the verdict. Rows read are reported on
stderr every 1,000,000 rows.`,
		Example: `  # One export with a "group" column; check the 45/45/10 split.
  nextbest analyze --data export.csv --arm group --control legacy \
      --metric converted:binary --metric spend:mean --metric churned:binary:lower \
      --weights legacy=0.45,nba=0.45,holdout=0.1 --json result.json

  # The Open Bandit Dataset's two policies, logged in separate files.
  nextbest analyze --arm policy --control random --metric click:binary \
      --data random=obd/random/men/men.csv --data bts=obd/bts/men/men.csv`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return cli.Usage(c, fmt.Errorf("analyze: unexpected argument %q (give each file with its own --data)", args[0]))
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Parse(data, metrics, weights, sep); err != nil {
				return cli.Usage(c, fmt.Errorf("analyze: %w", err))
			}
			return table.Run(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	fs := c.Flags()
	fs.StringArrayVar(&data, "data", nil, "CSV `file` to read, PATH or LABEL=PATH; repeat for several files")
	fs.StringVar(&o.Arm, "arm", "", "`column` that names each row's arm (with LABEL=PATH: the name of the labels)")
	fs.StringVar(&o.Control, "control", "", "the `arm` the others are compared with")
	fs.StringArrayVar(&metrics, "metric", nil, "a metric `NAME:KIND[:lower]`, see above; repeatable")
	fs.Float64Var(&o.Level, "level", experiments.DefaultLevel, "two-sided confidence `level` of intervals and verdicts")
	fs.Float64Var(&o.Tuning, "tuning", experiments.DefaultTuning, "always-valid CI: total `rows` at which it is narrowest (GrowthBook's N*)")
	fs.StringVar(&weights, "weights", "", "designed `ARM=W,...` weights for the sample-ratio check, e.g. random=0.5,bts=0.5 (default: no check)")
	fs.StringVar(&sep, "sep", "auto", "field `separator`: auto (',' or ';' per file), or one character such as , ; | or tab")
	fs.StringVar(&o.JSON, "json", "", "also write the result as JSON to `file`; - writes it to stdout")
	return c
}
