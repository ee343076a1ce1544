package engine

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"sync"
	"time"
)

// ContactPolicy applies to every arm alike: per-channel caps per customer per window, and
// suppression after repeated negative responses.
type ContactPolicy struct {
	Caps map[string]Cap `yaml:"caps"`
	// SuppressAfter negative responses (rejected or ignored; not timeouts) within
	// SuppressWindow stop every contact until the oldest of them leaves the window. 0 = off.
	SuppressAfter  int           `yaml:"suppress_after"`
	SuppressWindow time.Duration `yaml:"suppress_window"`
	// SuppressChannels are the channels suppression applies to: those where we start the
	// contact. A customer who comes to the web site or calls is still served there.
	SuppressChannels []string `yaml:"suppress_channels"`
}

// Cap allows at most Max contacts on a channel per customer in any Window.
type Cap struct {
	Max    int           `yaml:"max"`
	Window time.Duration `yaml:"window"`
}

// DefaultContactPolicy caps outbound channels, as marketing departments do, and leaves
// inbound channels (the customer came to us) uncapped.
func DefaultContactPolicy() ContactPolicy {
	week := 7 * 24 * time.Hour
	return ContactPolicy{
		Caps: map[string]Cap{
			"email": {Max: 2, Window: week},
			"sms":   {Max: 2, Window: week},
		},
		SuppressAfter:    3,
		SuppressWindow:   30 * 24 * time.Hour,
		SuppressChannels: []string{"email", "sms"},
	}
}

func (p *ContactPolicy) validate() error {
	for ch, c := range p.Caps {
		if !ValidID(ch) || c.Max < 0 || c.Window <= 0 {
			return fmt.Errorf("contact_policy.caps.%s: max must be >= 0 and window > 0", ch)
		}
	}
	if p.SuppressAfter < 0 || (p.SuppressAfter > 0 && p.SuppressWindow <= 0) {
		return fmt.Errorf("contact_policy: suppress_after must be >= 0, with a positive suppress_window")
	}
	return nil
}

// horizon is the longest window the policy looks back over.
func (p *ContactPolicy) horizon() time.Duration {
	h := p.SuppressWindow
	for _, c := range p.Caps {
		h = max(h, c.Window)
	}
	return h
}

// contactBook keeps recent contact histories in memory, loaded from the store on first use
// and kept current by Decide and the journal. It is bounded like armCache.
type contactBook struct {
	seed   maphash.Seed
	shards [32]struct {
		sync.Mutex
		m map[CustomerID][]ContactEvent
	}
	perShard int
}

func newContactBook(size int) *contactBook {
	b := &contactBook{seed: maphash.MakeSeed(), perShard: max(1, size/32)}
	for i := range b.shards {
		b.shards[i].m = map[CustomerID][]ContactEvent{}
	}
	return b
}

// check decides whether a contact on channel at t is allowed, and if so records it (so
// two concurrent decisions cannot both take the last slot). It returns "" when allowed,
// or the reason it is not.
func (e *Engine) checkContact(ctx context.Context, cust CustomerID, channel string, t time.Time, record bool) (string, error) {
	p := &e.opts.ContactPolicy
	capc, capped := p.Caps[channel]
	suppress := p.SuppressAfter > 0 && slices.Contains(p.SuppressChannels, channel)
	if !capped && !suppress {
		return "", nil // nothing to enforce; the journal still keeps the history
	}
	b := e.contacts
	s := &b.shards[maphash.String(b.seed, string(cust))%uint64(len(b.shards))]
	s.Lock()
	defer s.Unlock()
	hist, ok := s.m[cust]
	if !ok {
		var err error
		if hist, err = e.store.Contacts(ctx, cust, t.Add(-p.horizon())); err != nil {
			return "", fmt.Errorf("read contact history: %w", err)
		}
		if len(s.m) >= b.perShard {
			for old := range s.m {
				delete(s.m, old)
				break
			}
		}
	}
	// Drop what has left every window.
	cut := t.Add(-p.horizon())
	i := 0
	for i < len(hist) && hist[i].Time.Before(cut) {
		i++
	}
	hist = hist[i:]
	negatives, sent := 0, 0
	for _, h := range hist {
		switch {
		case h.Negative && suppress && !h.Time.Before(t.Add(-p.SuppressWindow)):
			negatives++
		case !h.Negative && capped && h.Channel == channel && !h.Time.Before(t.Add(-capc.Window)):
			sent++
		}
	}
	reason := ""
	switch {
	case suppress && negatives >= p.SuppressAfter:
		reason = fmt.Sprintf("suppressed: %d negative responses in %s", negatives, p.SuppressWindow)
	case capped && sent >= capc.Max:
		reason = fmt.Sprintf("cap: %d %s contacts in %s", sent, channel, capc.Window)
	case record:
		hist = insertByTime(hist, ContactEvent{Customer: cust, Time: t, Channel: channel})
	}
	s.m[cust] = hist
	return reason, nil
}

// noteNegative adds a negative response to a customer's in-memory history.
func (e *Engine) noteNegative(cust CustomerID, t time.Time) {
	b := e.contacts
	s := &b.shards[maphash.String(b.seed, string(cust))%uint64(len(b.shards))]
	s.Lock()
	defer s.Unlock()
	if hist, ok := s.m[cust]; ok {
		s.m[cust] = insertByTime(hist, ContactEvent{Customer: cust, Time: t, Negative: true})
	}
}

// insertByTime inserts ev keeping the history in time order (events may carry their own
// times, so they do not always arrive in order).
func insertByTime(hist []ContactEvent, ev ContactEvent) []ContactEvent {
	i := sort.Search(len(hist), func(i int) bool { return hist[i].Time.After(ev.Time) })
	hist = append(hist, ContactEvent{})
	copy(hist[i+1:], hist[i:])
	hist[i] = ev
	return hist
}
