package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/testserver"
)

// This file runs the real binary as the replicas of a cluster (issue 19): each replica its
// own process with its own data directory and its embedded NATS server, so that kill -9 of
// a replica kills one NATS server too. TestClusterFaults kills one replica during a
// feedback storm, TestClusterMinority kills two, TestClusterJoin adds a fourth replica
// under load. NEXTBEST_LONG=1 runs more seeds and the join of a log of 1,000,000 events.

// longRun reports whether the long measurement runs are asked for (NEXTBEST_LONG=1).
func longRun() bool { return os.Getenv("NEXTBEST_LONG") == "1" }

// clusterConfig writes the replicas' config file into dir: no scheduled job that changes
// learning state behind the test's back (implicit negatives, the outbound pass) and no
// value-log GC; schedule holds more lines of the schedule block.
func clusterConfig(t *testing.T, dir, schedule string) string {
	t.Helper()
	return writeChildConfig(t, dir, "schedule:\n  timeouts: \"\"\n  outbound: \"\"\n  gc: \"\"\n"+schedule)
}

// startProcCluster starts three replicas with config and waits until all are ready. A
// fresh cluster elects its meta leader first: about 10 s on two cores.
func startProcCluster(t *testing.T, bin, config string) *testserver.ProcCluster {
	t.Helper()
	c := testserver.NewProcCluster(t, bin, t.TempDir(), 3, "--no-demo", "--config", config)
	c.StartAll(2 * time.Minute)
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range c.Procs {
				t.Logf("%s", tailOf(p.Log(), 6000))
			}
		}
	})
	return c
}

// clusterActions are the catalog of the cluster tests: four actions of value 1 on the web
// channel, so that every decision offers one.
var clusterActions = []engine.ActionID{"a0", "a1", "a2", "a3"}

func putClusterActions(t *testing.T, c *client.Client) {
	t.Helper()
	for _, a := range clusterActions {
		if _, err := c.PutAction(t.Context(), a, wire.ActionRequest{Issue: "sales", Group: "offers", Value: &engine.Money{Const: 1}, Channels: []string{"web"}}); err != nil {
			t.Fatal(err)
		}
	}
}

// procClients returns a client of each replica, over one transport with room for the
// storm's connections.
func procClients(procs []*testserver.Proc, conns int) []*client.Client {
	hc := childClient(conns)
	hc.Timeout = time.Minute
	var out []*client.Client
	for _, p := range procs {
		out = append(out, client.New(p.URL, client.WithHTTPClient(hc)))
	}
	return out
}

// streamLeader returns the name of the replica whose NATS server leads the log's stream,
// asking the servers at urls (host:port).
func streamLeader(t *testing.T, urls ...string) string {
	t.Helper()
	var servers []string
	for _, u := range urls {
		servers = append(servers, "nats://"+u)
	}
	nc, err := nats.Connect(strings.Join(servers, ","), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatalf("connect to nats: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		s, err := js.Stream(ctx, "NEXTBEST")
		var info *jetstream.StreamInfo
		if err == nil {
			info, err = s.Info(ctx)
		}
		cancel()
		if err == nil && info.Cluster != nil && info.Cluster.Leader != "" {
			return info.Cluster.Leader
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader of the stream: %v", err)
		}
	}
}

// logPos is a replica's position in the log, from its metrics.
type logPos struct{ applied, last uint64 }

var metricLine = regexp.MustCompile(`(?m)^(nextbest_cluster_applied_seq|nextbest_cluster_log_last_seq) (\d+)`)

func clusterPos(ctx context.Context, c *client.Client) (logPos, error) {
	raw, err := c.Metrics(ctx)
	if err != nil {
		return logPos{}, err
	}
	var p logPos
	n := 0
	for _, m := range metricLine.FindAllStringSubmatch(string(raw), -1) {
		v, _ := strconv.ParseUint(m[2], 10, 64)
		if m[1] == "nextbest_cluster_applied_seq" {
			p.applied = v
		} else {
			p.last = v
		}
		n++
	}
	if n != 2 {
		return p, errors.New("no nextbest_cluster_* position in /metrics")
	}
	return p, nil
}

// waitConverged waits until every replica has applied the same sequence, the log's last,
// twice in a row 300 ms apart, and returns it.
func waitConverged(t *testing.T, cs []*client.Client, timeout time.Duration) uint64 {
	t.Helper()
	var prev uint64
	var ps []logPos
	for deadline := time.Now().Add(timeout); ; time.Sleep(300 * time.Millisecond) {
		ps = ps[:0]
		same := true
		for _, c := range cs {
			p, err := clusterPos(t.Context(), c)
			if err != nil {
				same = false
				break
			}
			ps = append(ps, p)
			if p.applied != ps[0].applied || p.applied < p.last || p.applied < ps[0].last {
				same = false
			}
		}
		if same {
			if ps[0].applied == prev {
				return prev
			}
			prev = ps[0].applied
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas did not converge within %v: %+v", timeout, ps)
		}
	}
}

// sameModels checks that every replica holds the same model of each action, compared
// exactly (every weight's mean and sd, the health counts; JSON floats round-trip in Go),
// and returns each action's responses. A replica's last commit may land a moment after
// its applied sequence moved, so a difference is looked at again for up to 10 s.
func sameModels(t *testing.T, cs []*client.Client, actions []engine.ActionID) map[engine.ActionID]int64 {
	t.Helper()
	out := map[engine.ActionID]int64{}
	for _, a := range actions {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			var ms []engine.ModelInfo
			diff := ""
			for i, c := range cs {
				m, err := c.Model(t.Context(), a, 10000)
				if err != nil {
					t.Fatalf("model %s of replica %d: %v", a, i+1, err)
				}
				m.Health.Calibration, m.Health.AUC, m.Health.LogLoss = nil, nil, nil // compared through the weights and counts
				m.Version, m.Chosen, m.Explored = 0, 0, 0                            // local: snapshots taken and decisions served here
				ms = append(ms, m)
				if diff == "" && !reflect.DeepEqual(m, ms[0]) {
					diff = fmt.Sprintf("replica %d: responses %d, %d weights, seq %d; replica 1: responses %d, %d weights, seq %d",
						i+1, m.Health.Responses, len(m.TopWeights), m.Seq, ms[0].Health.Responses, len(ms[0].TopWeights), ms[0].Seq)
				}
			}
			if diff == "" {
				out[a] = ms[0].Health.Responses
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("model %s differs between replicas: %s", a, diff)
			}
		}
	}
	return out
}

// decisionIDs reads a replica's decision log.
func decisionIDs(t *testing.T, c *client.Client) map[engine.DecisionID]bool {
	t.Helper()
	ids := map[engine.DecisionID]bool{}
	err := c.Decisions(t.Context(), client.DecisionsQuery{}, func(d *engine.Decision) error {
		ids[d.ID] = true
		return nil
	})
	if err != nil {
		t.Fatalf("decision log of %s: %v", c.BaseURL(), err)
	}
	return ids
}

// connError reports whether err is a failure to talk to the server at all (no HTTP
// answer): connection refused, reset, or closed by a dying process.
func connError(err error) bool {
	var ce *client.Error
	return err != nil && !errors.As(err, &ce)
}

func statusOf(err error) int {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Status
	}
	return 0
}

// ---- TestClusterFaults ----

// storm is the record of a feedback storm against the cluster. Acknowledged means a 202
// answer; unknown, a feedback whose fate the client cannot know (a 503, or a connection
// that broke while the request was with the replica being killed): it may or may not be
// in the log.
type storm struct {
	mu       sync.Mutex
	learned  map[engine.ActionID]int // acknowledged feedback that the answer says was learned
	unknown  map[engine.ActionID]int
	feedback map[engine.DecisionID]bool // decisions with acknowledged feedback
	ackTimes []time.Time
	errs     []error
	decided  [3]int // decisions answered 200, by replica
	acked    int
	notLearn int                 // acknowledged, learned false
	lost     []engine.DecisionID // feedback refused (404) for a decision that is not in the log
	retry    []retryFeedback     // feedback answered 503, to send again as the answer asks
	retried  [3]int              // of those, acknowledged (learned, duplicate) and refused (404)
	refused  int                 // requests to the dead replica that never reached it

	victim    int
	killBegan atomic.Int64 // Unix ns just before the SIGKILL; 0 before
	killed    atomic.Int64 // Unix ns once the process was gone
	upAgain   atomic.Int64 // Unix ns once the restarted replica was ready
	decAfter  atomic.Int64 // decisions answered by the others between the kill and the restart
	ackAfter  atomic.Int64 // feedback acknowledged between the kill and the restart
}

func (s *storm) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

// deadWindow reports whether a request to replica i that began at began could find it
// dead: it began after the kill and before the restarted replica was ready.
func (s *storm) deadWindow(i int, began time.Time) bool {
	kb, up := s.killBegan.Load(), s.upAgain.Load()
	return i == s.victim && kb != 0 && began.UnixNano() >= kb && (up == 0 || began.UnixNano() < up)
}

// inFlightAtKill reports whether a request to replica i that began at began was with it
// when it was killed.
func (s *storm) inFlightAtKill(i int, began time.Time) bool {
	kb := s.killBegan.Load()
	return i == s.victim && kb != 0 && began.UnixNano() < kb
}

// afterKill reports whether now falls between the kill and the restart.
func (s *storm) afterKill(now time.Time) bool {
	k := s.killed.Load()
	return k != 0 && now.UnixNano() > k && s.upAgain.Load() == 0
}

// stormJob decides on replica k%3 and sends the feedback to the next replica, moving on
// to the next one on a connection error to the dead replica.
func (s *storm) job(ctx context.Context, cs []*client.Client, k uint64, rng *rand.Rand) {
	req := wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", k)), Channel: "web",
		Context: map[string]any{"segment": []string{"student", "family", "business"}[rng.IntN(3)], "hour": rng.IntN(24)}}
	var d *engine.DecideResult
	on := -1
	for try := range 3 {
		i := int(k+uint64(try)) % 3
		began := time.Now()
		res, err := cs[i].Decide(ctx, req)
		if err == nil {
			d, on = res, i
			break
		}
		if connError(err) && (s.deadWindow(i, began) || s.inFlightAtKill(i, began)) {
			s.mu.Lock()
			s.refused++
			s.mu.Unlock()
			continue
		}
		if ctx.Err() == nil {
			s.fail(fmt.Errorf("decide on r%d: %w", i+1, err))
		}
		return
	}
	if d == nil {
		return
	}
	if len(d.Actions) != 1 {
		s.fail(fmt.Errorf("decision %s on r%d offers %d actions, want 1", d.DecisionID, on+1, len(d.Actions)))
		return
	}
	s.mu.Lock()
	s.decided[on]++
	s.mu.Unlock()
	if s.afterKill(time.Now()) {
		s.decAfter.Add(1)
	}
	act := d.Actions[0].ID
	outcome := engine.Outcome("accepted")
	if rng.IntN(2) == 0 {
		outcome = "rejected"
	}
	// The feedback goes to the replica that decided, or to either of the others.
	for try := range 3 {
		i := (on + int(k/3%3) + try) % 3
		began := time.Now()
		res, err := cs[i].Feedback(ctx, wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: act, Outcome: outcome})
		s.mu.Lock()
		switch {
		case err == nil:
			now := time.Now()
			s.acked++
			s.feedback[d.DecisionID] = true
			s.ackTimes = append(s.ackTimes, now)
			if res.Learned {
				s.learned[act]++
			} else {
				s.notLearn++
			}
			if s.afterKill(now) {
				s.ackAfter.Add(1)
			}
		case connError(err) && s.deadWindow(i, began):
			s.refused++
			s.mu.Unlock()
			continue // never reached the dead replica: the client moves on
		case connError(err) && s.inFlightAtKill(i, began):
			s.unknown[act]++
		case statusOf(err) == http.StatusServiceUnavailable:
			s.unknown[act]++
			s.retry = append(s.retry, retryFeedback{on: on, req: wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: act, Outcome: outcome}})
		case statusOf(err) == http.StatusNotFound && s.killBegan.Load() != 0:
			// A decision served but not logged: by the replica just killed, before its
			// record left it, or while the stream elected a leader (the others' records
			// then time out). Checked against the logs afterwards.
			s.lost = append(s.lost, d.DecisionID)
		default:
			if ctx.Err() == nil {
				s.errs = append(s.errs, fmt.Errorf("feedback for %s (decided on r%d) on r%d: %w", d.DecisionID, on+1, i+1, err))
			}
		}
		s.mu.Unlock()
		return
	}
}

// retryFeedback is a feedback answered 503, to be sent again to the replica that served
// its decision.
type retryFeedback struct {
	on  int
	req wire.FeedbackRequest
}

// resend sends again every feedback answered 503, as the answer asks, each to the
// replica that served its decision: the one that knows the decision even when its
// record never reached the log.
func (s *storm) resend(ctx context.Context, cs []*client.Client) {
	for _, r := range s.retry {
		res, err := cs[r.on].Feedback(ctx, r.req)
		switch {
		case err == nil:
			s.acked++
			s.feedback[r.req.DecisionID] = true
			if res.Learned {
				s.learned[r.req.ActionID]++
				s.retried[0]++
			} else {
				s.retried[1]++
			}
		case statusOf(err) == http.StatusNotFound:
			s.lost = append(s.lost, r.req.DecisionID)
			s.retried[2]++
		default:
			s.errs = append(s.errs, fmt.Errorf("feedback sent again to r%d: %w", r.on+1, err))
		}
	}
}

// longestPause returns the longest time between two acknowledgements of the storm, and
// when it began.
func (s *storm) longestPause() (time.Duration, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := slices.Clone(s.ackTimes)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	var most time.Duration
	var at time.Time
	for i := 1; i < len(ts); i++ {
		if g := ts[i].Sub(ts[i-1]); g > most {
			most, at = g, ts[i-1]
		}
	}
	return most, at
}

// clusterStormWorkers is the storm's concurrent clients: enough for several commands per
// group commit on each replica, few enough for two cores.
const clusterStormWorkers = 12

// TestClusterFaults (issue 19, must-show 2): three replicas, a feedback storm sent
// round-robin, one replica killed with SIGKILL mid-storm (the stream's leader for odd
// seeds, a follower for even ones), restarted on the same directory and ports: the other
// two keep deciding and acknowledging; afterwards every acknowledged feedback is applied
// exactly once on every replica (each action's responses on every replica lie between the
// acknowledged learned feedback and that plus the unknown ones), the models are identical
// and so are the decision logs.
func TestClusterFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three replicas of the real binary and kills one, for several seeds")
	}
	bin := testserver.BuildNextbest(t)
	seeds := 2
	if longRun() {
		seeds = 6
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { faultsOnce(t, bin, seed) })
	}
}

func faultsOnce(t *testing.T, bin string, seed uint64) {
	began := time.Now()
	rng := rand.New(rand.NewPCG(seed, 0x19fa17))
	c := startProcCluster(t, bin, clusterConfig(t, t.TempDir(), ""))
	cs := procClients(c.Procs, 3*clusterStormWorkers)
	putClusterActions(t, cs[0])
	waitConverged(t, cs, 30*time.Second) // every replica has the catalog
	started := time.Now()

	s := &storm{learned: map[engine.ActionID]int{}, unknown: map[engine.ActionID]int{}, feedback: map[engine.DecisionID]bool{}, victim: -1}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var next atomic.Uint64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range clusterStormWorkers {
		wrng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for !stop.Load() {
				s.job(ctx, cs, next.Add(1), wrng)
			}
		})
	}
	acked := func() int { s.mu.Lock(); defer s.mu.Unlock(); return s.acked }
	waitFor := func(what string, d time.Duration, ok func() bool) {
		for deadline := time.Now().Add(d); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				stop.Store(true)
				cancel()
				wg.Wait()
				t.Fatalf("%s: not within %v (%d acknowledged, errors %v)", what, d, acked(), s.errs)
			}
		}
	}

	// The kill falls after a seeded number of acknowledgements (200 to 600).
	killAfter := 200 + rng.IntN(400)
	waitFor("acknowledgements before the kill", time.Minute, func() bool { return acked() >= killAfter })
	var nats []string
	for _, p := range c.Procs {
		nats = append(nats, p.NATS)
	}
	leader := streamLeader(t, nats...)
	li := slices.IndexFunc(c.Procs, func(p *testserver.Proc) bool { return p.Name == leader })
	victim := li
	if seed%2 == 0 {
		victim = (li + 1 + rng.IntN(2)) % 3
	}
	s.mu.Lock()
	s.victim = victim
	s.mu.Unlock()
	s.killBegan.Store(time.Now().UnixNano())
	c.Procs[victim].Kill()
	killedAt := time.Now()
	s.killed.Store(killedAt.UnixNano())

	// The others keep serving: 100 more acknowledgements, and decisions, while the victim
	// is down (after an election of the stream's leader when the victim led it).
	waitFor("acknowledgements by the other two replicas", time.Minute, func() bool {
		return s.ackAfter.Load() >= 100 && s.decAfter.Load() >= 100
	})
	down := time.Since(killedAt)
	c.Procs[victim].Start()
	restartReady, err := c.Procs[victim].WaitReady(2 * time.Minute)
	if err != nil {
		stop.Store(true)
		cancel()
		wg.Wait()
		t.Fatal(err)
	}
	s.upAgain.Store(time.Now().UnixNano())
	time.Sleep(2 * time.Second) // the storm reaches the restarted replica too
	stop.Store(true)
	wg.Wait()
	stormEnd := time.Now()
	s.resend(ctx, cs)
	for _, err := range s.errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	seq := waitConverged(t, cs, time.Minute)
	responses := sameModels(t, cs, clusterActions)
	unknownAll := 0
	for _, a := range clusterActions {
		lo, hi := int64(s.learned[a]), int64(s.learned[a]+s.unknown[a])
		unknownAll += s.unknown[a]
		if responses[a] < lo || responses[a] > hi {
			t.Errorf("action %s: %d responses on every replica, want %d acknowledged learned feedback plus at most %d unknown", a, responses[a], lo, hi-lo)
		}
	}
	logs := make([]map[engine.DecisionID]bool, len(cs))
	for i, cl := range cs {
		logs[i] = decisionIDs(t, cl)
		if !maps.Equal(logs[i], logs[0]) {
			t.Errorf("r%d logged %d decisions, r1 %d: the logs differ", i+1, len(logs[i]), len(logs[0]))
		}
	}
	// A 404 for a decision whose record reached the log only later (its append hung in
	// the stream's leader election, beyond the 2 s feedback waits for it: engine's
	// decisionWait) is counted, not failed: nothing acknowledged is lost, but the client
	// was told the decision is unknown. Open: docs/scale-out.md.
	lateLogged := 0
	for _, id := range s.lost {
		if logs[0][id] {
			lateLogged++
		}
	}
	unlogged := 0
	for _, cl := range cs {
		raw, err := cl.Metrics(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`(?m)^nextbest_cluster_unlogged_decisions_total (\d+)`).FindSubmatch(raw); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			unlogged += n
		}
	}
	missing := 0
	for id := range s.feedback {
		if !logs[0][id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d decisions with acknowledged feedback are not in the decision log", missing)
	}
	pause, pauseAt := s.longestPause()
	role := "a follower"
	if victim == li {
		role = "the stream's leader"
	}
	t.Logf("seed %d: killed r%d (%s) after %d acknowledgements; it was down %.1fs and took %.1fs to be ready again",
		seed, victim+1, role, killAfter, down.Seconds(), restartReady.Seconds())
	t.Logf("seed %d: storm %.1fs with %d clients: %d decisions (by replica %v), %d feedback acknowledged (%d learned, %d not), %d unknown (503 or in flight at the kill), %d refused (404) for a decision not logged (%d of those decisions reached the log later; the survivors count %d unlogged decisions), %d requests refused by the dead replica",
		seed, stormEnd.Sub(started).Seconds(), clusterStormWorkers, s.decided[0]+s.decided[1]+s.decided[2], s.decided, s.acked, s.acked-s.notLearn, s.notLearn, unknownAll, len(s.lost), lateLogged, unlogged, s.refused)
	t.Logf("seed %d: of the %d feedback answered 503, sent again to the replica that decided: %d acknowledged and learned, %d acknowledged as duplicates (the first had been made), %d refused (404: the decision is not in the log)",
		seed, len(s.retry), s.retried[0], s.retried[1], s.retried[2])
	t.Logf("seed %d: while it was down the others decided %d times and acknowledged %d feedback; longest pause between acknowledgements %.2fs, beginning %.2fs after the kill",
		seed, s.decAfter.Load(), s.ackAfter.Load(), pause.Seconds(), pauseAt.Sub(killedAt).Seconds())
	t.Logf("seed %d: after the storm all three replicas applied the log to %d, hold identical models (responses %v) and %d logged decisions; %.1fs in all",
		seed, seq, responses, len(logs[0]), time.Since(began).Seconds())
}

// ---- TestClusterMinority ----

// TestClusterMinority (issue 19, must-show 2, partition): of three replicas two are
// killed; the one left, which leads the stream (the case where a write reaches a Raft log
// at all), refuses feedback and catalog writes with 503 cluster_unavailable within a few
// seconds, acknowledges none, and still decides from its last state. The two restart,
// the cluster recovers, and none of the refused writes is in its models or catalog.
func TestClusterMinority(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three replicas of the real binary and kills two")
	}
	bin := testserver.BuildNextbest(t)
	c := startProcCluster(t, bin, clusterConfig(t, t.TempDir(), ""))
	cs := procClients(c.Procs, 16)
	putClusterActions(t, cs[0])
	waitConverged(t, cs, 30*time.Second)
	var nats []string
	for _, p := range c.Procs {
		nats = append(nats, p.NATS)
	}
	leader := streamLeader(t, nats...)
	li := slices.IndexFunc(c.Procs, func(p *testserver.Proc) bool { return p.Name == leader })
	lc := cs[li]
	ctx := t.Context()

	// Before: 40 decisions on the replica that will be left, 20 of them answered.
	var ds []*engine.DecideResult
	for k := range 40 {
		d, err := lc.Decide(ctx, wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", k)), Channel: "web"})
		if err != nil || len(d.Actions) != 1 {
			t.Fatalf("decide: %v %+v", err, d)
		}
		ds = append(ds, d)
	}
	before := map[engine.ActionID]int64{}
	for _, d := range ds[:20] {
		res, err := cs[(li+1)%3].Feedback(ctx, wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: d.Actions[0].ID, Outcome: "accepted"})
		if err != nil || !res.Learned {
			t.Fatalf("feedback: %v %+v", err, res)
		}
		before[d.Actions[0].ID]++
	}
	waitConverged(t, cs, 30*time.Second)

	for i, p := range c.Procs {
		if i != li {
			p.Kill()
		}
	}
	killed := time.Now()
	// The writes come a moment after the partition: a write in flight when it happens may
	// or may not be made (the client cannot know), as with any replicated log. The replica
	// refuses before publishing once the leader has not heard from the others for 3 s
	// (cluster's quorumWindow), which a follower's answers to heartbeats sent every second
	// and the replica's reads every 250 ms may delay by 1.25 s more: 5 s.
	time.Sleep(5 * time.Second)

	var mu sync.Mutex
	var slowest time.Duration
	var said atomic.Pointer[string]
	refuse := func(what string, f func() error) {
		t.Helper()
		began := time.Now()
		err := f()
		took := time.Since(began)
		mu.Lock()
		slowest = max(slowest, took)
		mu.Unlock()
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusServiceUnavailable || ce.Err.Code != "cluster_unavailable" || ce.Err.Message == "" {
			t.Errorf("%s on the minority: %v, want 503 cluster_unavailable", what, err)
		} else {
			said.CompareAndSwap(nil, &ce.Err.Message)
		}
		if took > 8*time.Second {
			t.Errorf("%s on the minority: refused after %v, want within the append timeout (5 s)", what, took)
		}
	}
	var wg sync.WaitGroup
	for _, d := range ds[20:30] {
		wg.Go(func() {
			refuse("feedback", func() error {
				_, err := lc.Feedback(ctx, wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: d.Actions[0].ID, Outcome: "accepted"})
				return err
			})
		})
	}
	wg.Go(func() {
		refuse("PUT /v1/actions/refused", func() error {
			_, err := lc.PutAction(ctx, "refused", wire.ActionRequest{Value: &engine.Money{Const: 1}, Channels: []string{"web"}})
			return err
		})
	})
	wg.Go(func() {
		refuse("PUT /v1/actions/a0 disabled", func() error {
			_, err := lc.DisableAction(ctx, "a0")
			return err
		})
	})
	decided := 0
	for k := range 20 {
		d, err := lc.Decide(ctx, wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("m%d", k)), Channel: "web"})
		if err != nil || len(d.Actions) != 1 {
			t.Errorf("decide on the minority: %v", err)
			continue
		}
		decided++
	}
	wg.Wait()
	refusedFor := time.Since(killed)

	for i, p := range c.Procs {
		if i != li {
			p.Start()
		}
	}
	restart := time.Now()
	for _, p := range c.Procs {
		if _, err := p.WaitReady(2 * time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	recovered := time.Since(restart)
	waitConverged(t, cs, time.Minute)
	responses := sameModels(t, cs, clusterActions)
	for _, a := range clusterActions {
		if responses[a] != before[a] {
			t.Errorf("action %s: %d responses after recovery, want the %d acknowledged before the partition (a refused feedback was applied)", a, responses[a], before[a])
		}
	}
	for i, cl := range cs {
		if _, err := cl.Action(ctx, "refused"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("r%d: the refused action: %v, want 404", i+1, err)
		}
		if a, err := cl.Action(ctx, "a0"); err != nil || !a.Enabled {
			t.Errorf("r%d: a0 after its refused disabling: %+v, %v; want enabled", i+1, a, err)
		}
	}
	t.Logf("minority %s (the stream's leader): 12 writes refused with 503 cluster_unavailable, the slowest after %.2fs; %d/20 decisions served; the partition lasted %.1fs; the two restarted replicas were ready in %.1fs; responses after recovery %v",
		leader, slowest.Seconds(), decided, refusedFor.Seconds(), recovered.Seconds(), responses)
	if m := said.Load(); m != nil {
		t.Logf("the 503's message: %s", *m)
	}
}

// ---- TestClusterJoin ----

// TestClusterJoin (issue 19, must-show 3): three replicas take a snapshot every 15 s while
// a log of 20,000 commands (decisions and feedback) is written; a fourth replica with an
// empty data directory joins under load: it restores the newest snapshot (its log says
// so), replays the rest, and reports ready only once it has caught up with the log as it
// stood when it started; then its models and decision log equal the others'.
// NEXTBEST_LONG=1 joins after a log of 1,000,000 commands and reports the times.
func TestClusterJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four replicas of the real binary")
	}
	events := uint64(20000)
	if longRun() {
		events = 1000000
	}
	bin := testserver.BuildNextbest(t)
	dir := t.TempDir()
	config := clusterConfig(t, dir, "  cluster_snapshot: \"@every 15s\"\n")
	c := startProcCluster(t, bin, config)
	cs := procClients(c.Procs, 64)
	putClusterActions(t, cs[0])
	waitConverged(t, cs, 30*time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	// Write the log: decisions round-robin from 32 clients, one in five answered.
	var next atomic.Uint64
	var errN atomic.Int64
	var firstErr atomic.Pointer[error]
	load := func(workers int, stop *atomic.Bool, wg *sync.WaitGroup) {
		for range workers {
			wg.Go(func() {
				for !stop.Load() && ctx.Err() == nil {
					k := next.Add(1)
					d, err := cs[k%3].Decide(ctx, wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", k)), Channel: "web"})
					if err == nil && k%5 == 0 && len(d.Actions) == 1 {
						// A saturated cluster's replicas lag: feedback on a decision
						// another replica served a moment ago may be told to retry (503
						// decision_pending), as a client would.
						for try := 0; ; try++ {
							_, err = cs[(k+1)%3].Feedback(ctx, wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: d.Actions[0].ID, Outcome: "accepted"})
							if statusOf(err) != http.StatusServiceUnavailable || try == 50 || ctx.Err() != nil {
								break
							}
							time.Sleep(200 * time.Millisecond)
						}
					}
					if err != nil && ctx.Err() == nil {
						errN.Add(1)
						firstErr.CompareAndSwap(nil, &err)
					}
				}
			})
		}
	}
	// The log is written in two halves around the first snapshot (taken 15 s after the
	// scheduler starts): the second half, and what the load adds while r4 starts, is what
	// r4 replays after restoring the snapshot.
	var fill atomic.Bool
	var fillWG sync.WaitGroup
	genBegan := time.Now()
	load(32, &fill, &fillWG)
	var snapSeq, written uint64
	snapRe := regexp.MustCompile(`stored a snapshot in the cluster's object store.* seq=(\d+)`)
	for {
		if snapSeq == 0 {
			for _, p := range c.Procs {
				for _, m := range snapRe.FindAllStringSubmatch(p.Stderr.String(), -1) {
					if v, _ := strconv.ParseUint(m[1], 10, 64); v >= events/2 {
						snapSeq = v
					}
				}
			}
		}
		p, err := clusterPos(ctx, cs[0])
		if err == nil && snapSeq > 0 && p.last >= max(events, snapSeq+events/2) {
			written = p.last
			break
		}
		if e := firstErr.Load(); e != nil {
			fill.Store(true)
			fillWG.Wait()
			t.Fatalf("writing the log: %v", *e)
		}
		if time.Since(genBegan) > 30*time.Minute {
			t.Fatalf("the log and a snapshot of its first half were not written within 30 minutes (snapshot %d, log at %d)", snapSeq, p.last)
		}
		time.Sleep(200 * time.Millisecond)
	}
	fill.Store(true)
	fillWG.Wait()
	gen := time.Since(genBegan)

	// The fourth replica joins under load (8 clients), with an empty data directory.
	var bg atomic.Bool
	var bgWG sync.WaitGroup
	load(8, &bg, &bgWG)
	time.Sleep(time.Second)
	var last0 uint64
	for _, cl := range cs {
		p, err := clusterPos(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		last0 = max(last0, p.last)
	}
	r4 := c.AddClient("r4", "--no-demo", "--config", config)
	c4 := client.New(r4.URL)
	joinBegan := time.Now()
	r4.Start()
	statuses := map[int]int{}
	var readyAfter time.Duration
	var atReady logPos
	for {
		code := r4.Ready()
		statuses[code]++
		if code == http.StatusOK {
			readyAfter = time.Since(joinBegan)
			p, err := clusterPos(ctx, c4)
			if err != nil {
				t.Fatal(err)
			}
			atReady = p
			break
		}
		if !r4.Running() {
			t.Fatalf("r4 exited:\n%s", tailOf(r4.Log(), 4000))
		}
		if time.Since(joinBegan) > 10*time.Minute {
			t.Fatalf("r4 not ready after 10 minutes:\n%s", tailOf(r4.Log(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if atReady.applied < last0 {
		t.Errorf("r4 reported ready having applied the log up to %d, but the log held %d when it started", atReady.applied, last0)
	}
	bg.Store(true)
	bgWG.Wait()
	if e := firstErr.Load(); e != nil {
		t.Errorf("%d requests of the load failed; the first: %v", errN.Load(), *e)
	}

	all := append(slices.Clone(cs), c4)
	seq := waitConverged(t, all, 2*time.Minute)
	responses := sameModels(t, all, clusterActions)
	counts := make([]int, len(all))
	for i, cl := range all {
		counts[i] = countDecisions(t, cl)
	}
	for i := range counts {
		if counts[i] != counts[0] {
			t.Errorf("replica %d logged %d decisions, r1 %d", i+1, counts[i], counts[0])
		}
	}

	// What r4's log says of its start.
	logText := r4.Log()
	restored := regexp.MustCompile(`time=(\S+) .*msg="snapshot restored; the log's rest is replayed next" seq=(\d+) elapsed=(\S+)`).FindStringSubmatch(logText)
	if restored == nil || !strings.Contains(logText, "restoring the cluster's newest snapshot") {
		t.Fatalf("r4's log does not say it restored a snapshot:\n%s", tailOf(logText, 4000))
	}
	fromSeq, _ := strconv.ParseUint(restored[2], 10, 64)
	restoreTook, _ := time.ParseDuration(restored[3])
	restoredAt, _ := time.Parse(time.RFC3339Nano, restored[1])
	caught := regexp.MustCompile(`time=(\S+) .*msg="replica caught up with the log"`).FindStringSubmatch(logText)
	var replay time.Duration
	if caught != nil {
		at, _ := time.Parse(time.RFC3339Nano, caught[1])
		replay = at.Sub(restoredAt)
	}
	if fromSeq < snapSeq {
		t.Errorf("r4 restored the snapshot at %d, older than the one stored at %d before it started", fromSeq, snapSeq)
	}
	// A replay of thousands of commands takes longer than a poll of /readyz (50 ms): r4
	// must have said 503 while it replayed.
	if last0-fromSeq >= 5000 && statuses[http.StatusServiceUnavailable] == 0 {
		t.Errorf("r4 had %d commands to replay but never answered /readyz with 503", last0-fromSeq)
	}
	t.Logf("join: log of %d commands written in %.1fs (%.0f/s) by 32 clients, a snapshot stored at %d meanwhile; r4 started when the log held %d, restored the snapshot at %d in %s, replayed %d commands in %.2fs, ready %.2fs after its start (readyz polled: %d not answering, %d × 503, then 200 at applied %d)",
		written, gen.Seconds(), float64(written)/gen.Seconds(), snapSeq, last0, fromSeq, restoreTook, atReady.applied-fromSeq, replay.Seconds(), readyAfter.Seconds(),
		statuses[0], statuses[http.StatusServiceUnavailable], atReady.applied)
	t.Logf("join: after the load all four replicas applied the log to %d, hold identical models (responses %v) and %d logged decisions", seq, responses, counts[0])
}

// countDecisions counts a replica's decision log (GET /v1/decisions/export as JSON
// lines, one a decision), streamed.
func countDecisions(t *testing.T, c *client.Client) int {
	t.Helper()
	var w lineCounter
	// A client without the load's one-minute timeout: the export of a million decisions
	// (NEXTBEST_LONG=1) takes longer.
	if err := client.New(c.BaseURL()).ExportDecisions(t.Context(), client.ExportQuery{Format: "jsonl"}, &w); err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(w.line, []byte(`{"error"`)) {
		t.Fatalf("export of %s ended with %s", c.BaseURL(), w.line)
	}
	return w.n
}

// lineCounter counts the lines written to it and keeps the start of the last one.
type lineCounter struct {
	n         int
	cur, line []byte
}

func (w *lineCounter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			w.n++
			w.line, w.cur = append(w.line[:0], w.cur...), w.cur[:0]
		} else if len(w.cur) < 64 {
			w.cur = append(w.cur, b)
		}
	}
	return len(p), nil
}
