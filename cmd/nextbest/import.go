package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/cli"
	"github.com/spf13/cobra"
)

func importCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "import outcomes FILE.csv",
		Short:   "Post outcomes (churn, discounts, NPS answers) to a running server",
		Long:    `import reads a file into a running server. The one kind is outcomes.`,
		Example: "  NEXTBEST_KEY=nbk_... nextbest import outcomes churn-2026-01.csv",
		Args:    cobra.NoArgs, // an unknown kind: "unknown command", exit 2
		RunE: func(c *cobra.Command, _ []string) error {
			return cli.Usage(c, errors.New("import: give a kind: outcomes"))
		},
	}
	o := &cobra.Command{
		Use:   "outcomes FILE.csv [--addr 127.0.0.1:8080] [--key KEY] [--batch 500]",
		Short: "Post outcomes from a CSV file",
		Long: `outcomes posts the rows of a CSV file to the running server's POST /v1/outcomes in
batches; each batch is all-or-nothing. The file has a header row and the columns
customer_id, type, value, time (RFC 3339; optional, default now) and id (optional: the
same id twice counts once). type is churn, retention_discount, nps (value 0-10) or
response. A key with the decide, analyst or admin role is read from $NEXTBEST_KEY or --key.`,
		Example: "  nextbest import outcomes churn.csv --addr 127.0.0.1:8080 --batch 1000",
		Args:    cobra.ExactArgs(1),
	}
	fs := o.Flags()
	addr := fs.String("addr", "127.0.0.1:8080", "address of the running server")
	key := fs.String("key", "", "API key (default $NEXTBEST_KEY)")
	batch := fs.Int("batch", 500, "outcomes per request (at most engine.limits.max_actions_per_request)")
	o.RunE = func(c *cobra.Command, pos []string) error {
		if *batch < 1 {
			return cli.Usage(c, errors.New("import outcomes: --batch must be at least 1"))
		}
		return importOutcomes(c.Context(), pos[0], *addr, *key, *batch, c.OutOrStdout(), c.ErrOrStderr())
	}
	c.AddCommand(o)
	return c
}

// importOutcomes posts the outcomes of the CSV file path to the server at addr.
func importOutcomes(ctx context.Context, path, addr, key string, batchSize int, stdout, stderr io.Writer) error {
	k := key
	if k == "" {
		k = os.Getenv("NEXTBEST_KEY")
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import outcomes: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("import outcomes: %s: reading the header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.ToLower(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range []string{"customer_id", "type"} {
		if _, ok := col[need]; !ok {
			return fmt.Errorf("import outcomes: %s: no %q column (the header has %v)", path, need, header)
		}
	}
	c := client.New(addr, client.WithKey(k), client.WithUserAgent("nextbest import"), client.WithHTTPClient(&http.Client{Timeout: time.Minute}))
	defer c.CloseIdleConnections()
	total, attributed, dups := 0, 0, 0
	var pending []wire.Outcome
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		res, err := c.RecordOutcomes(ctx, pending)
		var ce *client.Error
		if errors.As(err, &ce) {
			return fmt.Errorf("import outcomes: rows %d-%d: %w (the rows before were imported)", total+2, total+len(pending)+1, err)
		} else if err != nil {
			return fmt.Errorf("import outcomes: %w (is the server running at %s?)", err, c.BaseURL())
		}
		total += len(pending)
		attributed += res.Attributed
		dups += res.Duplicates
		pending = pending[:0]
		fmt.Fprintf(stderr, "imported %d outcomes\n", total)
		return nil
	}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("import outcomes: %s: %w", path, err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		o := wire.Outcome{CustomerID: engine.CustomerID(get("customer_id")), Type: get("type"), ID: get("id")}
		if v := get("value"); v != "" {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("import outcomes: %s line %d, column value: %q is not a number", path, line, v)
			}
			o.Value = &x
		}
		if v := get("time"); v != "" {
			at, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return fmt.Errorf("import outcomes: %s line %d, column time: %q is not RFC 3339", path, line, v)
			}
			o.Time = &at
		}
		pending = append(pending, o)
		if len(pending) == batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d outcomes from %s: %d counted in an experiment, %d duplicates\n", total, path, attributed, dups)
	return nil
}
