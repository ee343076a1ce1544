package api

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
)

// rateLimiter lets each key make at most n requests per fixed one-second window (a Unix
// second), n being the limit of the key's role; the requests over it are answered 429 with
// Retry-After: 1, the whole seconds to the next window (rounded up). Keyless requests
// under --insecure-local (localPrincipal) and roles without a limit are not limited.
//
// It replaces fiber's limiter middleware (one per role), which took a mutex, went through
// a storage interface and allocated on every request, and set three X-RateLimit headers
// on every answer: here a request costs a sync.Map load, a clock read and, under the
// limit, one compare-and-swap, with no lock and no allocation. The state is one entry per
// key that has made a request since the start, never removed: keys are API keys, which
// an admin makes (a principal exists only for a key that verified), not customers, so
// there are few. A key's role never changes, so its limit is read once, into its entry.
type rateLimiter struct {
	limits map[access.Role]int
	now    func() time.Time
	keys   sync.Map // access.KeyID -> *keyWindow
}

// keyWindow is one key's limit and its count in the current window.
type keyWindow struct {
	limit uint32        // requests per window; 0: unlimited
	state atomic.Uint64 // window (Unix second) << 32 | requests let through in it
}

// errRateLimited becomes 429 rate_limited.
var errRateLimited = fiber.NewError(fiber.StatusTooManyRequests, "rate limited")

// newRateLimiter returns a limiter for limits (requests per second, by role; 0 or absent
// means none), or nil if no role has a limit.
func newRateLimiter(limits map[access.Role]int) *rateLimiter {
	l := &rateLimiter{limits: map[access.Role]int{}, now: time.Now}
	for role, n := range limits {
		if n > 0 {
			l.limits[role] = n
		}
	}
	if len(l.limits) == 0 {
		return nil
	}
	return l
}

// handle is the middleware; it runs after Authenticate.
func (l *rateLimiter) handle(c *fiber.Ctx) error {
	p := PrincipalOf(c)
	if p == nil || p.KeyID == localPrincipal {
		return c.Next()
	}
	if !l.allow(p.KeyID, p.Role) {
		c.Set(fiber.HeaderRetryAfter, "1")
		return errRateLimited
	}
	return c.Next()
}

// allow counts a request of key id, of role, and reports whether it is within the limit.
func (l *rateLimiter) allow(id access.KeyID, role access.Role) bool {
	w, ok := l.keys.Load(id)
	if !ok {
		n := min(l.limits[role], math.MaxUint32)
		w, _ = l.keys.LoadOrStore(id, &keyWindow{limit: uint32(n)})
	}
	return w.(*keyWindow).allow(uint32(l.now().Unix()))
}

// allow counts a request in window second and reports whether it is within the limit.
// A request over the limit is not counted, so that a flood of them only reads the state.
func (w *keyWindow) allow(second uint32) bool {
	if w.limit == 0 {
		return true
	}
	for {
		old := w.state.Load()
		next := uint64(second)<<32 | 1
		if uint32(old>>32) == second {
			if uint32(old) >= w.limit {
				return false
			}
			next = old + 1
		}
		if w.state.CompareAndSwap(old, next) {
			return true
		}
	}
}
