package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/cluster"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/testserver"
)

// TestClusterScheduledWorkKilled (issue 19, must-show 4, with the real binary): a legacy
// campaign runs every 2 s and the offers it makes time out after 500 ms into implicit
// negatives, on three replicas. The replica that leads the scheduled work is killed with
// SIGKILL (its embedded NATS server with it) right after it put a campaign run in the log;
// another takes the lease over once it expires, and the killed one is restarted. Then:
// the log holds one run per 2 s slot from the first to the last, none twice and none
// missed; on every replica each run contacted every customer exactly once, every
// contact got exactly one implicit negative, and the decision logs are the same.
// (internal/service's TestScheduledWorkExactlyOnce stops the leader gracefully, in-process.)
func TestClusterScheduledWorkKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three replicas of the real binary")
	}
	const period = 2 * time.Second // the campaign's schedule
	const customers = 30
	bin := testserver.BuildNextbest(t)
	config := writeChildConfig(t, t.TempDir(), `schedule:
  timeouts: "@every 1s"
  outbound: ""
  gc: ""
engine:
  implicit_negatives: true
  channels:
    web: {weight: 1, timeout: 500ms}
cluster:
  lease_ttl: 2s
`)
	c := startProcCluster(t, bin, config)
	cs := procClients(c.Procs, 8)
	ctx := t.Context()
	if _, err := cs[0].PutAction(ctx, "offer", wire.ActionRequest{Issue: "sales", Group: "offers", Value: &engine.Money{Const: 1}, Channels: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	for i := range customers {
		if _, err := cs[i%3].PutCustomer(ctx, engine.CustomerID(fmt.Sprintf("c%02d", i)), map[string]any{"n": i}); err != nil {
			t.Fatal(err)
		}
	}

	// Watch the log for the campaign's runs: a core subscription sees every publish.
	var urls []string
	for _, p := range c.Procs {
		urls = append(urls, "nats://"+p.NATS)
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	runs := make(chan int64, 1000)
	sub, err := nc.Subscribe(cluster.LogSubject("NEXTBEST"), func(m *nats.Msg) {
		if id := m.Header.Get(jetstream.MsgIDHeader); strings.HasPrefix(id, "job:campaign promo:") {
			runs <- campaignSlot(t, id)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if _, err := cs[1].PutCampaign(ctx, "promo", wire.CampaignRequest{Segment: "true", Action: "offer", Channel: "web", Schedule: "@every 2s"}); err != nil {
		t.Fatal(err)
	}
	waitRun := func(after int64, within time.Duration) int64 {
		t.Helper()
		for deadline := time.After(within); ; {
			select {
			case slot := <-runs:
				if slot > after {
					return slot
				}
			case <-deadline:
				t.Fatalf("no campaign run after slot %d within %v", after, within)
			}
		}
	}
	slot := waitRun(0, 20*time.Second)
	slot = waitRun(slot, 10*time.Second)
	lead := clusterLeader(t, cs)
	slot = waitRun(slot, 10*time.Second)
	c.Procs[lead].Kill()
	killed := time.Now()
	t.Logf("killed the leader %s (SIGKILL) right after it put the run of slot %d in the log", c.Procs[lead].Name, slot)
	// Three more runs under the new leader: the lease expires (2 s), and the stream may
	// elect a new leader (up to about 10 s).
	for range 3 {
		slot = waitRun(slot, 45*time.Second)
	}
	t.Logf("three more runs %.1f s after the kill", time.Since(killed).Seconds())
	survivor := (lead + 1) % 3
	off := false
	if _, err := cs[survivor].PutCampaign(ctx, "promo", wire.CampaignRequest{Segment: "true", Action: "offer", Channel: "web", Schedule: "@every 2s", Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	c.Procs[lead].Start()
	if _, err := c.Procs[lead].WaitReady(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	// The last offers time out (500 ms) and the timeouts job (every second) records them;
	// then every replica has applied the whole log.
	time.Sleep(3 * time.Second)
	if _, err := cs[survivor].PutCustomer(ctx, "barrier", map[string]any{"n": -1}); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, cs)

	// The log: one run per slot, in order, none missed.
	slots := campaignSlots(t, urls)
	t.Logf("campaign runs in the log, by slot: %v", slots)
	if len(slots) < 6 {
		t.Fatalf("%d campaign runs in the log, want at least 6", len(slots))
	}
	for i := 1; i < len(slots); i++ {
		if d := time.Duration(slots[i]-slots[i-1]) * time.Second; d != period {
			t.Errorf("campaign runs %d and %d are for slots %v apart, want %v: a slot run twice or missed", i-1, i, d, period)
		}
	}
	var first string
	for r, cl := range cs {
		byRun := map[time.Time]map[engine.CustomerID]int{}
		var ids []string
		if err := cl.Decisions(ctx, client.DecisionsQuery{}, func(d *engine.Decision) error {
			ids = append(ids, string(d.ID))
			if d.Source != "campaign" {
				return nil
			}
			if byRun[d.Time] == nil {
				byRun[d.Time] = map[engine.CustomerID]int{}
			}
			byRun[d.Time][d.CustomerID]++
			timeouts, other := 0, 0
			for _, ev := range d.Outcomes {
				if ev.Outcome == engine.Timeout {
					timeouts++
				} else {
					other++
				}
			}
			if len(d.Chosen) == 1 && (timeouts != 1 || other != 0) {
				t.Errorf("%s: campaign contact %s of %s at %v: %d implicit negatives and %d other outcomes, want 1 and 0", c.Procs[r].Name, d.ID, d.CustomerID, d.Time.Format("15:04:05"), timeouts, other)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(byRun) != len(slots) {
			t.Errorf("%s logged the contacts of %d campaign runs, the log holds %d", c.Procs[r].Name, len(byRun), len(slots))
		}
		for at, contacted := range byRun {
			if len(contacted) != customers {
				t.Errorf("%s: the run at %v contacted %d customers, want %d", c.Procs[r].Name, at, len(contacted), customers)
			}
			for cust, n := range contacted {
				if n != 1 {
					t.Errorf("%s: the run at %v contacted %s %d times", c.Procs[r].Name, at, cust, n)
				}
			}
		}
		all := strings.Join(ids, ",")
		if r == 0 {
			first = all
		} else if all != first {
			t.Errorf("%s's decision log differs from %s's (%d decisions)", c.Procs[r].Name, c.Procs[0].Name, len(ids))
		}
	}
}

// clusterLeader returns the index of the replica that holds the scheduler's lease, as
// the replicas say (GET /v1/cluster).
func clusterLeader(t *testing.T, cs []*client.Client) int {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		v, err := cs[0].Cluster(t.Context())
		if err != nil || v.Leader == "" {
			continue
		}
		i, err := strconv.Atoi(strings.TrimPrefix(v.Leader, "r"))
		if err == nil && i >= 1 && i <= len(cs) {
			return i - 1
		}
	}
	t.Fatal("no replica holds the scheduler's lease")
	return -1
}

// waitApplied waits until every replica has applied the log as far as the others.
func waitApplied(t *testing.T, cs []*client.Client) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var seqs []uint64
		for _, cl := range cs {
			v, err := cl.Cluster(t.Context())
			if err != nil {
				break
			}
			for _, r := range v.Replicas {
				seqs = append(seqs, r.Applied, r.Last)
			}
		}
		same := len(seqs) > 0
		for _, s := range seqs {
			same = same && s == seqs[0]
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replicas did not reach the same position in the log: %v", seqs)
		}
	}
}

// campaignSlots reads the log and returns the slots of campaign promo's runs, in order.
func campaignSlots(t *testing.T, urls []string) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(strings.Join(urls, ","))
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
	var slots []int64
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("read the log at %d: %v", seq, err)
		}
		if id := m.Header.Get(jetstream.MsgIDHeader); strings.HasPrefix(id, "job:campaign promo:") {
			slots = append(slots, campaignSlot(t, id))
		}
	}
	return slots
}

func campaignSlot(t *testing.T, id string) int64 {
	u, err := strconv.ParseInt(strings.TrimPrefix(id, "job:campaign promo:"), 10, 64)
	if err != nil {
		t.Errorf("message id %q is not a run of campaign promo", id)
	}
	return u
}
