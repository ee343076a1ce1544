package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/store"
)

// countingStore counts every read that authentication makes of a real store.
type countingStore struct {
	*store.Store
	reads atomic.Int64
}

func (c *countingStore) Key(ctx context.Context, id access.KeyID) (access.Key, error) {
	c.reads.Add(1)
	return c.Store.Key(ctx, id)
}

func (c *countingStore) Keys(ctx context.Context) ([]access.Key, error) {
	c.reads.Add(1)
	return c.Store.Keys(ctx)
}

func (c *countingStore) Sessions(ctx context.Context) ([]access.Session, error) {
	c.reads.Add(1)
	return c.Store.Sessions(ctx)
}

// TestBadKeysLimited floods a real server on loopback with bad keys from one address:
// unknown ids, and a known id with wrong secrets. Past the burst, failures get 429 with
// Retry-After and the JSON error; none of them reads the store; a valid key from the same
// address still passes; and the bucket refills with time.
func TestBadKeysLimited(t *testing.T) {
	const burst, perMinute = 20, 60
	st := &countingStore{Store: openKeyStore(t)}
	secret, err := NewSessionSecret()
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuth(context.Background(), AuthOptions{Keys: st, Sessions: st, SessionSecret: secret, FailureBurst: burst, FailuresPerMinute: perMinute})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_763_805_600, 0)
	a.failures.now = func() time.Time { return now } // the clock stands still unless moved
	_, plain := putKey(t, a, access.Decide)
	s := newTestServer(t, false, func(o *Options) { o.Auth, o.Keys = a, st })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.srv.Serve(ln)
	t.Cleanup(func() {
		if err := s.srv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	base := "http://" + ln.Addr().String()
	get := func(key string) (int, string, wire.ErrorBody) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/v1/outbound?channel=web", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var eb wire.ErrorBody
		if resp.StatusCode != 200 {
			if err := json.Unmarshal(raw, &eb); err != nil {
				t.Fatalf("status %d with a body that is not the JSON error: %q", resp.StatusCode, raw)
			}
		}
		return resp.StatusCode, resp.Header.Get("Retry-After"), eb
	}
	reads := st.reads.Load() // NewAuth's loading
	const n = 200
	for i := range n {
		key := fmt.Sprintf("nbk_%08x_%s", i, strings.Repeat("A", 43)) // unknown ids
		if i%2 == 1 {
			key = plain[:len(plain)-2] + fmt.Sprintf("%02d", i%100) // the known id, wrong secrets
		}
		code, retry, eb := get(key)
		switch {
		case i < burst && (code != 401 || eb.Error.Code != "invalid_key"):
			t.Fatalf("bad key %d, within the burst of %d: %d %+v, want 401 invalid_key", i, burst, code, eb)
		case i >= burst && (code != 429 || eb.Error.Code != "too_many_failures" || retry != "1"):
			t.Fatalf("bad key %d, past the burst of %d: %d %+v Retry-After %q, want 429 too_many_failures, Retry-After 1", i, burst, code, eb, retry)
		}
	}
	if r := st.reads.Load() - reads; r != 0 {
		t.Errorf("%d bad keys made %d store reads, want none", n, r)
	}
	if code, _, eb := get(plain); code != 200 {
		t.Errorf("a valid key from the limited address: %d %+v, want 200", code, eb)
	}
	// One token a second: after 1.5 s, one more failure is a plain 401, the next is 429
	// again, and says to wait the half second left (rounded up to 1).
	now = now.Add(1500 * time.Millisecond)
	if code, _, eb := get("nbk_00000000_" + strings.Repeat("B", 43)); code != 401 {
		t.Errorf("a failure after the bucket refilled one token: %d %+v, want 401", code, eb)
	}
	if code, retry, _ := get("nbk_00000000_" + strings.Repeat("B", 43)); code != 429 || retry != "1" {
		t.Errorf("the failure after it: %d, Retry-After %q; want 429, 1", code, retry)
	}
}

func TestFailureLimiter(t *testing.T) {
	if newFailureLimiter(0, 60) != nil {
		t.Fatal("a burst of 0 should be no limiter")
	}
	var none *failureLimiter
	if ok, _ := none.fail(net.ParseIP("192.0.2.1")); !ok {
		t.Fatal("no limiter refused a failure")
	}
	l := newFailureLimiter(3, 6) // 3, then one every 10 s
	now := time.Unix(1_763_805_600, 0)
	l.now = func() time.Time { return now }
	a, b := net.ParseIP("192.0.2.1"), net.ParseIP("192.0.2.2")
	for i, want := range []bool{true, true, true, false, false} {
		if ok, wait := l.fail(a); ok != want || (!ok && wait != 10*time.Second) {
			t.Fatalf("failure %d of a: %t, wait %v; want %t (wait 10s when refused)", i, ok, wait, want)
		}
	}
	if ok, _ := l.fail(b); !ok {
		t.Fatal("another address is limited by a's failures")
	}
	// IPv6: one /64 is one client; another /64 is another.
	for i, want := range []bool{true, true, true, false} {
		ip := net.ParseIP(fmt.Sprintf("2001:db8:1:2::%x", i+1))
		if ok, _ := l.fail(ip); ok != want {
			t.Fatalf("failure %d from the /64 2001:db8:1:2::: %t, want %t", i, ok, want)
		}
	}
	if ok, _ := l.fail(net.ParseIP("2001:db8:1:3::1")); !ok {
		t.Fatal("another /64 is limited by its neighbour's failures")
	}
	if ok, _ := l.fail(net.ParseIP("::ffff:192.0.2.1")); ok {
		t.Fatal("a's IPv4-mapped IPv6 form escaped a's limit")
	}

	// The table of addresses is capped: full of recent failures, new addresses share one
	// bucket; once the buckets have refilled, they are forgotten and new ones get their own.
	l = newFailureLimiter(3, 6)
	l.now = func() time.Time { return now }
	for i := range failureClients {
		l.fail(net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)))
	}
	for i, want := range []bool{true, true, true, false} { // four new addresses, one bucket
		if ok, _ := l.fail(net.IPv4(172, 16, 0, byte(i))); ok != want {
			t.Fatalf("new address %d with the table full: %t, want %t (the shared bucket)", i, ok, want)
		}
	}
	now = now.Add(30 * time.Second) // every bucket full again
	if ok, _ := l.fail(net.IPv4(172, 16, 1, 0)); !ok || len(l.clients) != 1 {
		t.Fatalf("after the buckets refilled: allowed %t, %d addresses tracked; want true, 1", ok, len(l.clients))
	}
}
