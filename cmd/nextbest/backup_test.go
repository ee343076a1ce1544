package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBackupRestoreCommands(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	s.call("PUT", "/v1/actions/offer", `{"value": 5}`, nil)
	for i := range 30 {
		var d decideResponse
		s.call("POST", "/v1/decide", map[string]any{"customer_id": "c" + string(rune('a'+i%26)), "channel": "web", "context": map[string]any{"i": i}}, &d)
		s.call("POST", "/v1/feedback", map[string]any{"decision_id": d.DecisionID, "action_id": "offer", "outcome": []string{"accepted", "ignored"}[i%2]}, nil)
	}
	posterior := func(s *testServer) string {
		var m map[string]any
		s.call("GET", "/v1/models/offer?top=100", nil, &m)
		delete(m, "version")
		return strings.TrimSpace(toJSON(t, m))
	}
	before := posterior(s)
	s.stop()

	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "nextbest.bak")
	if err := run(ctx, []string{"backup", "--data", dir, "--out", file}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if err := run(ctx, []string{"restore", "--in", file, "--data", restored}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	// Restoring over a non-empty directory is refused.
	if err := run(ctx, []string{"restore", "--in", file, "--data", restored}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("restore into a non-empty directory: %v", err)
	}
	// A truncated backup is refused and creates nothing.
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.bak")
	if err := os.WriteFile(bad, raw[:len(raw)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "fresh")
	if err := run(ctx, []string{"restore", "--in", bad, "--data", fresh}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("restore of a truncated backup: %v", err)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("a refused restore created %s", fresh)
	}

	s2 := startServer(t, restored, nil)
	defer s2.stop()
	if after := posterior(s2); after != before {
		t.Fatalf("restored model differs:\nbefore %s\nafter  %s", before, after)
	}
}

// TestDuCommand: after decisions and feedback, du lists the tables they wrote, with the
// decision records in the value log and the journal's records inline, and the bytes of
// the tree's files; it refuses a directory without a store.
func TestDuCommand(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	s.call("PUT", "/v1/actions/offer", `{"value": 5}`, nil)
	ctx := map[string]any{}
	for i := range 30 {
		ctx[fmt.Sprintf("field_%02d", i)] = fmt.Sprintf("value %d of a context large enough to log", i)
	}
	for i := range 10 {
		var d decideResponse
		s.call("POST", "/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c%d", i), "channel": "web", "context": ctx}, &d)
		s.call("POST", "/v1/feedback", map[string]any{"decision_id": d.DecisionID, "action_id": "offer", "outcome": "accepted"}, nil)
	}
	s.stop()
	var out strings.Builder
	if err := run(context.Background(), []string{"du", "--data", dir}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 8 {
			rows[f[0]] = f
		}
	}
	// The file bytes add up to the tree's files on disk.
	var sst int64
	matches, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil {
			t.Fatal(err)
		}
		sst += fi.Size()
	}
	st, err := openStopped("du", dir)
	if err != nil {
		t.Fatal(err)
	}
	usage, err := st.Usage(context.Background())
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var files int64
	for _, u := range usage {
		files += u.FileBytes
	}
	if sst == 0 || files != sst || rows["all"] == nil {
		t.Errorf("usage counts %d bytes of files, the directory has %d bytes of .sst\n%s", files, sst, out.String())
	}
	for table, want := range map[string][2]string{"v1/decision/": {"10", "10"}, "v1/event/": {"10", "0"}, "v1/outcome/": {"10", "0"}} {
		if r := rows[table]; r == nil || r[1] != want[0] || r[4] != want[1] {
			t.Errorf("%s: row %v, want %s entries and %s in the value log\n%s", table, r, want[0], want[1], out.String())
		}
	}
	if err := run(context.Background(), []string{"du", "--data", t.TempDir()}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "holds no nextbest store") {
		t.Errorf("du of an empty directory: %v", err)
	}
}
