package cluster_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nextbest/nextbest/cluster"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// replicaHarness is one engine replica on its own Badger store, fed by the log.
type replicaHarness struct {
	eng  *engine.Engine
	rep  *cluster.Replica
	st   *store.Store
	stop func()
}

func startReplica(t *testing.T, url, node, dir string) *replicaHarness {
	t.Helper()
	st, err := store.Open(store.DefaultOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.DefaultOptions(), st, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := eng.Open(ctx); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, nats.Name(node), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := cluster.NewReplica(nc, eng, cluster.ReplicaOptions{Node: node, Stream: "NEXTBEST"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Replicate(ctx, rep, node, 42); err != nil {
		t.Fatal(err)
	}
	engDone, repDone := make(chan error, 1), make(chan error, 1)
	go func() { engDone <- eng.Run(ctx) }()
	go func() { repDone <- rep.Run(ctx) }()
	h := &replicaHarness{eng: eng, rep: rep, st: st}
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-repDone
		if err := <-engDone; err != nil {
			t.Errorf("engine %s: %v", node, err)
		}
		nc.Close()
		st.Close()
	}
	t.Cleanup(h.stop)
	return h
}

func startOneServer(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(s.Shutdown)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{Name: "NEXTBEST", Subjects: []string{cluster.LogSubject("NEXTBEST")}, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	return s.ClientURL()
}

func waitReady(t *testing.T, hs ...*replicaHarness) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, h := range hs {
		for !h.eng.Ready() {
			if time.Now().After(deadline) {
				t.Fatalf("replica not ready: %+v", h.rep.Stats())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func modelOf(t *testing.T, eng *engine.Engine, id string) string {
	t.Helper()
	m, err := eng.Model(engine.ActionID(id), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("responses %d positives %d", m.Health.Responses, m.Health.Positives)
	for _, w := range m.TopWeights {
		out += fmt.Sprintf(" [%d %v %v]", w.Index, w.Mean, w.SD)
	}
	return out
}

// settle waits until every replica has applied the whole log and committed it.
func settle(t *testing.T, hs ...*replicaHarness) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		last, err := hs[0].rep.LastSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done := true
		for _, h := range hs {
			if h.eng.DispatchedSeq() < last {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas did not reach sequence %d", last)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, h := range hs {
		if err := h.eng.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplicasLearnAsOne(t *testing.T) {
	url := startOneServer(t)
	var hs []*replicaHarness
	for i := range 3 {
		hs = append(hs, startReplica(t, url, fmt.Sprintf("r%d", i+1), t.TempDir()))
	}
	waitReady(t, hs...)
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		if _, err := hs[0].eng.PutAction(ctx, engine.Action{ID: engine.ActionID(id), Value: 1, Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(hs[0].eng.Actions()); n != 3 {
		t.Fatalf("the replica that took the puts has %d actions, want 3", n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		d := hs[i%3]
		res, err := d.eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", i)), Channel: "web", Context: map[string]any{"x": rng.Float64()}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Actions) == 0 {
			continue
		}
		out := engine.Rejected
		if rng.Float64() < 0.3 {
			out = engine.Accepted
		}
		f := hs[(i+1)%3] // feedback to another replica than the one that decided
		if _, err := f.eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: res.DecisionID, ActionID: res.Actions[0].ID, Outcome: out}); err != nil {
			t.Fatalf("feedback %d: %v", i, err)
		}
	}
	settle(t, hs...)
	for i, h := range hs {
		n := 0
		if err := h.eng.Decisions(ctx, time.Time{}, func(*engine.Decision) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != 300 {
			t.Errorf("replica %d logged %d decisions, want all 300 of the cluster's", i+1, n)
		}
	}
	total := 0
	for _, id := range []string{"a", "b", "c"} {
		want := modelOf(t, hs[0].eng, id)
		m, _ := hs[0].eng.Model(engine.ActionID(id), 1)
		total += int(m.Health.Responses)
		for _, h := range hs[1:] {
			if got := modelOf(t, h.eng, id); got != want {
				t.Errorf("model %s differs:\n%s\n%s", id, got, want)
			}
		}
	}
	if total != 300 {
		t.Errorf("the models learned %d responses, want 300 (one per decision)", total)
	}
}

// TestReplicatedRollback: replicas number their stored model versions each on its own
// schedule, so a rollback carries the version as its origin stores it: after it, every
// replica serves that model, whatever its own versions are.
func TestReplicatedRollback(t *testing.T) {
	url := startOneServer(t)
	var hs []*replicaHarness
	for i := range 3 {
		hs = append(hs, startReplica(t, url, fmt.Sprintf("r%d", i+1), t.TempDir()))
	}
	waitReady(t, hs...)
	ctx := context.Background()
	if _, err := hs[0].eng.PutAction(ctx, engine.Action{ID: "a", Value: 1, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	learn := func(n int) {
		for i := range n {
			res, err := hs[i%3].eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", i)), Channel: "web", Context: map[string]any{"x": float64(i % 7)}})
			if err != nil || len(res.Actions) == 0 {
				t.Fatalf("decide: %v %+v", err, res)
			}
			if _, err := hs[(i+1)%3].eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: res.DecisionID, ActionID: "a", Outcome: engine.Accepted}); err != nil {
				t.Fatal(err)
			}
		}
		settle(t, hs...)
	}
	learn(30)
	// Only replica 3 stores versions: it has versions the others do not.
	if _, err := hs[2].eng.Snapshot(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	vs, err := hs[2].eng.Versions(ctx, "a")
	if err != nil || len(vs) == 0 {
		t.Fatalf("versions: %v %v", vs, err)
	}
	atVersion := modelOf(t, hs[2].eng, "a")
	learn(30)
	if got := modelOf(t, hs[0].eng, "a"); got == atVersion {
		t.Fatal("the model did not change after the version: the test shows nothing")
	}
	if _, err := hs[2].eng.Rollback(ctx, "a", vs[0].Version); err != nil {
		t.Fatal(err)
	}
	settle(t, hs...)
	for i, h := range hs {
		if got := modelOf(t, h.eng, "a"); got != atVersion {
			t.Errorf("replica %d after the rollback:\n%s\nwant the version's\n%s", i+1, got, atVersion)
		}
	}
}
