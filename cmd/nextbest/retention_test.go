package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/testserver"
)

// retentionRespond decides n times on channel (one customer each, prefix+i) and answers
// every offer, from 16 clients at once; every feedback must be acknowledged (202).
func retentionRespond(t *testing.T, p *childProc, hc *http.Client, channel, prefix string, n int) {
	t.Helper()
	c := p.client(hc)
	var wg sync.WaitGroup
	var errs syncErrs
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				d, err := c.Decide(t.Context(), wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("%s%d", prefix, i)), Channel: channel, Context: map[string]any{"spend": i % 40}})
				if err != nil || len(d.Actions) != 1 {
					errs.add(fmt.Errorf("decide %d: %+v %v", i, d, err))
					continue
				}
				outcome := []engine.Outcome{engine.Accepted, engine.Ignored, engine.Rejected}[i%3]
				// Acknowledged: 202; the client returns any other status as an error.
				if _, err := c.Feedback(t.Context(), wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: d.Actions[0].ID, Outcome: outcome}); err != nil {
					errs.add(fmt.Errorf("feedback %d: %v", i, err))
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs.list() {
		t.Fatal(err)
	}
}

// modelResponses returns the responses an action's model has learned from.
func (c *childProc) modelResponses(hc *http.Client, action string) int64 {
	c.t.Helper()
	m, err := c.client(hc).Model(c.t.Context(), engine.ActionID(action), 0)
	if err != nil {
		c.t.Fatal(err)
	}
	return m.Health.Responses
}

// trimmedEvents adds up the events of the "journal trimmed" log lines so far.
func (c *childProc) trimmedEvents() int {
	n := 0
	for _, m := range regexp.MustCompile(`msg="journal trimmed[^"]*".* events=(\d+)`).FindAllStringSubmatch(c.stderr.String(), -1) {
		k, _ := strconv.Atoi(m[1])
		n += k
	}
	return n
}

// TestRetentionKeepsReplayedModels is the reproduction of issue 15, defect 5, on the real
// binary, with a retention of seconds instead of minutes: 2,000 acknowledged events, the
// process killed before its first snapshot, a restart that rebuilds the model from the
// journal, a wait past the retention, another restart. Before, the journal's entries
// expired (Badger TTLs) while no snapshot held the rebuilt model, and the last restart
// found a model with 0 responses. Feedback on another action after the first restart moves
// the snapshot checkpoint, so the test also fails if the rebuilt model is not snapshotted.
// The journal is still trimmed to the retention once snapshots cover it.
func TestRetentionKeepsReplayedModels(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, kills it, and waits past a retention of seconds")
	}
	const (
		events    = 2000            // the count
		retention = 5 * time.Second // Badger TTLs count whole seconds; long enough for 2,000 answered decisions
	)
	bin := testserver.BuildNextbest(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	hc := childClient(20)

	// First life: no snapshots at all, so the kill falls before the first one.
	config := writeChildConfig(t, dir, fmt.Sprintf("store:\n  retention: %s\nschedule:\n  timeouts: \"\"\n  snapshots: \"\"\n  gc: \"\"\n", retention))
	p := startChild(t, bin, data, config)
	for id, channel := range map[engine.ActionID]string{"web-offer": "web", "mail-offer": "email"} {
		if _, err := p.client(hc).PutAction(t.Context(), id, wire.ActionRequest{Value: &engine.Money{Const: 1}, Channels: []string{channel}}); err != nil {
			t.Fatal(err)
		}
	}
	retentionRespond(t, p, hc, "web", "w", events)
	lastWrite := time.Now()
	p.kill()
	hc.CloseIdleConnections()

	// Second life: snapshots (and the journal trim after each) every second.
	config = writeChildConfig(t, dir, fmt.Sprintf("store:\n  retention: %s\nschedule:\n  timeouts: \"\"\n  snapshots: \"@every 1s\"\n  gc: \"\"\n", retention))
	p = startChild(t, bin, data, config)
	if got := p.modelResponses(hc, "web-offer"); got != events {
		t.Fatalf("after the kill the rebuilt model holds %d responses, want %d", got, events)
	}
	retentionRespond(t, p, hc, "email", "m", 5)
	// Wait past the retention of every event of the first life, then until the trim has
	// deleted them (it needs a snapshot that covers them to be a retention old).
	time.Sleep(time.Until(lastWrite.Add(retention + 2*time.Second)))
	for deadline := time.Now().Add(30 * time.Second); p.trimmedEvents() < events && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if n := p.trimmedEvents(); n < events {
		t.Errorf("the journal trim deleted %d events, want at least the first life's %d", n, events)
	}
	if code := p.terminate(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM\n%s", code, tailOf(p.stderr.String(), 4000))
	}
	hc.CloseIdleConnections()

	// Third life: the models are whole.
	p = startChild(t, bin, data, config)
	web, mail := p.modelResponses(hc, "web-offer"), p.modelResponses(hc, "mail-offer")
	if web != events || mail != 5 {
		t.Fatalf("after waiting past the retention and restarting, the models hold %d and %d responses, want %d and 5", web, mail, events)
	}
	if code := p.terminate(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM\n%s", code, tailOf(p.stderr.String(), 4000))
	}
}
