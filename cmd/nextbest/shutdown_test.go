//go:build unix

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/testserver"
)

// shutdownLoad is what the load generator saw.
type shutdownLoad struct {
	mu        sync.Mutex
	decided   map[engine.DecisionID]bool // decisions answered 200
	feedback  map[fbKey]feedbackAnswer   // feedback answered 202, by (decision, action, outcome)
	statuses  map[string]int             // "/v1/decide 200" -> count
	connErrs  map[string]int             // connection-level failures by kind
	bad       []string                   // incomplete or unexpected answers
	afterTerm atomic.Int64               // answers received after SIGTERM was sent
}

func (l *shutdownLoad) badf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bad) < 20 {
		l.bad = append(l.bad, fmt.Sprintf(format, args...))
	}
}

// TestShutdownUnderLoad: SIGTERM under load: in-flight requests finish, cron jobs finish,
// Badger closes cleanly, exit code 0; the restart needs no journal replay and finds every
// acknowledged event in the log and the models.
func TestShutdownUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and stops it under load")
	}
	start := time.Now()
	bin := testserver.BuildNextbest(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	// Both cron jobs every second (the shortest robfig/cron interval), and a one-second
	// response timeout on the web channel, so that the timeouts job has implicit
	// negatives to record while the load runs.
	config := writeChildConfig(t, dir, `schedule:
  timeouts: "@every 1s"
  snapshots: "@every 1s"
  gc: ""
engine:
  channels:
    web: {weight: 1, timeout: 1s}
`)
	p := startChild(t, bin, data, config)
	hc := childClient(40)
	actions := []string{"s0", "s1", "s2", "s3"}
	for _, a := range actions {
		p.putAction(hc, a, webAction)
	}

	l := &shutdownLoad{decided: map[engine.DecisionID]bool{}, feedback: map[fbKey]feedbackAnswer{}, statuses: map[string]int{}, connErrs: map[string]int{}}
	var termSent atomic.Bool
	var wg sync.WaitGroup
	const workers = 32 // enough to keep both cores and the group committer busy
	for w := range workers {
		wg.Go(func() { shutdownWorker(hc, p, l, uint64(w), &termSent) })
	}

	// Send SIGTERM once the load has been running long enough for both cron jobs to have
	// done work: the timeouts job has recorded implicit negatives (it logs that) and the
	// snapshots job has stored a periodic version.
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(p.stderr.String(), "recorded implicit negatives") || !hasPeriodicVersion(hc, p, actions[0]) {
		if time.Now().After(deadline) {
			t.Fatalf("the cron jobs did no work within a minute of load\n%s", tailOf(p.stderr.String(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // into the next cron period, with requests in flight
	termSent.Store(true)
	code := p.terminate()
	wg.Wait()
	hc.CloseIdleConnections()
	logText := p.stderr.String()
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, tailOf(logText, 4000))
	}
	for _, b := range l.bad {
		t.Error(b)
	}
	// The shutdown sequence serve logs, in order (serve.go).
	pos := -1
	for _, line := range []string{
		"shutting down: finishing in-flight requests",
		"shutting down: waiting for running jobs",
		"shutting down: draining the journal",
		"shut down cleanly",
	} {
		i := strings.Index(logText, line)
		if i < 0 || i < pos {
			t.Errorf("the log lacks %q after the previous shutdown step\n%s", line, tailOf(logText, 4000))
			break
		}
		pos = i
	}
	for _, bad := range []string{"level=ERROR", "scheduled job failed", "http shutdown"} {
		if strings.Contains(logText, bad) {
			t.Errorf("the log has %q\n%s", bad, tailOf(logText, 4000))
		}
	}

	// Restart: a clean shutdown leaves a final snapshot covering the whole journal. The
	// timeouts job is off now, so that the log and the models hold still while they are
	// compared (the unanswered offers of the first run are due).
	config = writeChildConfig(t, dir, "schedule:\n  timeouts: \"\"\n  snapshots: \"@every 1s\"\n  gc: \"\"\n")
	p2 := startChild(t, bin, data, config)
	if got := p2.replayedEvents(); got != "0" {
		t.Errorf("restart replayed %s journal events, want 0 after a clean shutdown", got)
	}
	log := p2.decisionLog(hc)
	logged := map[engine.DecisionID]*loggedDecision{}
	events := 0
	for i := range log {
		logged[log[i].ID] = &log[i]
		events += len(log[i].Outcomes)
	}
	missingDecisions := 0
	for id := range l.decided {
		if logged[id] == nil {
			missingDecisions++
		}
	}
	if missingDecisions > 0 {
		t.Errorf("%d of %d answered decisions are not in the log: the journal was not drained", missingDecisions, len(l.decided))
	}
	for k, ans := range l.feedback {
		d := logged[engine.DecisionID(k.decision)]
		found := false
		if d != nil {
			for _, ev := range d.Outcomes {
				if string(ev.ActionID) == k.action && string(ev.Outcome) == k.outcome && ev.Seq == ans.Seq {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("acknowledged feedback %v (seq %d) is not in the log", k, ans.Seq)
		}
	}
	verifyModels(t, p2, hc, log, actions)
	if code := p2.terminate(); code != 0 {
		t.Errorf("restarted process: exit code %d after SIGTERM, want 0", code)
	}

	timeouts := strings.Count(logText, "recorded implicit negatives")
	t.Logf("%d decisions and %d feedback acknowledged, %d answers after SIGTERM; statuses %v; connection errors %v; %d cron runs recorded implicit negatives; after restart %d decisions and %d events logged (replayed_events=%s); %.1fs",
		len(l.decided), len(l.feedback), l.afterTerm.Load(), l.statuses, l.connErrs, timeouts, len(log), events, p2.replayedEvents(), time.Since(start).Seconds())
}

// hasPeriodicVersion reports whether an action has a model version stored by the
// snapshots job.
func hasPeriodicVersion(hc *http.Client, p *childProc, action string) bool {
	vs, err := p.client(hc).ModelVersions(p.t.Context(), engine.ActionID(action))
	return err == nil && slices.ContainsFunc(vs, func(s engine.Snapshot) bool { return s.Reason == "periodic" })
}

// shutdownWorker decides and sends feedback on most decisions (some twice) until the
// process has exited. Every answer must be complete, valid JSON: 200 or 202, or a clean
// 503. A request that gets no answer must have failed at the connection.
func shutdownWorker(hc *http.Client, p *childProc, l *shutdownLoad, seed uint64, termSent *atomic.Bool) {
	rng := rand.New(rand.NewPCG(seed, 0x5d))
	outcomes := []string{"accepted", "ignored", "rejected", "clicked"}
	for i := 0; ; i++ {
		select {
		case <-p.exited:
			return
		default:
		}
		// One customer per decision, so that the contact policy never answers "no action".
		body, _ := json.Marshal(map[string]any{"customer_id": fmt.Sprintf("w%d-%d", seed, i), "channel": "web", "context": map[string]any{"hour": rng.IntN(24), "plan": []string{"basic", "plus", "pro"}[rng.IntN(3)]}})
		var d struct {
			DecisionID engine.DecisionID `json:"decision_id"`
			Actions    []struct {
				ID string `json:"id"`
			} `json:"actions"`
		}
		if !shutdownCall(hc, p, l, termSent, "/v1/decide", body, http.StatusOK, &d) {
			continue
		}
		if len(d.Actions) != 1 || d.DecisionID == "" {
			l.badf("decide answer without a decision or action: %+v", d)
			continue
		}
		l.mu.Lock()
		l.decided[d.DecisionID] = true
		l.mu.Unlock()
		// 20% get no answer, so that the timeouts job records implicit negatives.
		if rng.IntN(5) == 0 {
			continue
		}
		outcome := outcomes[rng.IntN(len(outcomes))]
		fb, _ := json.Marshal(map[string]string{"decision_id": string(d.DecisionID), "action_id": d.Actions[0].ID, "outcome": outcome})
		for range 1 + rng.IntN(2) { // sometimes twice: the second is a duplicate
			var ans feedbackAnswer
			if !shutdownCall(hc, p, l, termSent, "/v1/feedback", fb, http.StatusAccepted, &ans) {
				break
			}
			k := fbKey{fbPair{string(d.DecisionID), d.Actions[0].ID}, outcome}
			l.mu.Lock()
			if prev, ok := l.feedback[k]; ok && prev.Seq != ans.Seq {
				l.mu.Unlock()
				l.badf("feedback %v answered seq %d, then %d", k, prev.Seq, ans.Seq)
				break
			}
			l.feedback[k] = ans
			l.mu.Unlock()
		}
	}
}

// shutdownCall posts body and decodes a successful answer into out. It reports whether
// the request succeeded with status ok; failures are recorded in l.
func shutdownCall(hc *http.Client, p *childProc, l *shutdownLoad, termSent *atomic.Bool, path string, body []byte, ok int, out any) bool {
	req, err := http.NewRequest("POST", p.base+path, strings.NewReader(string(body)))
	if err != nil {
		panic(err) // a constant URL and method: programmer error
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		l.mu.Lock()
		l.connErrs[connErrKind(err)]++
		l.mu.Unlock()
		if !termSent.Load() {
			l.badf("POST %s before SIGTERM: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond) // the listener is closed; wait for the exit
		return false
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if termSent.Load() {
		l.afterTerm.Add(1)
	}
	l.mu.Lock()
	l.statuses[fmt.Sprintf("%s %d", path, resp.StatusCode)]++
	l.mu.Unlock()
	switch {
	case err != nil:
		l.badf("POST %s: status %d, truncated body after %d bytes: %v", path, resp.StatusCode, len(raw), err)
		return false
	case !json.Valid(raw):
		l.badf("POST %s: status %d, invalid JSON body %q", path, resp.StatusCode, tailOf(string(raw), 200))
		return false
	case resp.StatusCode == ok:
		if err := json.Unmarshal(raw, out); err != nil {
			l.badf("POST %s: %v in %s", path, err, raw)
			return false
		}
		return true
	case resp.StatusCode == http.StatusServiceUnavailable && termSent.Load():
		var er wire.ErrorBody
		if json.Unmarshal(raw, &er) != nil || er.Error.Code != "shutting_down" {
			l.badf("POST %s: 503 without the shutting_down code: %s", path, raw)
		}
		return false
	}
	l.badf("POST %s: status %d: %s", path, resp.StatusCode, raw)
	return false
}

// connErrKind names a connection-level failure for the report.
func connErrKind(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "server closed idle connection"):
		return "closed"
	}
	return err.Error()
}
