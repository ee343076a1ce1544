package engine

import (
	"sync"
	"time"
)

// Clock is the one source of time for the engine's scheduled work (response timeouts,
// campaign runs, daily rollups) and for decisions that carry no time of their own.
type Clock interface {
	Now() time.Time
}

// SystemClock reads the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ManualClock is a clock that a replay or a simulation moves by hand, faster than real
// time. The zero value starts at the zero time; use NewManualClock.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a ManualClock set to t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t if t is later than the current time, and reports whether it moved.
// Time never goes backwards.
func (c *ManualClock) Set(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.After(c.now) {
		return false
	}
	c.now = t
	return true
}
