package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestLease runs three replicas, each connected to its own server of three, competing
// for one lease. Exactly one holds it at any sampled instant, and a counter that holders
// increment non-atomically (read, pause, write) only while holding loses no increment,
// which it would if two held at once. The holder stopping hands the lease over at once;
// the holder's server killed hands it over after the TTL.
func TestLease(t *testing.T) {
	c := StartTestCluster(t, 3)
	ttl := c.Options(0).LeaseTTL // 1 s
	type replica struct {
		lease  *Lease
		nc     *nats.Conn
		cancel context.CancelFunc
		done   chan struct{}
		incs   atomic.Int64
	}
	reps := make([]*replica, 3)
	var shared atomic.Int64 // the non-atomically incremented counter
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range reps {
		o := c.Options(i)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		nc, js, err := Connect(ctx, o, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		res, err := Ensure(ctx, js, o)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		r := &replica{lease: NewLease(res.Leases, "jobs", o.Name, o.LeaseTTL), nc: nc, done: make(chan struct{})}
		reps[i] = r
		var lctx context.Context
		lctx, r.cancel = context.WithCancel(t.Context())
		go func() {
			defer close(r.done)
			if err := r.lease.Run(lctx); err != nil {
				t.Error(err)
			}
		}()
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r.lease.Held() {
					v := shared.Load()
					time.Sleep(200 * time.Microsecond)
					shared.Store(v + 1)
					r.incs.Add(1)
				} else {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	var overlaps atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			n := 0
			for _, r := range reps {
				if r.lease.Held() {
					n++
				}
			}
			if n > 1 {
				overlaps.Add(1)
			}
		}
	})
	holder := func(except ...int) int {
	next:
		for i, r := range reps {
			for _, e := range except {
				if i == e {
					continue next
				}
			}
			if r.lease.Held() {
				return i
			}
		}
		return -1
	}
	waitHolder := func(what string, limit time.Duration, except ...int) int {
		t.Helper()
		start := time.Now()
		for time.Since(start) < limit {
			if i := holder(except...); i >= 0 {
				t.Logf("%s: r%d holds after %v", what, i, time.Since(start).Round(time.Millisecond))
				return i
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%s: no replica holds the lease within %v", what, limit)
		return -1
	}

	first := waitHolder("start", 2*ttl)
	if h, err := reps[first].lease.Holder(t.Context()); err != nil || h != c.Options(first).Name {
		t.Fatalf("Holder() = %q, %v; want %q", h, err, c.Options(first).Name)
	}
	time.Sleep(2 * ttl) // renewals keep it with the first holder
	if i := holder(); i != first {
		t.Fatalf("after 2 TTL of renewals r%d holds, want r%d", i, first)
	}

	// The holder stops: it deletes the key, another takes it within a renewal period.
	reps[first].cancel()
	<-reps[first].done
	second := waitHolder("holder stopped", 2*ttl, first)

	// The holder dies without a word (its connection closed, as when its process is
	// killed): its renewals fail, it gives up after TTL/2, and the key expires TTL after
	// its last renewal, when the third replica takes it.
	reps[second].nc.Close()
	third := waitHolder("holder's connection closed", 2*ttl, first, second)
	if reps[second].lease.Held() {
		t.Fatalf("r%d still believes it holds the lease after r%d took it", second, third)
	}

	// The server the holder is connected to dies: the client reconnects to another and
	// keeps renewing, or, if a renewal fails meanwhile, takes the lease again after it
	// expires (only it and r0's stopped lease are left). Either way somebody holds it.
	c.Kill(serverOf(t, c, reps[third].nc))
	time.Sleep(2 * ttl)
	waitHolder("holder's server killed", 2*ttl, first, second)
	time.Sleep(ttl)

	close(stop)
	wg.Wait()
	for _, r := range reps {
		r.cancel()
		<-r.done
	}
	var sum int64
	for _, r := range reps {
		sum += r.incs.Load()
	}
	if n := overlaps.Load(); n > 0 {
		t.Errorf("two replicas held the lease at once in %d samples", n)
	}
	if shared.Load() != sum || sum == 0 {
		t.Errorf("counter %d, increments made while holding %d: they differ when two hold at once", shared.Load(), sum)
	}
	t.Logf("%d increments while holding", sum)
}

// serverOf is the index of the server nc is connected to.
func serverOf(t *testing.T, c *TestCluster, nc *nats.Conn) int {
	t.Helper()
	for i, u := range c.URLs() {
		if u == nc.ConnectedUrl() {
			return i
		}
	}
	t.Fatalf("connected to %q, not a server of the cluster", nc.ConnectedUrl())
	return -1
}
