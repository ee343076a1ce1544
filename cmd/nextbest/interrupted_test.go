package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/internal/testserver"
	"github.com/nextbest/nextbest/store"
)

// restoreFixture is a backup file and what the store it was taken from held.
type restoreFixture struct {
	data      string // the store's directory
	file      string
	decisions int
	events    int
	adminKey  string // the plain text of the store's one admin key
}

// makeRestoreFixture builds a store of n logged decisions, each with a context of 30
// fields (about 1.3 KB logged) and one learned feedback event, the action they offered,
// and one admin key, and backs it up with the binary's `backup`. The records are written
// through the store's group commit in batches, as the engine's committer writes them:
// deciding 30,000 times through the engine under the race detector takes minutes.
func makeRestoreFixture(t *testing.T, bin string, n int) restoreFixture {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "source")
	so := store.DefaultOptions(dir)
	so.SyncWrites = false // the backup is taken from a cleanly closed store
	st, err := store.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutAction(ctx, engine.Action{ID: "offer", Value: 1, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now().UTC()
	for from := 0; from < n; from += 500 {
		var b engine.Batch
		for i := from; i < min(from+500, n); i++ {
			c := map[string]any{}
			for f := range 30 {
				c[fmt.Sprintf("field_%02d", f)] = fmt.Sprintf("value %d of decision %d, long enough to log", f, i)
			}
			raw, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			at := start.Add(time.Duration(i) * time.Millisecond)
			x := features.Vector{Index: []int32{0, int32(1 + i%8)}, Value: []float64{1, 1}}
			d := &engine.Decision{ID: engine.NewDecisionID(at, rng), CustomerID: engine.CustomerID(fmt.Sprintf("c%d", i)), Channel: "web", Time: at, Arm: "nba", Source: "inbound",
				Context: raw, Features: x, Chosen: []engine.ActionID{"offer"}, Candidates: []engine.Candidate{{ID: "offer", Rank: 1, Propensity: 0.5, Score: 0.5, Value: 1, Weight: 1, Priority: 0.5, Probability: 1}}}
			outcome := []engine.Outcome{engine.Accepted, engine.Ignored}[i%2]
			ev := &engine.Event{Seq: uint64(i + 1), Time: at, DecisionID: d.ID, ActionID: "offer", CustomerID: d.CustomerID, Outcome: outcome, Learned: true, Features: x}
			b.Decisions = append(b.Decisions, d)
			b.Events = append(b.Events, engine.EventWrite{Event: ev, Outcome: engine.OutcomeState{Seq: ev.Seq, Outcome: outcome}})
		}
		if err := st.Commit(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}
	k, plain, err := access.NewKey(access.Admin, "the old admin key", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "nextbest.bak")
	if raw, err := exec.Command(bin, "backup", "--data", dir, "--out", file).CombinedOutput(); err != nil {
		t.Fatalf("backup: %v\n%s", err, raw)
	}
	return restoreFixture{data: dir, file: file, decisions: n, events: n, adminKey: plain}
}

// writtenBytes adds up the disk blocks allocated to Badger's files (tables, value logs,
// memtable logs) under dir: the bytes actually written, as the value log is preallocated.
func writtenBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		switch filepath.Ext(path) {
		case ".sst", ".vlog", ".mem":
			if fi, err := d.Info(); err == nil {
				if st, ok := fi.Sys().(*syscall.Stat_t); ok {
					n += st.Blocks * 512
				}
			}
		}
		return nil
	})
	return n
}

// killRestoreAt runs `nextbest restore` and kills it with SIGKILL once at least bytes of
// store files are written under the target's parent directory; it returns how many were.
func killRestoreAt(t *testing.T, bin, file, target string, bytes int64) int64 {
	t.Helper()
	restore := exec.Command(bin, "restore", "--in", file, "--data", target)
	var out testserver.SyncBuffer
	restore.Stdout, restore.Stderr = &out, &out
	if err := restore.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- restore.Wait() }()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("the restore finished (%v) before %d bytes were seen written: make the backup larger\n%s", err, bytes, out.String())
		default:
		}
		if n := writtenBytes(filepath.Dir(target)); n >= bytes {
			if err := restore.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-exited
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restore did not write %d bytes in 2 minutes\n%s", bytes, out.String())
		}
	}
}

// TestInterruptedBackupAndRestore: backups and restores stopped part-way, with the real
// binary, on a store of 20,000 logged decisions with their feedback (a backup of about 45
// MB, whose restore takes a second or more).
func TestInterruptedBackupAndRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and a backup of 20,000 decisions")
	}
	bin := testserver.BuildNextbest(t)
	fx := makeRestoreFixture(t, bin, 20000)
	t.Run("restore", func(t *testing.T) { killedRestore(t, bin, fx) })
	t.Run("backup", func(t *testing.T) { interruptedBackup(t, bin, fx) })
}

// killedRestore: `nextbest restore` killed with SIGKILL part-way (after 1 MB of store
// files, then, run again, after 8 MB) leaves a directory that `serve` refuses to start
// on, with a message that says so; before, it started on the partial store as if it were
// whole (in the issue: 5,538 of 48,727 decisions, no events, no keys, and a new admin
// key). The restore run again completes, leaves nothing beside the store, and the server
// starts with every decision, event and key, and the model learned from every event.
func killedRestore(t *testing.T, bin string, fx restoreFixture) {
	fi, err := os.Stat(fx.file)
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	target := filepath.Join(parent, "restored")

	// Kill the restore once a megabyte of store files has been written, wherever it
	// writes them (into the target or beside it); then again, over what the first left,
	// later in its load. The server refuses the directory each time.
	for _, at := range []int64{1 << 20, 8 << 20} {
		written := killRestoreAt(t, bin, fx.file, target, at)
		t.Logf("killed the restore of a %d-byte backup after %d bytes of store files were written", fi.Size(), written)
		p, err := tryStartChild(t, bin, target, "")
		if err == nil {
			hc := childClient(2)
			n := len(p.decisionLog(hc))
			p.kill()
			t.Fatalf("serve started on a store whose restore was killed, with %d of %d decisions", n, fx.decisions)
		}
		const refusal = "this store was not completely restored"
		if msg := p.stderr.String() + p.stdout.String(); !strings.Contains(msg, refusal) || p.cmd.ProcessState.ExitCode() == 0 {
			t.Fatalf("serve on a killed restore: exit code %d, output without %q:\n%s", p.cmd.ProcessState.ExitCode(), refusal, msg)
		}
	}

	// Restoring again completes; the server starts on the whole store.
	if raw, err := exec.Command(bin, "restore", "--in", fx.file, "--data", target).CombinedOutput(); err != nil {
		t.Fatalf("restore again: %v\n%s", err, raw)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(parent, ".*")); len(leftovers) > 0 {
		t.Errorf("the completed restore left %v beside the store", leftovers)
	}
	p := startChild(t, bin, target, "")
	defer func() {
		if code := p.terminate(); code != 0 {
			t.Errorf("exit code %d after SIGTERM", code)
		}
	}()
	if strings.Contains(p.stdout.String(), "created an admin API key") {
		t.Errorf("the restored store got a new admin key: its keys are missing\n%s", p.stdout.String())
	}
	hc := childClient(2)
	log := p.decisionLog(hc)
	events := 0
	for _, d := range log {
		events += len(d.Outcomes)
	}
	if len(log) != fx.decisions || events != fx.events {
		t.Fatalf("the restored store holds %d decisions and %d events, want %d and %d", len(log), events, fx.decisions, fx.events)
	}
	if got := p.modelResponses(hc, "offer"); got != int64(fx.events) {
		t.Fatalf("the restored model learned from %d responses, want %d", got, fx.events)
	}
	if _, err := client.New(p.base, client.WithKey(fx.adminKey), client.WithHTTPClient(hc)).Keys(t.Context()); err != nil {
		t.Fatalf("the old admin key on the restored store: %v, want 200", err)
	}
}

// interruptedBackup: `nextbest backup --out FILE` stopped part-way never leaves a partial
// FILE, nor litter that outlives the next backup: killed with SIGKILL, it leaves only a
// hidden ".FILE.partial-*", which the next backup removes; stopped with SIGTERM, or
// failing, it removes its own. Before, SIGKILL left FILE.tmp, SIGTERM was ignored until
// the backup was done, and a failed rename left FILE.tmp.
func interruptedBackup(t *testing.T, bin string, fx restoreFixture) {
	outDir := t.TempDir()
	file := filepath.Join(outDir, "nextbest.bak")
	listing := func() []string {
		var names []string
		entries, err := os.ReadDir(outDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	// start runs the backup and waits until a megabyte of it is written (in a file that
	// was not there before).
	start := func() (*exec.Cmd, chan error, *testserver.SyncBuffer) {
		before := listing()
		cmd := exec.Command(bin, "backup", "--data", fx.data, "--out", file)
		var out testserver.SyncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Millisecond) {
			select {
			case err := <-exited:
				t.Fatalf("the backup finished (%v) before a megabyte of it was seen: make the store larger\n%s", err, out.String())
			default:
			}
			for _, name := range listing() {
				if fi, err := os.Stat(filepath.Join(outDir, name)); err == nil && fi.Size() >= 1<<20 && !slices.Contains(before, name) {
					return cmd, exited, &out
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no megabyte of backup written in 2 minutes\n%s", out.String())
			}
		}
	}

	// SIGKILL: the process can clean nothing up; what it leaves is hidden and not FILE.
	cmd, exited, _ := start()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	if left := listing(); len(left) != 1 || !strings.HasPrefix(left[0], ".nextbest.bak.partial-") {
		t.Fatalf("a backup killed with SIGKILL left %v, want only a hidden .nextbest.bak.partial-*", left)
	}

	// SIGTERM: the backup stops, removes its file and the one the killed run left, and
	// exits non-zero.
	cmd, exited, out := start()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(time.Minute):
		t.Fatal("the backup did not stop within a minute of SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code == 0 || len(listing()) != 0 {
		t.Fatalf("a backup stopped with SIGTERM: exit code %d, left %v; want non-zero and nothing\n%s", code, listing(), out.String())
	}

	// A failure at the end (FILE is a directory, so the rename fails) leaves nothing either.
	if err := os.MkdirAll(filepath.Join(file, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if raw, err := exec.Command(bin, "backup", "--data", fx.data, "--out", file).CombinedOutput(); err == nil {
		t.Fatalf("a backup onto a directory succeeded\n%s", raw)
	}
	if left := listing(); len(left) != 1 || left[0] != "nextbest.bak" {
		t.Fatalf("a failed backup left %v, want only the directory in its way", left)
	}
	if err := os.RemoveAll(file); err != nil {
		t.Fatal(err)
	}

	// A backup that completes leaves FILE alone, and it restores.
	if raw, err := exec.Command(bin, "backup", "--data", fx.data, "--out", file).CombinedOutput(); err != nil {
		t.Fatalf("backup: %v\n%s", err, raw)
	}
	if left := listing(); len(left) != 1 || left[0] != "nextbest.bak" {
		t.Fatalf("a completed backup left %v, want only nextbest.bak", left)
	}
	if raw, err := exec.Command(bin, "restore", "--in", file, "--data", filepath.Join(t.TempDir(), "restored")).CombinedOutput(); err != nil {
		t.Fatalf("restore of the completed backup: %v\n%s", err, raw)
	}
}
