package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nextbest/nextbest/api"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/export"
	"github.com/nextbest/nextbest/internal/cli"
	"github.com/spf13/cobra"
)

func exportCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "export --out FILE (--data DIR | --addr HOST:PORT) [--format parquet|jsonl] [--since T] [--until T]",
		Short: "Write the decision log as Parquet or JSON lines",
		Long: `export writes the decision log with its outcomes, one row per decision, as Apache Parquet
or JSON lines (docs/evaluation.md, "Exporting the decision log", has the columns): from a
stopped store (--data), or from a running server (--addr, GET /v1/decisions/export, with
an analyst or admin key from --key or $NEXTBEST_KEY). T is an RFC 3339 time, a duration
before now (24h, 30d) or Unix seconds; decisions at or after --since and before --until
are written. A window with no decision makes a valid file with no rows. FILE is written
whole or not at all. --verify reads a Parquet export back, every row, and says what it
holds, or why it cannot be read.`,
		Example: `  nextbest export --data ./data --out decisions.parquet --since 30d
  nextbest export --addr 127.0.0.1:8080 --out last-day.jsonl --since 24h
  nextbest export --verify decisions.parquet`,
		Args: cli.NoArgs,
	}
	fs := c.Flags()
	out := fs.String("out", "", "file to write")
	format := fs.String("format", "", "parquet or jsonl (default: jsonl for a FILE ending in .jsonl or .ndjson, else parquet)")
	sinceQ := fs.String("since", "", "first decision time (RFC 3339, a duration ago such as 30d, or Unix seconds)")
	untilQ := fs.String("until", "", "end of the window, exclusive (as --since)")
	data := fs.String("data", "", "data directory of a stopped store")
	addr := fs.String("addr", "", "address of a running server, e.g. 127.0.0.1:8080")
	key := fs.String("key", "", "--addr: API key with the analyst or admin role (default $NEXTBEST_KEY)")
	verify := fs.String("verify", "", "read a Parquet export back and report what it holds")
	every := fs.Int("progress", export.DefaultProgressEvery, "--data: print progress every this many decisions")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx, stdout, stderr := c.Context(), c.OutOrStdout(), c.ErrOrStderr()
		if *verify != "" {
			if *out != "" || *data != "" || *addr != "" {
				return cli.Usage(c, errors.New("export: --verify FILE takes no other flag"))
			}
			line, err := export.VerifyFile(*verify)
			if err != nil {
				return fmt.Errorf("export --verify: %w", err)
			}
			fmt.Fprintln(stdout, line)
			return nil
		}
		if *out == "" || (*data == "") == (*addr == "") {
			return cli.Usage(c, errors.New("export: give --out FILE and one of --data DIR or --addr HOST:PORT"))
		}
		if *every < 1 {
			return cli.Usage(c, errors.New("export: --progress must be at least 1"))
		}
		f := export.Format(*format)
		if f == "" {
			f = export.Parquet
			if ext := strings.ToLower(filepath.Ext(*out)); ext == ".jsonl" || ext == ".ndjson" {
				f = export.JSONLines
			}
		}
		if f != export.Parquet && f != export.JSONLines {
			return cli.Usage(c, fmt.Errorf("export: --format %q: want parquet or jsonl", f))
		}
		for _, q := range [][2]string{{"since", *sinceQ}, {"until", *untilQ}} {
			// A server reads its own query (--addr: it answers invalid_query).
			if _, err := api.ParseTime(q[0], q[1], time.Now()); err != nil && *data != "" {
				return cli.Usage(c, fmt.Errorf("export: %w", err))
			}
		}
		began := time.Now()
		// Written beside FILE, renamed over it when whole.
		part := *out + ".partial"
		file, err := os.Create(part)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		var n int
		if *data != "" {
			n, err = exportStore(ctx, *data, file, f, *sinceQ, *untilQ, *every, stderr)
		} else {
			k := *key
			if k == "" {
				k = os.Getenv("NEXTBEST_KEY")
			}
			n, err = exportServer(ctx, *addr, k, file, f, *sinceQ, *untilQ, stderr)
		}
		if cerr := file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("export: %w", cerr)
		}
		if err == nil {
			err = os.Rename(part, *out)
		}
		if err != nil {
			os.Remove(part)
			return err
		}
		size := int64(0)
		if st, err := os.Stat(*out); err == nil {
			size = st.Size()
		}
		if n == 0 {
			fmt.Fprintf(stdout, "wrote 0 decisions to %s: the window holds none (a valid %s file with no rows)\n", *out, f)
			return nil
		}
		fmt.Fprintf(stdout, "wrote %d decisions to %s (%s, %.1f MB, %v)\n", n, *out, f, float64(size)/(1<<20), time.Since(began).Round(time.Millisecond))
		return nil

	}
	return c
}

// exportStore exports from a stopped store.
func exportStore(ctx context.Context, data string, w io.Writer, f export.Format, sinceQ, untilQ string, every int, stderr io.Writer) (int, error) {
	now := time.Now()
	since, err := api.ParseTime("since", sinceQ, now)
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	until, err := api.ParseTime("until", untilQ, now)
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	began := time.Now()
	o := export.Options{Format: f, Since: since, Until: until, ProgressEvery: every, Progress: func(n int) {
		if n == 0 {
			return // the call at the end of an empty window
		}
		fmt.Fprintf(stderr, "exported %d decisions (%.0f/s)\n", n, float64(n)/time.Since(began).Seconds())
	}}
	if err := o.Check(); err != nil { // before opening the store
		return 0, fmt.Errorf("export: %w", err)
	}
	st, err := openStopped("export", data)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	bw := bufio.NewWriterSize(w, 1<<20)
	n, err := export.Write(ctx, st, bw, o)
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// exportServer downloads an export from a running server, then reads it back (Parquet)
// or checks its last line (JSON lines): a stream cut short is an error, not a file.
func exportServer(ctx context.Context, addr, key string, file *os.File, f export.Format, sinceQ, untilQ string, stderr io.Writer) (int, error) {
	c := client.New(addr, client.WithKey(key), client.WithUserAgent("nextbest export"))
	defer c.CloseIdleConnections()
	pw := &progressWriter{w: file, stderr: stderr, began: time.Now(), next: 64 << 20}
	if err := c.ExportDecisions(ctx, client.ExportQuery{Format: string(f), Since: sinceQ, Until: untilQ}, pw); err != nil {
		var ce *client.Error
		if errors.As(err, &ce) {
			return 0, fmt.Errorf("export: the server refused: %w", err)
		}
		if pw.n == 0 {
			return 0, fmt.Errorf("export: %w (is the server running at %s?)", err, c.BaseURL())
		}
		return 0, fmt.Errorf("export: after %d bytes: %w", pw.n, err)
	}
	if f == export.Parquet {
		sum, err := export.Verify(file, pw.n)
		if err != nil {
			return 0, fmt.Errorf("export: the server's file (%d bytes) does not read back: %w", pw.n, err)
		}
		return int(sum.Rows), nil
	}
	return jsonlRows(file)
}

// progressWriter reports the bytes written every 64 MB.
type progressWriter struct {
	w      io.Writer
	stderr io.Writer
	began  time.Time
	n      int64
	next   int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	if p.n >= p.next {
		fmt.Fprintf(p.stderr, "received %.0f MB (%.1f MB/s)\n", float64(p.n)/(1<<20), float64(p.n)/(1<<20)/time.Since(p.began).Seconds())
		p.next += 64 << 20
	}
	return n, err
}

// jsonlRows counts the lines of a downloaded JSON lines export, failing on the error line
// a server writes when an export fails after its first byte.
func jsonlRows(f *os.File) (int, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	n := 0
	var last []byte
	for sc.Scan() {
		n++
		last = append(last[:0], sc.Bytes()...)
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("export: reading the file back: %w", err)
	}
	var eb wire.ErrorBody
	if bytes.HasPrefix(last, []byte(`{"error":`)) && json.Unmarshal(last, &eb) == nil {
		return 0, fmt.Errorf("export: the server stopped after %d decisions: %s: %s", n-1, eb.Error.Code, eb.Error.Message)
	}
	return n, nil
}
