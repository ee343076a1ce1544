package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/export"
	"github.com/nextbest/nextbest/internal/testserver"
)

// TestExportCommand: `nextbest export` writes the same rows from a running server
// (--addr) as from the stopped store (--data), as Parquet and as JSON lines; --verify
// reads a file back and says what it holds; every bad input is an error that names the
// problem, and leaves no file behind.
func TestExportCommand(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	c := s.client()
	for id, v := range map[engine.ActionID]float64{"offer-a": 5, "offer-b": 7} {
		if _, err := c.PutAction(t.Context(), id, wire.ActionRequest{Value: &engine.Money{Const: v}}); err != nil {
			t.Fatal(err)
		}
	}
	// 40 decisions; feedback on the even ones, accepted on every fourth.
	const decisions = 40
	for i := range decisions {
		req := wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", i%9)), Channel: "web",
			Context: map[string]any{"n": i, "plan": []string{"gold", "basic"}[i%2]}}
		if i%2 == 1 {
			if _, err := c.Decide(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			continue
		}
		decideAndRespond(t, c, req, []engine.Outcome{engine.Accepted, engine.Ignored}[i/2%2])
	}
	ctx := context.Background()
	out := t.TempDir()
	exp := func(args ...string) (string, error) {
		var stdout bytes.Buffer
		err := run(ctx, append([]string{"export"}, args...), &stdout, io.Discard)
		return stdout.String(), err
	}
	addr := strings.TrimPrefix(s.base, "http://")
	for _, name := range []string{"server.parquet", "server.jsonl"} {
		msg, err := exp("--addr", addr, "--out", filepath.Join(out, name))
		if err != nil {
			t.Fatalf("export %s from the server: %v", name, err)
		}
		if want := fmt.Sprintf("wrote %d decisions", decisions); !strings.HasPrefix(msg, want) {
			t.Errorf("export %s from the server said %q, want %q...", name, msg, want)
		}
	}
	// The server refuses a time it cannot read, and nothing is written.
	if _, err := exp("--addr", addr, "--out", filepath.Join(out, "refused.jsonl"), "--since", "yesterday"); err == nil || !strings.Contains(err.Error(), "invalid_query") {
		t.Errorf("export --since yesterday from the server: %v, want invalid_query", err)
	}
	if _, err := os.Stat(filepath.Join(out, "refused.jsonl")); !os.IsNotExist(err) {
		t.Errorf("a refused export left its file: %v", err)
	}
	s.stop()
	for _, name := range []string{"store.parquet", "store.jsonl"} {
		if _, err := exp("--data", dir, "--out", filepath.Join(out, name), "--progress", "7"); err != nil {
			t.Fatalf("export %s from the store: %v", name, err)
		}
	}

	// The same rows both ways: JSON lines byte for byte, Parquet row for row.
	read := func(name string) []byte {
		raw, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	if a, b := read("server.jsonl"), read("store.jsonl"); !bytes.Equal(a, b) {
		t.Errorf("JSON lines from the server (%d bytes) and from the store (%d bytes) differ", len(a), len(b))
	} else if n := bytes.Count(a, []byte("\n")); n != decisions {
		t.Errorf("JSON lines: %d lines, want %d", n, decisions)
	}
	rows := func(name string) []export.Row {
		r, err := parquet.ReadFile[export.Row](filepath.Join(out, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return r
	}
	server, stored := rows("server.parquet"), rows("store.parquet")
	if len(stored) != decisions || !reflect.DeepEqual(server, stored) {
		t.Errorf("Parquet from the server (%d rows) and from the store (%d rows) differ", len(server), len(stored))
	}
	answered := 0
	for _, r := range stored {
		if r.Reward != nil {
			answered++
		}
	}
	if answered == 0 {
		t.Error("no row carries the reward of its feedback")
	}

	// --verify says what a file holds.
	msg, err := exp("--verify", filepath.Join(out, "store.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("a Parquet export of %d decisions in 1 row groups", decisions); !strings.Contains(msg, want) ||
		!strings.Contains(msg, "its data matches its checksum") {
		t.Errorf("--verify said %q, want %q and the checksum matched", msg, want)
	}
	if !strings.Contains(msg, fmt.Sprintf("%d of them with a reward", answered)) {
		t.Errorf("--verify said %q, want %d answered", msg, answered)
	}

	// Damaged files: one byte flipped in the data, the file cut short, not Parquet at all.
	good := read("store.parquet")
	flipped := bytes.Clone(good)
	flipped[len(flipped)/3] ^= 0x20
	damaged := map[string][]byte{"flipped.parquet": flipped, "truncated.parquet": good[:len(good)*2/3], "text.parquet": []byte("decision_id,time\n1,2\n"), "empty.parquet": nil}
	for name, raw := range damaged {
		if err := os.WriteFile(filepath.Join(out, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := exp("--verify", filepath.Join(out, name))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("--verify %s: %v, want an error naming the file", name, err)
		}
		if name == "flipped.parquet" && !errors.Is(err, export.ErrCorrupt) {
			t.Errorf("--verify of a flipped byte: %v, want export.ErrCorrupt", err)
		}
	}

	// Bad flags: an error that names the problem, and no file.
	bad := filepath.Join(out, "bad.parquet")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", dir, "--out", bad, "--format", "csv"}, "csv"},
		{[]string{"--data", dir, "--out", bad, "--since", "yesterday"}, "since"},
		{[]string{"--data", dir, "--out", bad, "--until", "2026-13-01"}, "until"},
		{[]string{"--data", dir, "--out", bad, "--since", "2026-12-02T00:00:00Z", "--until", "2026-12-01T00:00:00Z"}, "after"},
		{[]string{"--data", dir}, "--out"},
		{[]string{"--out", bad}, "--data"},
		{[]string{"--data", dir, "--addr", addr, "--out", bad}, "one of"},
		{[]string{"--data", t.TempDir(), "--out", bad}, "holds no nextbest store"},
		{[]string{"--addr", addr, "--out", bad}, "is the server running"}, // stopped above
		{[]string{"--verify", filepath.Join(out, "missing.parquet")}, "no such file"},
		{[]string{"--verify", filepath.Join(out, "store.parquet"), "--out", bad}, "no other flag"},
		{[]string{"--data", dir, "--out", bad, "extra"}, "unexpected argument"},
	} {
		_, err := exp(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("export %s: %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
		if _, err := os.Stat(bad); !os.IsNotExist(err) {
			t.Errorf("export %s left %s", strings.Join(tc.args, " "), bad)
		}
		if _, err := os.Stat(bad + ".partial"); !os.IsNotExist(err) {
			t.Errorf("export %s left %s.partial", strings.Join(tc.args, " "), bad)
		}
	}
}

// TestExportExitCode: the binary exits with one line naming the problem, without a panic:
// status 1 on a corrupted Parquet file, 2 on bad flags, and 0 on a good one.
func TestExportExitCode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := testserver.BuildNextbest(t)
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	c := s.client()
	putOffer(t, c, 5)
	for i := range 5 {
		if _, err := c.Decide(t.Context(), wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", i)), Channel: "web"}); err != nil {
			t.Fatal(err)
		}
	}
	s.stop()
	file := filepath.Join(t.TempDir(), "d.parquet")
	runBin := func(args ...string) (int, string) {
		cmd := exec.Command(bin, append([]string{"export"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), stderr.String()
	}
	if code, stderr := runBin("--data", dir, "--out", file); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, stderr)
	}
	if code, stderr := runBin("--verify", file); code != 0 {
		t.Fatalf("export --verify: exit %d\n%s", code, stderr)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	corrupt := filepath.Join(t.TempDir(), "corrupt.parquet")
	if err := os.WriteFile(corrupt, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int // 1: a runtime error; 2: a usage error (the command line's values)
		want string
	}{
		{[]string{"--verify", corrupt}, 1, "not a readable decision export"},
		{[]string{"--data", dir, "--out", file + "2", "--format", "csv"}, 2, "csv"},
		{[]string{"--data", dir, "--out", file + "2", "--since", "yesterday"}, 2, "since"},
		{[]string{"--data", dir}, 2, "--out"},
	} {
		code, stderr := runBin(tc.args...)
		if code != tc.code || !strings.Contains(stderr, "nextbest: export") || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "panic") {
			t.Errorf("export %s: exit %d, stderr %q; want exit %d and an error containing %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.want)
		}
	}
}
