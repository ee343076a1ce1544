package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

func TestBackupRestoreCommands(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	ctx, c := t.Context(), s.client()
	putOffer(t, c, 5)
	for i := range 30 {
		decideAndRespond(t, c, wire.DecideRequest{CustomerID: engine.CustomerID("c" + string(rune('a'+i%26))), Channel: "web", Context: map[string]any{"i": i}},
			[]engine.Outcome{engine.Accepted, engine.Ignored}[i%2])
	}
	posterior := func(s *testServer) engine.ModelInfo {
		m, err := s.client().Model(ctx, "offer", 100)
		if err != nil {
			t.Fatal(err)
		}
		m.Version = 0
		return m
	}
	before := posterior(s)
	s.stop()

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
	if after := posterior(s2); !reflect.DeepEqual(after, before) {
		t.Fatalf("restored model differs:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestDuCommand: after decisions and feedback, du lists the tables they wrote, with the
// decision records in the value log and the journal's records inline, and the bytes of
// the tree's files; it refuses a directory without a store.
func TestDuCommand(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	c := s.client()
	putOffer(t, c, 5)
	cx := map[string]any{}
	for i := range 30 {
		cx[fmt.Sprintf("field_%02d", i)] = fmt.Sprintf("value %d of a context large enough to log", i)
	}
	for i := range 10 {
		decideAndRespond(t, c, wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", i)), Channel: "web", Context: cx}, engine.Accepted)
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
