package api

import (
	"math"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Failed authentications are limited per client address: each address has a token bucket
// of burst tokens that refills at rate per second (AuthOptions.FailureBurst and
// FailuresPerMinute), and every failed authentication (a bad, unknown or revoked key, in a
// header or on the sign-in form) takes a token. With the bucket empty, failures are
// answered 429 with Retry-After instead of 401. A valid key is never refused for its address's failures: one bad client behind a
// NAT or proxy must not lock out the good ones it shares an address with. (Keys are 256
// random bits, so the limit is not what stops guessing; it makes a client that keeps
// sending a bad key back off, and costs nothing on the path of valid keys, which never
// reach it.)
//
// failureClients caps the addresses tracked; past it, addresses whose buckets are full
// again are forgotten, and if none is, new addresses share one bucket.
const failureClients = 10000

// failureLimiter is the per-address limit on failed authentications.
type failureLimiter struct {
	burst    float64 // tokens
	rate     float64 // tokens per second
	now      func() time.Time
	mu       sync.Mutex
	clients  map[netip.Addr]*bucket
	overflow bucket // shared by new addresses while clients is full of recent failures
}

// bucket is a token bucket: tokens as of at.
type bucket struct {
	tokens float64
	at     time.Time
}

// newFailureLimiter returns a limiter of burst failures refilled at perMinute, or nil
// (no limit) if burst is 0.
func newFailureLimiter(burst, perMinute int) *failureLimiter {
	if burst <= 0 || perMinute <= 0 {
		return nil
	}
	return &failureLimiter{burst: float64(burst), rate: float64(perMinute) / 60, now: time.Now, clients: map[netip.Addr]*bucket{}}
}

// fail counts a failed authentication from ip. It reports whether the failure is within
// the limit and, if not, how long until the next one would be. A nil limiter has no limit.
func (l *failureLimiter) fail(ip net.IP) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	addr := clientAddr(ip)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.clients[addr]
	if !ok {
		if len(l.clients) >= failureClients {
			l.sweep(now)
		}
		if len(l.clients) >= failureClients {
			b = &l.overflow
		} else {
			b = &bucket{tokens: l.burst, at: now}
			l.clients[addr] = b
		}
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep forgets the addresses whose buckets have refilled: they are as if new.
func (l *failureLimiter) sweep(now time.Time) {
	for addr, b := range l.clients {
		if l.refill(b, now); b.tokens >= l.burst {
			delete(l.clients, addr)
		}
	}
}

// refill adds the tokens b earned since b.at, up to the burst.
func (l *failureLimiter) refill(b *bucket, now time.Time) {
	if b.at.IsZero() {
		b.tokens, b.at = l.burst, now
		return
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.at = now
	}
}

// clientAddr is the address a client is limited by: its IPv4 address, or the /64 of its
// IPv6 address (one host usually holds a whole /64).
func clientAddr(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// retrySeconds is d in whole seconds, rounded up, at least 1: the value of Retry-After.
func retrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
