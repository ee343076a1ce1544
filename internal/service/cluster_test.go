package service_test

// The service in cluster mode as it really runs (service.Run, through internal/testserver):
// three NATS servers with JetStream and three replicas on loopback in this process, each
// on its own store, driven over HTTP. They are here, beside the code that wires a replica
// (cluster.go, scheduler.go), rather than in package cluster, whose tests stay with the
// NATS plumbing: package cluster cannot import the service that imports it, except from
// an external test package, and the behaviour under test is the service's.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"sort"
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
	"github.com/nextbest/nextbest/cluster"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/service"
	"github.com/nextbest/nextbest/internal/testserver"
)

// clients returns an API client for each running replica of c. The test's cleanup closes
// their idle connections before it stops the replicas: the HTTP server's shutdown waits
// for a client's keep-alive connection up to its read timeout (30 s).
func clients(t *testing.T, c *testserver.Cluster) []*client.Client {
	out := make([]*client.Client, len(c.Replicas))
	for i, s := range c.Replicas {
		if s != nil {
			// A bound on every request, so that a stuck replica fails the test instead
			// of hanging it.
			out[i] = client.New(s.URL, client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
			t.Cleanup(out[i].CloseIdleConnections)
		}
	}
	return out
}

// schema encodes two context fields, so that each model has 1 + 3 + 16 weights.
const schema = `{"fields": [{"name": "plan", "source": "context", "type": "categorical", "vocabulary": ["basic", "plus", "pro"]},
	{"name": "page", "source": "context", "type": "categorical", "hash_buckets": 16}]}`

// putCatalog puts the schema and actions offered on channel through one replica, then
// waits until every replica has them.
func putCatalog(t *testing.T, cs []*client.Client, channel string, ids ...engine.ActionID) {
	t.Helper()
	ctx := context.Background()
	if _, err := cs[0].PutSchema(ctx, []byte(schema)); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := cs[0].PutAction(ctx, id, wire.ActionRequest{Channels: []string{channel}, Value: &engine.Money{Const: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "every replica has the catalog", func() bool {
		for _, c := range cs {
			if c == nil {
				continue
			}
			as, err := c.Actions(ctx)
			if err != nil || len(as) != len(ids) {
				return false
			}
		}
		return true
	})
}

// waitFor polls cond every 20 ms until it holds, failing the test after max.
func waitFor(t *testing.T, max time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(max); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", max, what)
		}
	}
}

// sample is a replica's model sequence (the journal event it last applied) as read at t,
// when its answer arrived.
type sample struct {
	t   time.Time
	seq uint64
}

// ack is an acknowledged feedback: its action, its journal sequence (the same on every
// replica, which applies the same events in the same order) and when the answer arrived.
type ack struct {
	action engine.ActionID
	seq    uint64
	t      time.Time
}

// TestSharedLearning (issue 19, must-show 1): decisions and feedback go round-robin to
// three replicas from several clients at once, each feedback to another replica than
// the one that decided. For every acknowledged feedback it measures how long after the
// acknowledgement every replica's model had applied it, and asserts a p99 under 1 s;
// after the run the three replicas hold identical models (posteriors compared exactly:
// JSON floats round-trip) and the same decisions.
func TestSharedLearning(t *testing.T) {
	began := time.Now()
	c := testserver.StartCluster(t, 3, nil)
	t.Logf("three NATS servers and three replicas ready in %v", time.Since(began).Round(time.Millisecond))
	cs := clients(t, c)
	actions := []engine.ActionID{"a", "b", "c"}
	putCatalog(t, cs, "web", actions...)
	ctx := context.Background()

	// Pollers: each replica's model sequences, action by action, as fast as a loop of
	// GET /v1/models/{id} reads them (a few ms a round; the round bounds the resolution
	// of the measurement, which it can only lengthen).
	samples := make([]map[engine.ActionID][]sample, len(cs))
	stop := make(chan struct{})
	var pollers sync.WaitGroup
	stopPollers := sync.OnceFunc(func() { close(stop); pollers.Wait() })
	t.Cleanup(stopPollers) // before the replicas stop, if the test ends early
	for r, cl := range cs {
		samples[r] = map[engine.ActionID][]sample{}
		pollers.Add(1)
		go func() {
			defer pollers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, a := range actions {
					m, err := cl.Model(ctx, a, 1)
					if err != nil {
						t.Errorf("poll r%d model %s: %v", r, a, err)
						return
					}
					samples[r][a] = append(samples[r][a], sample{time.Now(), m.Seq})
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}

	// 3,000 feedback events from 16 clients: enough for a p99 of 30 events above it.
	const events, workers = 3000, 16
	var next atomic.Int64
	acks := make([][]ack, workers)
	began = time.Now()
	var load sync.WaitGroup
	for w := range workers {
		load.Add(1)
		go func() {
			defer load.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 19))
			for {
				i := next.Add(1) - 1
				if i >= events {
					return
				}
				k := int(i % 3)
				plans := []string{"basic", "plus", "pro"}
				d, err := cs[k].Decide(ctx, wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", i%500)), Channel: "web",
					Context: map[string]any{"plan": plans[rng.IntN(3)], "page": fmt.Sprintf("p%d", rng.IntN(40))}})
				if err != nil {
					t.Errorf("decide on r%d: %v", k, err)
					return
				}
				if len(d.Actions) == 0 {
					t.Errorf("decision %s offered nothing", d.DecisionID)
					return
				}
				outcome := engine.Rejected
				if rng.Float64() < 0.3 {
					outcome = engine.Accepted
				}
				a := d.Actions[0].ID
				res, err := cs[(k+1)%3].Feedback(ctx, wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: a, Outcome: outcome})
				at := time.Now()
				if err != nil {
					t.Errorf("feedback on r%d for a decision of r%d: %v", (k+1)%3, k, err)
					return
				}
				if !res.Learned || res.Duplicate {
					t.Errorf("feedback %d: %+v, want learned once", i, res)
					return
				}
				acks[w] = append(acks[w], ack{action: a, seq: res.Seq, t: at})
			}
		}()
	}
	load.Wait()
	elapsed := time.Since(began)
	if t.Failed() {
		t.FailNow()
	}
	var all []ack
	for _, a := range acks {
		all = append(all, a...)
	}
	last := map[engine.ActionID]uint64{}
	for _, a := range all {
		last[a.action] = max(last[a.action], a.seq)
	}
	// Let the pollers see the last event everywhere, then stop them.
	waitFor(t, 10*time.Second, "every replica applied the last feedback", func() bool {
		for _, cl := range cs {
			for a, seq := range last {
				m, err := cl.Model(ctx, a, 1)
				if err != nil || m.Seq < seq {
					return false
				}
			}
		}
		return true
	})
	time.Sleep(50 * time.Millisecond)
	stopPollers()

	// The visibility delay of a feedback: from its acknowledgement to the first answer of
	// the slowest replica that shows its model has applied it (0 if that was before).
	delays := make([]time.Duration, 0, len(all))
	for _, a := range all {
		var worst time.Duration
		for r := range cs {
			ss := samples[r][a.action]
			i := sort.Search(len(ss), func(i int) bool { return ss[i].seq >= a.seq })
			if i == len(ss) {
				t.Fatalf("r%d never showed %s's event %d", r, a.action, a.seq)
			}
			worst = max(worst, ss[i].t.Sub(a.t))
		}
		delays = append(delays, worst)
	}
	slices.Sort(delays)
	p := func(q float64) time.Duration { return delays[int(q*float64(len(delays)-1))] }
	rounds := 0
	for _, ss := range samples {
		rounds += len(ss[actions[0]])
	}
	t.Logf("%d feedback acknowledged in %v (%.0f/s, each after a decision on another replica); visible on all 3 replicas after: p50 %v, p99 %v, max %v (%d polls of each model)",
		len(all), elapsed.Round(time.Millisecond), float64(len(all))/elapsed.Seconds(), p(0.5), p(0.99), delays[len(delays)-1], rounds)
	if len(all) != events {
		t.Fatalf("%d feedback acknowledged, want %d", len(all), events)
	}
	if p(0.99) >= time.Second {
		t.Errorf("p99 visibility delay %v, want under 1s", p(0.99))
	}

	// Identical models and decisions. Decisions are logged without waiting: wait until
	// every replica has all of them.
	counts := make([]int, len(cs))
	ids := make([][]engine.DecisionID, len(cs))
	waitFor(t, 10*time.Second, "every replica logged every decision", func() bool {
		for r, cl := range cs {
			ids[r] = ids[r][:0]
			if err := cl.Decisions(ctx, client.DecisionsQuery{}, func(d *engine.Decision) error {
				ids[r] = append(ids[r], d.ID)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			counts[r] = len(ids[r])
		}
		return counts[0] == events && counts[1] == events && counts[2] == events
	})
	for r := range ids {
		slices.Sort(ids[r])
	}
	if !slices.Equal(ids[0], ids[1]) || !slices.Equal(ids[0], ids[2]) {
		t.Errorf("the replicas logged different decisions")
	}
	for _, a := range actions {
		var want []byte
		for r, cl := range cs {
			m, err := cl.Model(ctx, a, 10000)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(struct {
				Seq     uint64
				Health  engine.Health
				Weights []engine.Weight
			}{m.Seq, m.Health, m.TopWeights})
			if r == 0 {
				want = raw
				t.Logf("model %s: %d responses, %d weights, seq %d", a, m.Health.Responses, len(m.TopWeights), m.Seq)
				continue
			}
			if string(raw) != string(want) {
				t.Errorf("model %s on r%d differs from r0's:\n%s\n%s", a, r, raw, want)
			}
		}
	}
	t.Logf("decisions logged per replica: %v", counts)
}

// metric returns the value of a gauge without labels in a replica's /metrics, -1 if
// absent.
func metric(t *testing.T, cl *client.Client, name string) float64 {
	t.Helper()
	raw, err := cl.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return -1
}

// leader returns the index of the replica that holds the scheduler's lease, waiting for
// one (exactly one) to hold it.
func leader(t *testing.T, cs []*client.Client) int {
	t.Helper()
	who := -1
	waitFor(t, 10*time.Second, "one replica leads", func() bool {
		who = -1
		for i, cl := range cs {
			if cl != nil && metric(t, cl, "nextbest_cluster_leader") == 1 {
				if who >= 0 {
					return false
				}
				who = i
			}
		}
		return who >= 0
	})
	return who
}

// logIDs returns the message ids (idempotency keys) of the commands in the cluster's
// log, in log order.
func logIDs(t *testing.T, c *testserver.Cluster) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(strings.Join(c.NATS.URLs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "NEXTBEST")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("read the log at %d: %v", seq, err)
		}
		ids = append(ids, m.Header.Get(jetstream.MsgIDHeader))
	}
	return ids
}

// slotOf returns the slot (Unix seconds) of a run of campaign promo from its message id,
// "job:campaign promo:<slot>" (the scheduler's idempotency key).
func slotOf(t *testing.T, id string) int64 {
	t.Helper()
	rest, ok := strings.CutPrefix(id, "job:campaign promo:")
	u, err := strconv.ParseInt(rest, 10, 64)
	if !ok || err != nil {
		t.Fatalf("message id %q is not a run of campaign promo", id)
	}
	return u
}

// TestScheduledWorkExactlyOnce (issue 19, must-show 4): with a campaign run every 2 s and
// unanswered offers turned into implicit negatives every second, the replica that leads
// the scheduled work is stopped just as it has put a campaign run in the log, and another
// takes the lease over. The log holds one run per 2 s slot, none twice and none missed;
// each run contacts every customer once; every unanswered offer got exactly one implicit
// negative and every answered one none; and the surviving replicas hold the same
// decisions, outcomes and models.
func TestScheduledWorkExactlyOnce(t *testing.T) {
	const period = 2 * time.Second // the campaign's schedule
	c := testserver.StartCluster(t, 3, func(o *service.Options) {
		o.Engine.Channels["web"] = engine.Channel{Weight: 1, Timeout: 500 * time.Millisecond}
		o.Engine.Channels["email"] = engine.Channel{Weight: 1, Timeout: 500 * time.Millisecond}
		o.Engine.ImplicitNegatives = true
		o.Engine.ContactPolicy = engine.ContactPolicy{} // every run contacts every customer
		o.Schedule.Timeouts = "@every 1s"
	})
	cs := clients(t, c)
	ctx := context.Background()
	putCatalog(t, cs, "web", "offer")
	if _, err := cs[0].PutAction(ctx, "offer", wire.ActionRequest{Channels: []string{"web", "email"}, Value: &engine.Money{Const: 1}}); err != nil {
		t.Fatal(err)
	}
	const customers = 40
	for i := range customers {
		if _, err := cs[i%3].PutCustomer(ctx, engine.CustomerID(fmt.Sprintf("c%02d", i)), map[string]any{"n": i}); err != nil {
			t.Fatal(err)
		}
	}

	// Watch the log for the campaign's runs (a core subscription sees every publish,
	// duplicates too).
	nc, err := nats.Connect(strings.Join(c.NATS.URLs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	runs := make(chan string, 1000)
	sub, err := nc.Subscribe(cluster.LogSubject("NEXTBEST"), func(m *nats.Msg) {
		if id := m.Header.Get(jetstream.MsgIDHeader); strings.HasPrefix(id, "job:campaign ") {
			runs <- id
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if _, err := cs[0].PutCampaign(ctx, "promo", wire.CampaignRequest{Segment: "true", Action: "offer", Channel: "email", Schedule: "@every 2s"}); err != nil {
		t.Fatal(err)
	}

	// Inbound traffic meanwhile, half of it answered.
	stop := make(chan struct{})
	var load sync.WaitGroup
	answered := map[engine.DecisionID]bool{}
	var mu sync.Mutex
	for w := range 2 {
		load.Add(1)
		go func() {
			defer load.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				k := (w + i) % 3
				mu.Lock() // the test drops the stopped leader's client meanwhile
				cl := cs[k]
				mu.Unlock()
				if cl == nil {
					continue
				}
				d, err := cl.Decide(ctx, wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%02d", i%customers)), Channel: "web"})
				if err != nil || d.NoAction {
					continue // the replica is stopping
				}
				if i%2 == 0 {
					if _, err := cl.Feedback(ctx, wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: "offer", Outcome: engine.Accepted}); err == nil {
						mu.Lock()
						answered[d.DecisionID] = true
						mu.Unlock()
					}
				}
			}
		}()
	}

	// Two runs, then stop the leader as it puts the third in the log.
	waitRun := func(after int64) int64 {
		t.Helper()
		for deadline := time.After(10 * time.Second); ; {
			select {
			case id := <-runs:
				if slot := slotOf(t, id); slot > after {
					return slot
				}
			case <-deadline:
				t.Fatalf("no campaign run after slot %d within 10s", after)
			}
		}
	}
	slot := waitRun(0)
	slot = waitRun(slot)
	lead := leader(t, cs)
	slot = waitRun(slot)
	cs[lead].CloseIdleConnections()
	mu.Lock()
	cs[lead] = nil
	mu.Unlock()
	c.Stop(t, lead)
	t.Logf("stopped the leader r%d as it put the run of slot %d in the log", lead, slot)
	next := leader(t, cs)
	t.Logf("r%d took the lease over", next)
	// Three more runs under the new leader (it puts the slots the old one ran in the log
	// again, which the log drops: their ids are the same).
	for range 3 {
		slot = waitRun(slot)
	}
	close(stop)
	load.Wait()
	off := false
	if _, err := cs[next].PutCampaign(ctx, "promo", wire.CampaignRequest{Segment: "true", Action: "offer", Channel: "email", Schedule: "@every 2s", Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	// Let the last offers time out (500 ms) and the timeouts job (every second) record
	// them.
	time.Sleep(2500 * time.Millisecond)

	// The log: one run per slot, in order, none missed.
	var slots []int64
	for _, id := range logIDs(t, c) {
		if strings.HasPrefix(id, "job:campaign ") {
			slots = append(slots, slotOf(t, id))
		}
	}
	t.Logf("campaign runs in the log, by slot: %v", slots)
	if len(slots) < 5 {
		t.Fatalf("%d campaign runs in the log, want at least 5", len(slots))
	}
	for i := 1; i < len(slots); i++ {
		if d := time.Duration(slots[i]-slots[i-1]) * time.Second; d != period {
			t.Errorf("campaign runs %d and %d are for slots %v apart, want %v: a slot run twice or missed", i-1, i, d, period)
		}
	}

	// The survivors: the same decisions and outcomes, each run contacting every customer
	// once, and one implicit negative for each unanswered offer.
	var survivors []int
	for i, cl := range cs {
		if cl != nil {
			survivors = append(survivors, i)
		}
	}
	logs := make([]string, len(cs))
	for _, r := range survivors {
		var ds []*engine.Decision
		if err := cs[r].Decisions(ctx, client.DecisionsQuery{}, func(d *engine.Decision) error {
			ds = append(ds, d)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		byRun := map[time.Time]map[engine.CustomerID]int{}
		negatives, offers := 0, 0
		for _, d := range ds {
			if d.Source == "campaign" {
				if byRun[d.Time] == nil {
					byRun[d.Time] = map[engine.CustomerID]int{}
				}
				byRun[d.Time][d.CustomerID]++
			}
			for _, a := range d.Chosen {
				offers++
				timeouts, explicit := 0, 0
				for _, ev := range d.Outcomes {
					if ev.ActionID != a {
						continue
					}
					if ev.Outcome == engine.Timeout {
						timeouts++
					} else {
						explicit++
					}
				}
				negatives += timeouts
				mu.Lock()
				want := 1
				if answered[d.ID] {
					want = 0
				}
				mu.Unlock()
				if timeouts != want || explicit+timeouts != 1 {
					t.Errorf("r%d: decision %s (%s at %v, deadline %v) action %s: %d implicit negatives and %d responses, want %d and %d", r, d.ID, d.Source, d.Time.Format("15:04:05.000"), d.Deadline.Format("15:04:05.000"), a, timeouts, explicit, want, 1-want)
				}
			}
		}
		if len(byRun) != len(slots) {
			t.Errorf("r%d logged contacts of %d campaign runs, the log holds %d", r, len(byRun), len(slots))
		}
		for at, contacted := range byRun {
			if len(contacted) != customers {
				t.Errorf("r%d: the run at %v contacted %d customers, want %d", r, at, len(contacted), customers)
			}
			for cust, n := range contacted {
				if n != 1 {
					t.Errorf("r%d: the run at %v contacted %s %d times", r, at, cust, n)
				}
			}
		}
		raw, _ := json.Marshal(ds)
		m, err := cs[r].Model(ctx, "offer", 10000)
		if err != nil {
			t.Fatal(err)
		}
		mraw, _ := json.Marshal(struct {
			Seq     uint64
			Health  engine.Health
			Weights []engine.Weight
		}{m.Seq, m.Health, m.TopWeights})
		logs[r] = string(raw) + string(mraw)
		t.Logf("r%d: %d decisions, %d of %d campaign runs, %d offers, %d implicit negatives; model: %d responses", r, len(ds), len(byRun), len(slots), offers, negatives, m.Health.Responses)
	}
	if logs[survivors[0]] != logs[survivors[1]] {
		t.Errorf("the surviving replicas r%d and r%d hold different decisions, outcomes or models", survivors[0], survivors[1])
	}
}

// TestReadyOnlyOnceCaughtUp (issue 19): a replica that joins with an empty data directory
// answers /readyz 503 while it replays the log, and once it answers ready it holds what
// the replicas before it hold: the same models and the same decisions.
func TestReadyOnlyOnceCaughtUp(t *testing.T) {
	c := testserver.StartCluster(t, 2, nil)
	cs := clients(t, c)
	ctx := context.Background()
	actions := []engine.ActionID{"a", "b", "c"}
	putCatalog(t, cs, "web", actions...)
	// 4,000 decisions, a quarter of them answered: about 5,000 commands to replay.
	const events, workers = 4000, 8
	var next atomic.Int64
	var load sync.WaitGroup
	for range workers {
		load.Add(1)
		go func() {
			defer load.Done()
			for {
				i := next.Add(1) - 1
				if i >= events {
					return
				}
				cl := cs[i%2]
				d, err := cl.Decide(ctx, wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", i%300)), Channel: "web",
					Context: map[string]any{"plan": []string{"basic", "plus", "pro"}[i%3], "page": fmt.Sprintf("p%d", i%40)}})
				if err != nil {
					t.Errorf("decide: %v", err)
					return
				}
				if i%4 == 0 {
					if _, err := cl.Feedback(ctx, wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: d.Actions[0].ID, Outcome: engine.Accepted}); err != nil {
						t.Errorf("feedback: %v", err)
						return
					}
				}
			}
		}()
	}
	load.Wait()
	if t.Failed() {
		t.FailNow()
	}
	waitFor(t, 10*time.Second, "both replicas logged every decision", func() bool {
		for _, cl := range cs {
			n := 0
			if err := cl.Decisions(ctx, client.DecisionsQuery{}, func(*engine.Decision) error { n++; return nil }); err != nil || n != events {
				return false
			}
		}
		return true
	})

	began := time.Now()
	s := c.Launch(t, 2, t.TempDir(), nil)
	probe := &http.Client{Timeout: 5 * time.Second}
	refused, unready := 0, 0
	for {
		if time.Since(began) > clusterJoin {
			t.Fatalf("the new replica was not ready within %v (%d refused connections, %d answers 503)", clusterJoin, refused, unready)
		}
		resp, err := probe.Get(s.URL + "/readyz")
		if err != nil {
			refused++ // not listening yet
			time.Sleep(5 * time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"not_ready"`) {
			t.Fatalf("/readyz: %d %s, want 503 not_ready or 200", resp.StatusCode, body)
		}
		unready++
		time.Sleep(5 * time.Millisecond)
	}
	ready := time.Since(began)
	// What it holds at the moment it says ready, before anything else is written.
	late := client.New(s.URL, client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	defer late.CloseIdleConnections()
	defer probe.CloseIdleConnections()
	for _, a := range actions {
		want, err := cs[0].Model(ctx, a, 10000)
		if err != nil {
			t.Fatal(err)
		}
		got, err := late.Model(ctx, a, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != want.Seq || !reflect.DeepEqual(got.Health, want.Health) || !reflect.DeepEqual(got.TopWeights, want.TopWeights) {
			t.Errorf("model %s on the new replica when ready: seq %d, %d responses; want seq %d, %d responses", a, got.Seq, got.Health.Responses, want.Seq, want.Health.Responses)
		}
	}
	n := 0
	if err := late.Decisions(ctx, client.DecisionsQuery{}, func(*engine.Decision) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != events {
		t.Errorf("the new replica held %d decisions when ready, want %d", n, events)
	}
	t.Logf("the new replica was ready %v after it started; before that, %d probes found no listener and %d were answered 503", ready.Round(time.Millisecond), refused, unready)
	if unready == 0 {
		t.Errorf("/readyz never answered 503 while the replica caught up")
	}
}

// clusterJoin bounds how long a new replica may take to replay the log in
// TestReadyOnlyOnceCaughtUp.
const clusterJoin = 60 * time.Second
