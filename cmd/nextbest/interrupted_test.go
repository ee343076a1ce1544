package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/engine"
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

// makeRestoreFixture builds a store of n decisions, each with a context of 30 fields (about
// 2 KB logged) and one feedback event, and one admin key, through the engine in this
// process (faster than over HTTP), and backs it up with `nextbest backup`.
func makeRestoreFixture(t *testing.T, n int) restoreFixture {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "source")
	so := store.DefaultOptions(dir)
	so.SyncWrites = false // the backup is taken from a cleanly closed store
	st, err := store.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.DefaultOptions(), st, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Open(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(runCtx) }()
	if _, err := eng.PutAction(ctx, engine.Action{ID: "offer", Value: 1, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var errs syncErrs
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				c := map[string]any{}
				for f := range 30 {
					c[fmt.Sprintf("field_%02d", f)] = fmt.Sprintf("value %d of decision %d, long enough to log", f, i)
				}
				d, err := eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", i)), Channel: "web", Context: c})
				if err != nil || len(d.Actions) != 1 {
					errs.add(fmt.Errorf("decide %d: %+v, %v", i, d, err))
					return
				}
				outcome := []engine.Outcome{engine.Accepted, engine.Ignored}[i%2]
				if _, err := eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: d.DecisionID, ActionID: "offer", Outcome: outcome}); err != nil {
					errs.add(fmt.Errorf("feedback %d: %v", i, err))
					return
				}
			}
		})
	}
	wg.Wait()
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, err := range errs.list() {
		t.Fatal(err)
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
	if err := run(ctx, []string{"backup", "--data", dir, "--out", file}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
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
	var out syncBuffer
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

// TestKilledRestoreRefusesToStart: `nextbest restore` killed with SIGKILL part-way through
// a backup of 30,000 decisions (after 1 MB of store files, then, run again, after 16 MB)
// leaves a directory that `serve` refuses to start on, with a message that says so;
// before, it started on the partial store as if it were whole (in the issue: 5,538 of
// 48,727 decisions, no events, no keys, and a new admin key). The restore run again
// completes, leaves nothing beside the store, and the server starts with every decision,
// event and key.
func TestKilledRestoreRefusesToStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and a backup of 30,000 decisions")
	}
	bin := buildNextbest(t)
	const decisions = 30000 // a backup of about 80 MB: its restore takes a second or more
	fx := makeRestoreFixture(t, decisions)
	fi, err := os.Stat(fx.file)
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	target := filepath.Join(parent, "restored")

	// Kill the restore once a megabyte of store files has been written, wherever it
	// writes them (into the target or beside it); then again, over what the first left,
	// later in its load. The server refuses the directory each time.
	for _, at := range []int64{1 << 20, 16 << 20} {
		written := killRestoreAt(t, bin, fx.file, target, at)
		t.Logf("killed the restore of a %d-byte backup after %d bytes of store files were written", fi.Size(), written)
		p, err := tryStartChild(t, bin, target, "")
		if err == nil {
			hc := childClient(2)
			n := len(p.decisionLog(hc))
			p.kill()
			t.Fatalf("serve started on a store whose restore was killed, with %d of %d decisions", n, decisions)
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
	req, _ := http.NewRequest("GET", p.base+"/v1/keys", nil)
	req.Header.Set("Authorization", "Bearer "+fx.adminKey)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the old admin key on the restored store: status %d, want 200", resp.StatusCode)
	}
}

// TestInterruptedBackupLeavesNothing: `nextbest backup --out FILE` stopped part-way never
// leaves a partial FILE, nor litter that outlives the next backup: killed with SIGKILL, it
// leaves only a hidden ".FILE.partial-*", which the next backup removes; stopped with
// SIGTERM, or failing, it removes its own. Before, SIGKILL left FILE.tmp, SIGTERM was
// ignored until the backup was done, and a failed rename left FILE.tmp.
func TestInterruptedBackupLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and a backup of 30,000 decisions")
	}
	bin := buildNextbest(t)
	fx := makeRestoreFixture(t, 30000)
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
	start := func() (*exec.Cmd, chan error, *syncBuffer) {
		before := listing()
		cmd := exec.Command(bin, "backup", "--data", fx.data, "--out", file)
		var out syncBuffer
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
	if err := run(context.Background(), []string{"backup", "--data", fx.data, "--out", file}, io.Discard, io.Discard); err == nil {
		t.Fatal("a backup onto a directory succeeded")
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
