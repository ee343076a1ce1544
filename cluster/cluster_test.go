package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testLog shows the client's connection events when the test runs with -v.
func testLog(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// connect connects replica i of c and ensures the JetStream resources.
func connect(t *testing.T, c *TestCluster, i int) (*nats.Conn, jetstream.JetStream, *Resources) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	o := c.Options(i)
	nc, js, err := Connect(ctx, o, testLog(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	r, err := Ensure(ctx, js, o)
	if err != nil {
		t.Fatalf("ensure: %v", err)
	}
	return nc, js, r
}

// publish publishes one event with message id id to "nextbest.test", waiting up to d.
func publish(ctx context.Context, js jetstream.JetStream, id string, d time.Duration) (*jetstream.PubAck, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return js.Publish(ctx, "nextbest.test", []byte(id), jetstream.WithMsgID(id))
}

// TestClusterQuorum runs the R3 stream through the failures the issue names: it forms,
// drops a duplicate message id, accepts writes with one of three servers down, refuses
// them (IsNoQuorum) with two down, and after the restarts holds every acknowledged
// message exactly once.
func TestClusterQuorum(t *testing.T) {
	c := StartTestCluster(t, 3)
	_, js, r := connect(t, c, 0)
	ctx := t.Context()

	info, err := r.Stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream replicas: config %d, cluster %+v; want 3 (a leader and 2 followers)", info.Config.Replicas, info.Cluster)
	}

	acked := map[string]uint64{} // message id -> stream sequence of every acknowledged publish
	pub := func(id string) error {
		ack, err := publish(ctx, js, id, 2*time.Second)
		if err != nil {
			return err
		}
		if ack.Duplicate {
			return fmt.Errorf("publish %s: acknowledged as a duplicate", id)
		}
		acked[id] = ack.Sequence
		return nil
	}
	if err := pub("a1"); err != nil {
		t.Fatal(err)
	}
	dup, err := publish(ctx, js, "a1", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !dup.Duplicate || dup.Sequence != acked["a1"] {
		t.Fatalf("second publish of id a1: duplicate %v at seq %d, want a duplicate of seq %d", dup.Duplicate, dup.Sequence, acked["a1"])
	}

	// One of three down: 2 of 3 is a majority. Kill the stream's leader, the harder case.
	leader := serverIndex(t, c, info.Cluster.Leader)
	c.Kill(leader)
	for i := range 20 {
		if err := retryPublish(ctx, pub, fmt.Sprintf("b%d", i), 10*time.Second); err != nil {
			t.Fatalf("with server %d down: %v", leader, err)
		}
	}

	// Two of three down: no majority, no acknowledgement.
	other := (leader + 1) % 3
	c.Kill(other)
	start := time.Now()
	_, err = publish(ctx, js, "c1", time.Second)
	if err == nil {
		t.Fatalf("publish with two of three servers down was acknowledged")
	}
	if !IsNoQuorum(err) {
		t.Fatalf("publish with two of three servers down: %v (%T), which IsNoQuorum does not recognise", err, err)
	}
	t.Logf("publish without quorum failed after %v: %v", time.Since(start).Round(time.Millisecond), err)

	c.Restart(other)
	c.Restart(leader)
	for i := range 5 {
		if err := retryPublish(ctx, pub, fmt.Sprintf("d%d", i), 15*time.Second); err != nil {
			t.Fatalf("after restarts: %v", err)
		}
	}
	checkStream(t, ctx, js, acked)
}

// retryPublish retries pub while the cluster elects a new leader, up to d. A retry of an
// id whose earlier publish timed out may meet that publish still being stored (JetStream
// error 10158, "duplicate message id is in process"): that is retried too.
func retryPublish(ctx context.Context, pub func(string) error, id string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		err := pub(id)
		var apiErr *jetstream.APIError
		inProcess := errors.As(err, &apiErr) && apiErr.ErrorCode == 10158
		if err == nil || !IsNoQuorum(err) && !inProcess || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serverIndex is the index of the server named name (s<i>).
func serverIndex(t *testing.T, c *TestCluster, name string) int {
	for i := range c.N() {
		if c.ServerOptions(i).Name == name {
			return i
		}
	}
	t.Fatalf("no server named %q", name)
	return -1
}

// checkStream reads the whole stream and checks that it holds every acknowledged
// message at its acknowledged sequence, and each id once.
func checkStream(t *testing.T, ctx context.Context, js jetstream.JetStream, acked map[string]uint64) {
	t.Helper()
	s, err := js.Stream(ctx, "NEXTBEST")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for id, seq := range acked {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("acknowledged %s at seq %d: %v", id, seq, err)
		}
		if string(m.Data) != id {
			t.Fatalf("seq %d holds %q, want %q", seq, m.Data, id)
		}
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[m.Header.Get(jetstream.MsgIDHeader)]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("id %s stored %d times", id, n)
		}
	}
	if len(seen) < len(acked) {
		t.Errorf("stream holds %d ids, %d were acknowledged", len(seen), len(acked))
	}
}
