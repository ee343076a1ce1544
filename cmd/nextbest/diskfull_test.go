//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nextbest/nextbest/internal/testserver"
	"github.com/nextbest/nextbest/store"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts it when the
// test ends. It skips the test when the process may not mount (not root).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (CI runs as root): the full-disk test is skipped")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("mount -t tmpfs: %v: %s (the full-disk test needs a tmpfs it can fill)", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// freeBytes returns the free bytes of the file system that holds dir, as an
// unprivileged process sees them.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatalf("statfs %s: %v", dir, err)
	}
	return int64(st.Bavail) * st.Bsize
}

// ackedEvent is a feedback event the server answered 202.
type ackedEvent struct{ decision, action, outcome string }

// fillStore sends decisions and their feedback from workers until a feedback answer is
// not 202 (the disk is full) or the process exits; it returns the acknowledged events and
// the first refusal's status and body.
func fillStore(t *testing.T, p *childProc, hc *http.Client, workers int) (acked []ackedEvent, status int, body string) {
	t.Helper()
	var (
		mu       sync.Mutex
		stop     atomic.Bool
		once     sync.Once
		dropped  atomic.Int64
		failures []string
	)
	outcomes := []string{"accepted", "ignored", "rejected", "clicked"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				j := &crashJob{decide: fmt.Appendf(nil, `{"customer_id":"w%d-%d","channel":"web","context":{"segment":"student","hour":%d}}`, w, i, i%24)}
				if err := crashDecide(hc, p.base, j); err != nil {
					mu.Lock()
					failures = append(failures, "decide: "+err.Error())
					mu.Unlock()
					stop.Store(true)
					return
				}
				outcome := outcomes[i%len(outcomes)]
				code, raw, err := childSend(hc, "POST", p.base+"/v1/feedback", j.feedbackBody(outcome))
				switch {
				case err != nil:
					mu.Lock()
					failures = append(failures, "feedback: "+err.Error())
					mu.Unlock()
					stop.Store(true)
					return
				case code == http.StatusAccepted:
					mu.Lock()
					acked = append(acked, ackedEvent{j.decision, j.action, outcome})
					mu.Unlock()
				case code == http.StatusNotFound && strings.Contains(string(raw), `"unknown_decision"`):
					// The disk filled between the decision and its feedback: the decision's
					// record was dropped at its group commit.
					dropped.Add(1)
				default:
					once.Do(func() { status, body = code, string(raw) })
					stop.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	wait := time.After(0)
	if len(failures) > 0 {
		wait = time.After(10 * time.Second) // a failed request: did the process die?
	}
	select {
	case <-p.exited:
		t.Fatalf("the server died after acknowledging %d events: %v (%d failed requests, first: %v)\nstderr:\n%s", len(acked), p.err, len(failures), failures[:min(len(failures), 1)], crashOf(p.stderr.String()))
	case <-wait:
	}
	if dropped.Load() > 0 {
		t.Logf("%d feedback requests named a decision whose record was dropped when the disk filled (404)", dropped.Load())
	}
	if status == 0 {
		t.Fatalf("no refusal, and %d failed requests: %v", len(failures), failures[:min(len(failures), 3)])
	}
	return acked, status, body
}

// crashOf returns the start of a Go runtime crash report in a process's stderr (the
// fault and the faulting goroutine), or the tail of stderr when there is none.
func crashOf(stderr string) string {
	for _, mark := range []string{"unexpected fault address", "fatal error", "panic:", "SIGBUS"} {
		if i := strings.Index(stderr, mark); i >= 0 {
			return stderr[i:min(len(stderr), i+2500)]
		}
	}
	return tailOf(stderr, 3000)
}

// The full-disk test's figures. The tmpfs is the 64 MB store. On so small a disk
// the automatic reserve (106 MB with the default memtables, 57 MB with 1 MB ones: see
// store.autoReserve) would leave no room, so the test sets 16 MB, as an operator of a
// small disk would, and logs how much of it Badger used after the last accepted write.
// Its memtables are 1 MB, in proportion to the disk, and the caches and memory limit
// small: the tmpfs is memory too, on a machine that runs other tests. The filler files
// are the space freed and taken by someone else; fillStore's 16 workers keep the group
// committer busy.
const (
	diskSize    = 64 << 20
	fillerSize  = 8 << 20
	fillWorkers = 16
	diskReserve = 16 << 20 // store.disk_reserve_mb below
	diskConfig  = `schedule:
  timeouts: ""
  snapshots: "@every 1s"
  gc: ""
memory_limit_mb: 128
store:
  memtable_mb: 1
  disk_reserve_mb: 16
  block_cache_mb: 8
  index_cache_mb: 4
`
)

// TestDiskFull: the real binary on a 64 MB tmpfs, filled with feedback until the disk is
// full. Before the fix, Badger faulted on a page of a memory-mapped file with no block
// left (SIGBUS) and the process died, and died again at each restart. Now: writes are
// refused with 507 and the JSON error, the process lives on and answers decisions,
// /readyz and /metrics say the disk is full; a crash on the full disk and a restart on it
// lose nothing acknowledged and start (refusing writes); freeing space lets writes in
// again without a restart; and a disk without the room to open the store is refused at
// start with a message, not a fault.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and fills a tmpfs")
	}
	mnt := mountTmpfs(t, diskSize)
	bin := testserver.BuildNextbest(t)
	config := writeChildConfig(t, t.TempDir(), diskConfig)
	data := filepath.Join(mnt, "data")
	filler := filepath.Join(mnt, "filler")
	writeFiller(t, filler, fillerSize)

	var children []*childProc
	// A process that died of a signal (SIGBUS) says so, whichever check noticed first.
	t.Cleanup(func() {
		for _, c := range children {
			select {
			case <-c.exited:
				if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() != syscall.SIGKILL {
					t.Errorf("a server died of %v:\n%s", ws.Signal(), crashOf(c.stderr.String()))
				} else if c.cmd.ProcessState.ExitCode() == 2 && strings.Contains(c.stderr.String(), "goroutine ") {
					t.Errorf("a server crashed:\n%s", crashOf(c.stderr.String()))
				}
			default:
			}
		}
	})
	start := func() *childProc {
		c := startChild(t, bin, data, config)
		children = append(children, c)
		return c
	}
	p := start()
	hc := childClient(fillWorkers + 8)
	actions := []string{"a0", "a1", "a2", "a3"}
	for _, a := range actions {
		p.putAction(hc, a, webAction)
	}

	// Fill until writes are refused and stay refused: when a compaction ends, Badger
	// deletes the tables it rewrote, and the first refusals may be followed by room again.
	// The lowest free space from the first refusal on is what Badger's own writes took
	// of the reserve.
	began := time.Now()
	var acked []ackedEvent
	var refusedAt int64
	lowest := &freeWatch{dir: mnt}
	for round := 1; ; round++ {
		a, status, body := fillStore(t, p, hc, fillWorkers)
		acked = append(acked, a...)
		wantInsufficientStorage(t, "feedback", status, []byte(body))
		if round == 1 {
			refusedAt = freeBytes(t, mnt)
			lowest.start()
		}
		if staysFull(t, p, hc, 3*time.Second) {
			break
		}
		if round == 20 {
			t.Fatalf("the disk never stayed full over %d rounds of filling", round)
		}
	}
	m := childMetrics(t, p, hc)
	reserve := int64(m["nextbest_store_disk_reserve_bytes"])
	t.Logf("%d events acknowledged in %.1fs; %d KB free just after the first refusal, %d KB at the lowest since (reserve %d KB); the store holds %d KB",
		len(acked), time.Since(began).Seconds(), refusedAt>>10, lowest.stop()>>10, reserve>>10, store.DiskUsage(data)>>10)

	// Hold the disk full for the checks: Badger frees space as compactions end and as a
	// restart flushes the memtables it finds into compressed tables, and the disk might
	// not look full any more. 2 MB under the reserve leaves room for those compactions
	// (the lowest free space above shows what they took) and keeps the disk full unless
	// they free 6 MB (the store accepts writes again at 1.25 times the reserve).
	topUp := filepath.Join(mnt, "top-up")
	writeFiller(t, topUp, max(freeBytes(t, mnt)-(reserve-2<<20), 0))
	lowest.start()
	checkFull(t, p, hc)
	// A crash on the full disk, and a restart on it: it starts, refuses writes, and has
	// every acknowledged event.
	p.kill()
	p = start()
	checkFull(t, p, hc)
	checkDurable(t, p, hc, acked, actions)
	// A clean stop on the full disk (the final snapshot cannot be stored: the journal
	// has it all), and a start again.
	if code := p.terminate(); code != 0 {
		t.Fatalf("SIGTERM on the full disk: exit code %d\n%s", code, tailOf(p.stderr.String(), 3000))
	}
	p = start()
	checkFull(t, p, hc)
	checkDurable(t, p, hc, acked, actions)
	t.Logf("lowest free space over a crash, a restart, a stop and a start on the full disk: %d KB", lowest.stop()>>10)

	// Space comes back: writes are accepted again, without a restart.
	for _, f := range []string{topUp, filler} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	acked = append(acked, feedbackOnceAccepted(t, p, hc, 30*time.Second))
	var ready readyzBody
	p.mustJSON(hc, "GET", "/readyz", nil, 200, &ready)
	if ready.Status != "ready" {
		t.Errorf("/readyz after space came back: %+v, want status ready", ready)
	}
	if m := childMetrics(t, p, hc); m["nextbest_store_disk_full"] != 0 {
		t.Errorf("nextbest_store_disk_full = %v after space came back, want 0", m["nextbest_store_disk_full"])
	}

	// A crash, and 64 KB left (someone else filled the disk): opening the store needs
	// room to flush the memtables the crash left and for the compactions that may follow,
	// which Badger writes through memory mappings. The start is refused with a message
	// and a non-zero exit code. (With no byte free at all, Badger fails on its lock file
	// before it maps anything.)
	p.kill()
	writeFiller(t, filler, freeBytes(t, mnt)-64<<10)
	c, err := tryStartChild(t, bin, data, config)
	if err == nil {
		t.Fatalf("started on a disk with %d bytes free", freeBytes(t, mnt))
	}
	<-c.exited
	if code := c.cmd.ProcessState.ExitCode(); code <= 0 || !strings.Contains(c.stderr.String(), "disk full") {
		t.Fatalf("start on a disk with no room: exit code %d (%v), want a non-zero code and a message naming the full disk\n%s", code, c.err, crashOf(c.stderr.String()))
	}
	t.Logf("start refused: %s", lastLine(c.stderr.String()))
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	p = start()
	checkDurable(t, p, hc, acked, actions)
	if code := p.terminate(); code != 0 {
		t.Errorf("SIGTERM: exit code %d\n%s", code, tailOf(p.stderr.String(), 3000))
	}
}

// writeFiller writes a file of n bytes (a tmpfs allocates them as they are written).
func writeFiller(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for n > 0 {
		k, err := f.Write(buf[:min(int64(len(buf)), n)])
		n -= int64(k)
		if errors.Is(err, syscall.ENOSPC) {
			return // full, which is what a filler of the free space is for
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// freeWatch samples the free space of dir until stopped and keeps the lowest reading.
type freeWatch struct {
	dir    string
	lowest atomic.Int64
	done   chan struct{}
	wg     sync.WaitGroup
}

func (w *freeWatch) start() {
	w.lowest.Store(math.MaxInt64)
	w.done = make(chan struct{})
	w.wg.Go(func() {
		for {
			var st syscall.Statfs_t
			if syscall.Statfs(w.dir, &st) == nil {
				if free := int64(st.Bavail) * st.Bsize; free < w.lowest.Load() {
					w.lowest.Store(free)
				}
			}
			select {
			case <-w.done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
}

func (w *freeWatch) stop() int64 {
	close(w.done)
	w.wg.Wait()
	return w.lowest.Load()
}

// wantInsufficientStorage checks a refused write's answer: 507 and the JSON error.
func wantInsufficientStorage(t *testing.T, what string, status int, body []byte) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if status != http.StatusInsufficientStorage || json.Unmarshal(body, &e) != nil || e.Error.Code != "insufficient_storage" || e.Error.Message == "" {
		t.Errorf("%s on the full disk: %d %s, want 507 with the JSON error insufficient_storage", what, status, body)
	}
}

type readyzBody struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// checkFull checks a server on the full disk: every kind of write is refused with 507,
// decisions are answered (and their records dropped, counted), /readyz is 200 and says
// degraded: disk_full, and the metrics say the disk is full.
func checkFull(t *testing.T, p *childProc, hc *http.Client) {
	t.Helper()
	before := childMetrics(t, p, hc)
	writes := []struct{ method, path, body string }{
		{"POST", "/v1/feedback", `{"decision_id":"unknown","action_id":"a0","outcome":"accepted"}`},
		{"PUT", "/v1/customers/c-full", `{"attributes":{"plan":"prepaid"}}`},
		{"PUT", "/v1/actions/a-full", `{"value":1,"channels":["web"]}`},
		{"POST", "/v1/outcomes", `{"customer_id":"c-full","type":"nps","value":9}`},
		{"POST", "/v1/keys", `{"role":"decide","name":"full"}`},
	}
	for _, w := range writes {
		code, raw, err := childSend(hc, w.method, p.base+w.path, []byte(w.body))
		if err != nil {
			t.Fatalf("%s %s: %v", w.method, w.path, err)
		}
		if w.path == "/v1/feedback" && code == http.StatusNotFound {
			continue // the decision is looked up before the write: an unknown one is a 404
		}
		wantInsufficientStorage(t, w.method+" "+w.path, code, raw)
	}
	const decides = 50
	for i := range decides {
		j := &crashJob{decide: fmt.Appendf(nil, `{"customer_id":"full-%d","channel":"web","context":{"segment":"family"}}`, i)}
		if err := crashDecide(hc, p.base, j); err != nil {
			t.Fatalf("decide on the full disk: %v", err)
		}
	}
	var ready readyzBody
	p.mustJSON(hc, "GET", "/readyz", nil, 200, &ready)
	if ready.Status != "degraded" || ready.Reason != "disk_full" {
		t.Errorf("/readyz on the full disk: %+v, want status degraded, reason disk_full", ready)
	}
	// The decision records are dropped at their group commit, a few milliseconds on.
	var after map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		after = childMetrics(t, p, hc)
		if after["nextbest_store_decisions_dropped_total"]-before["nextbest_store_decisions_dropped_total"] >= decides || time.Now().After(deadline) {
			break
		}
	}
	if after["nextbest_store_disk_full"] != 1 || after["nextbest_store_writes_refused_total"] <= before["nextbest_store_writes_refused_total"] ||
		after["nextbest_store_decisions_dropped_total"]-before["nextbest_store_decisions_dropped_total"] < decides ||
		after["nextbest_store_disk_free_bytes"] <= 0 || after["nextbest_store_disk_reserve_bytes"] != diskReserve {
		t.Errorf("metrics on the full disk: disk_full %v, writes_refused_total %v -> %v, decisions_dropped_total %v -> %v (%d decisions), free %v, reserve %v",
			after["nextbest_store_disk_full"], before["nextbest_store_writes_refused_total"], after["nextbest_store_writes_refused_total"],
			before["nextbest_store_decisions_dropped_total"], after["nextbest_store_decisions_dropped_total"], decides,
			after["nextbest_store_disk_free_bytes"], after["nextbest_store_disk_reserve_bytes"])
	}
}

// childMetrics reads the unlabelled series of /metrics.
func childMetrics(t *testing.T, p *childProc, hc *http.Client) map[string]float64 {
	t.Helper()
	code, raw, err := childSend(hc, "GET", p.base+"/metrics", nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	m := map[string]float64{}
	for line := range strings.Lines(string(raw)) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || strings.ContainsAny(name, "{#") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			m[name] = v
		}
	}
	return m
}

// checkDurable checks that every acknowledged event is in the decision log once, and that
// the models hold every logged event that was learned (an event is not learned when its
// decision was made under an older feature schema; the crash test checks which).
func checkDurable(t *testing.T, p *childProc, hc *http.Client, acked []ackedEvent, actions []string) {
	t.Helper()
	logged := map[ackedEvent]int{}
	learned := int64(0)
	for _, d := range p.decisionLog(hc) {
		for _, e := range d.Outcomes {
			logged[ackedEvent{string(d.ID), string(e.ActionID), string(e.Outcome)}]++
			if e.Learned {
				learned++
			}
		}
	}
	missing := 0
	for _, a := range acked {
		if logged[a] != 1 {
			missing++
		}
	}
	var responses int64
	for _, a := range actions {
		var m servedModel
		p.mustJSON(hc, "GET", "/v1/models/"+a, nil, 200, &m)
		responses += m.Health.Responses
	}
	if missing > 0 || responses != learned {
		t.Fatalf("%d of %d acknowledged events are not logged once; the models hold %d responses, want the %d learned events of the log", missing, len(acked), responses, learned)
	}
}

// staysFull reports whether /readyz says the disk is full throughout wait.
func staysFull(t *testing.T, p *childProc, hc *http.Client, wait time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		code, raw, err := childSend(hc, "GET", p.base+"/readyz", nil)
		if err != nil {
			select {
			case <-p.exited:
				t.Fatalf("the server died: %v\n%s", p.err, crashOf(p.stderr.String()))
			case <-time.After(10 * time.Second):
				t.Fatalf("GET /readyz: %v", err)
			}
		}
		var ready readyzBody
		if code != http.StatusOK || json.Unmarshal(raw, &ready) != nil {
			t.Fatalf("GET /readyz: %d %s", code, raw)
		}
		if ready.Reason != "disk_full" {
			return false
		}
	}
	return true
}

// feedbackOnceAccepted decides and sends feedback until the feedback is accepted (the
// disk has room again), within wait.
func feedbackOnceAccepted(t *testing.T, p *childProc, hc *http.Client, wait time.Duration) ackedEvent {
	t.Helper()
	deadline := time.Now().Add(wait)
	for i := 0; ; i++ {
		j := &crashJob{decide: fmt.Appendf(nil, `{"customer_id":"back-%d","channel":"web","context":{"segment":"senior"}}`, i)}
		if err := crashDecide(hc, p.base, j); err != nil {
			t.Fatalf("decide: %v", err)
		}
		code, raw, err := childSend(hc, "POST", p.base+"/v1/feedback", j.feedbackBody("accepted"))
		if err != nil {
			t.Fatalf("feedback: %v", err)
		}
		if code == http.StatusAccepted {
			return ackedEvent{j.decision, j.action, "accepted"}
		}
		// 507 while the disk still looks full; 404 when the decision's record was
		// dropped by a commit refused just before.
		if (code != http.StatusInsufficientStorage && code != http.StatusNotFound) || time.Now().After(deadline) {
			t.Fatalf("feedback %v after the filler was removed: %d %s", time.Since(deadline.Add(-wait)), code, raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}
