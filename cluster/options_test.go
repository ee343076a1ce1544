package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestValidate: the defaults with a name and a store are valid; each broken field is
// refused with an error naming it.
func TestValidate(t *testing.T) {
	base := func() Options {
		o := DefaultOptions()
		o.Name = "r0"
		o.Replicas = 1
		o.SetDataDir("/data")
		return o
	}
	if o := base(); o.Validate() != nil || o.Embedded.StoreDir != filepath.Join("/data", "nats") {
		t.Fatalf("defaults: %v, store dir %q", o.Validate(), o.Embedded.StoreDir)
	}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no name", func(o *Options) { o.Name = "" }, "cluster.name"},
		{"dotted name", func(o *Options) { o.Name = "a.b" }, "cluster.name"},
		{"stream with a wildcard", func(o *Options) { o.Stream = "X>" }, "cluster.stream"},
		{"0 replicas", func(o *Options) { o.Replicas = 0 }, "cluster.replicas"},
		{"6 replicas", func(o *Options) { o.Replicas = 6 }, "cluster.replicas"},
		{"R3 without a cluster", func(o *Options) { o.Replicas = 3 }, "needs a cluster"},
		{"duplicates over max age", func(o *Options) { o.MaxAge = time.Minute }, "cluster.duplicates"},
		{"negative max bytes", func(o *Options) { o.MaxBytes = -1 }, "cluster.max_bytes"},
		{"short lease", func(o *Options) { o.LeaseTTL = time.Millisecond }, "cluster.lease_ttl"},
		{"cert without key", func(o *Options) { o.TLS.Cert = "c.pem" }, "cluster.tls"},
		{"bad url", func(o *Options) { o.URLs = []string{"127.0.0.1:4222"} }, "cluster.urls"},
		{"bad listen", func(o *Options) { o.Embedded.Listen = "4222" }, "cluster.embedded.listen"},
		{"routes without cluster listen", func(o *Options) { o.Embedded.Routes = []string{"nats-route://h:6222"} }, "cluster.embedded.routes"},
		{"route not nats-route", func(o *Options) {
			o.Embedded.ClusterListen = "127.0.0.1:6222"
			o.Embedded.Routes = []string{"nats://h:6222"}
		}, "cluster.embedded.routes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			tc.edit(&o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one naming %s", err, tc.want)
			}
		})
	}
	o := base()
	o.Replicas = 3
	o.URLs = []string{"nats://a:4222", "tls://b:4222"}
	if err := o.Validate(); err != nil {
		t.Fatalf("R3 on external URLs: %v", err)
	}
}

// TestIsNoQuorum: the errors of a publish nobody acknowledges are recognised; others not.
func TestIsNoQuorum(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{jetstream.ErrNoStreamResponse, true},
		{fmt.Errorf("publish: %w", nats.ErrNoResponders), true},
		{nats.ErrTimeout, true},
		{context.DeadlineExceeded, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10071, Description: "wrong last sequence"}, false},
		{errors.New("other"), false},
		{nil, false},
	} {
		if got := IsNoQuorum(tc.err); got != tc.want {
			t.Errorf("IsNoQuorum(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestEnsureNoLeader: a server whose peers never come up has no JetStream meta leader;
// Ensure retries until its context ends and then says so.
func TestEnsureNoLeader(t *testing.T) {
	ports := freePorts(t, 4)
	o := DefaultOptions()
	o.Name = "alone"
	o.Embedded = EmbeddedOptions{
		Listen:        fmt.Sprintf("127.0.0.1:%d", ports[0]),
		ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[1]),
		Routes:        []string{fmt.Sprintf("nats-route://127.0.0.1:%d", ports[2]), fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3])},
		StoreDir:      t.TempDir(),
	}
	s, err := StartServer(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	nc, js, err := Connect(ctx, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	_, err = Ensure(ctx, js, o)
	if err == nil || !strings.Contains(err.Error(), "no JetStream leader") {
		t.Fatalf("err %v, want one saying no JetStream leader answered", err)
	}
	if d := time.Since(start); d > 3*time.Second+ensureAttempt {
		t.Fatalf("Ensure returned %v after its context's deadline", d)
	}
}

// TestEnsureFreshCluster: Ensure on a cluster whose servers have just started waits for
// the meta leader and creates everything with 3 replicas; run again, it updates
// (MaxAge) instead of failing.
func TestEnsureFreshCluster(t *testing.T) {
	ports := freePorts(t, 6)
	var servers []*Server
	for i := range 3 {
		o := DefaultOptions()
		o.Name = fmt.Sprintf("f%d", i)
		o.Embedded = EmbeddedOptions{
			Listen:        fmt.Sprintf("127.0.0.1:%d", ports[i]),
			ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[3+i]),
			StoreDir:      t.TempDir(),
		}
		for j := range 3 {
			if j != i {
				o.Embedded.Routes = append(o.Embedded.Routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3+j]))
			}
		}
		s, err := StartServer(o, nil)
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, s)
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	o := DefaultOptions()
	o.Name = "r0"
	o.URLs = []string{servers[0].ClientURL()}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	nc, js, err := Connect(ctx, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	r, err := Ensure(ctx, js, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ensure on a fresh cluster took %v", time.Since(start).Round(time.Millisecond))
	if got := r.Stream.CachedInfo().Config.Replicas; got != 3 {
		t.Fatalf("stream replicas %d, want 3", got)
	}
	if st, err := r.Leases.Status(ctx); err != nil || st.TTL() != o.LeaseTTL {
		t.Fatalf("lease bucket: %v, %v; want TTL %v", st, err, o.LeaseTTL)
	}
	o.MaxAge = time.Hour
	r, err = Ensure(ctx, js, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Stream.CachedInfo().Config.MaxAge; got != time.Hour {
		t.Fatalf("after the second Ensure the stream's max age is %v, want 1h", got)
	}
}
