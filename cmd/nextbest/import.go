package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const importUsage = `Usage:
  nextbest import outcomes FILE [--addr 127.0.0.1:8080] [--key KEY] [--batch 500]

FILE is a CSV with a header row and the columns customer_id, type, value, time (RFC 3339;
optional, default now) and id (optional: the same id twice counts once). type is churn,
retention_discount, nps (value 0-10) or response. The rows are posted to the running
server's POST /v1/outcomes in batches; each batch is all-or-nothing. A key with the decide,
analyst or admin role is read from $NEXTBEST_KEY or --key.
`

func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "outcomes" {
		fmt.Fprint(stderr, importUsage)
		return errors.New("import: the only kind is outcomes")
	}
	fs := flag.NewFlagSet("import outcomes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address of the running server")
	key := fs.String("key", "", "API key (default $NEXTBEST_KEY)")
	batch := fs.Int("batch", 500, "outcomes per request (at most engine.limits.max_actions_per_request)")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fmt.Fprint(stderr, importUsage)
		return errors.New("import outcomes: give one CSV file")
	}
	if *batch < 1 {
		return errors.New("import outcomes: --batch must be at least 1")
	}
	k := *key
	if k == "" {
		k = os.Getenv("NEXTBEST_KEY")
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("import outcomes: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("import outcomes: %s: reading the header: %w", pos[0], err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.ToLower(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range []string{"customer_id", "type"} {
		if _, ok := col[need]; !ok {
			return fmt.Errorf("import outcomes: %s: no %q column (the header has %v)", pos[0], need, header)
		}
	}
	client := &http.Client{Timeout: time.Minute}
	base := baseURL(*addr)
	total, attributed, dups := 0, 0, 0
	var pending []map[string]any
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		raw, _ := json.Marshal(pending)
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/v1/outcomes", bytes.NewReader(raw))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if k != "" {
			req.Header.Set("Authorization", "Bearer "+k)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("import outcomes: %w (is the server running at %s?)", err, base)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("import outcomes: rows %d-%d: server answered %d: %s (the rows before were imported)", total+2, total+len(pending)+1, resp.StatusCode, bytes.TrimSpace(body))
		}
		var res struct{ Accepted, Duplicates, Attributed int }
		_ = json.Unmarshal(body, &res)
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
			return fmt.Errorf("import outcomes: %s: %w", pos[0], err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		o := map[string]any{"customer_id": get("customer_id"), "type": get("type")}
		if v := get("value"); v != "" {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("import outcomes: %s line %d, column value: %q is not a number", pos[0], line, v)
			}
			o["value"] = x
		}
		if v := get("time"); v != "" {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				return fmt.Errorf("import outcomes: %s line %d, column time: %q is not RFC 3339", pos[0], line, v)
			}
			o["time"] = v
		}
		if v := get("id"); v != "" {
			o["id"] = v
		}
		pending = append(pending, o)
		if len(pending) == *batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d outcomes from %s: %d counted in an experiment, %d duplicates\n", total, pos[0], attributed, dups)
	return nil
}
