package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lease is a leader lease: the key name in the lease bucket, holding the holder's name.
// Whoever creates the key holds the lease; the holder renews it every TTL/3 by updating
// the key at the revision it last wrote, and believes it holds the lease for TTL/2 from
// the start of its last successful write. The bucket's TTL (Options.LeaseTTL, the
// stream's MaxAge) expires the key TTL after that write, so the belief ends at least
// TTL/2 before anyone else can create the key: two holders overlap only if the servers'
// clocks run more than TTL/2 ahead of the holder's over one TTL (an expiry is judged by
// the server's wall clock against the write's timestamp). Another replica takes a dead
// holder's lease between TTL and TTL + TTL/3 after its last renewal; a holder that stops
// (Run's context ends) deletes the key at once.
//
// Why the bucket's TTL and not a per-key TTL (nats-server 2.11+, jetstream.KeyTTL): a
// per-key TTL is given to Create only; kv.Update in nats.go v1.56 takes no TTL, so the
// first renewal would write a revision without one that never expires. The bucket's TTL
// ages every revision from its own write, which is what renewing means; the cost is one
// TTL per bucket, so every lease in it shares Options.LeaseTTL.
type Lease struct {
	kv     jetstream.KeyValue
	name   string
	holder string
	ttl    time.Duration

	mu    sync.Mutex
	until time.Time // held before this instant (monotonic clock)
}

// NewLease returns the lease name in kv for holder. ttl must be the bucket's TTL
// (Options.LeaseTTL); Run checks it.
func NewLease(kv jetstream.KeyValue, name, holder string, ttl time.Duration) *Lease {
	return &Lease{kv: kv, name: name, holder: holder, ttl: ttl}
}

// Held reports whether this replica holds the lease now. It turns false by itself TTL/2
// after the last successful renewal began, even if Run is stuck in a call.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.until)
}

// setUntil sets the end of the belief.
func (l *Lease) setUntil(t time.Time) {
	l.mu.Lock()
	l.until = t
	l.mu.Unlock()
}

// Run competes for the lease and renews it while held, until ctx ends; then, if it holds
// the lease, it gives it up and deletes the key so that another replica takes over at
// once. It returns an error only if the bucket's TTL is not the lease's.
func (l *Lease) Run(ctx context.Context) error {
	st, err := l.kv.Status(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("lease %s: bucket status: %w", l.name, err)
	}
	if st.TTL() != l.ttl {
		return fmt.Errorf("lease %s: the bucket's TTL is %v, the lease's %v: they must be equal", l.name, st.TTL(), l.ttl)
	}
	var rev uint64 // the revision this replica last wrote, 0 when it holds nothing
	for {
		start := time.Now()
		rev = l.step(ctx, rev, start)
		select {
		case <-ctx.Done():
			l.release(ctx, rev)
			return nil
		case <-time.After(time.Until(start.Add(l.ttl / 3))):
		}
	}
}

// step makes one attempt to acquire (rev 0) or renew (rev > 0) the lease and returns the
// revision to renew next.
func (l *Lease) step(ctx context.Context, rev uint64, start time.Time) uint64 {
	actx, cancel := context.WithTimeout(ctx, l.ttl/3)
	defer cancel()
	var (
		next uint64
		err  error
	)
	if rev == 0 {
		next, err = l.kv.Create(actx, l.name, []byte(l.holder))
	} else {
		next, err = l.kv.Update(actx, l.name, []byte(l.holder), rev)
	}
	if err == nil {
		l.setUntil(start.Add(l.ttl / 2))
		return next
	}
	// Give up now. After a timeout the key may still be ours at rev, and retrying the
	// update at rev is safe: it succeeds only if nobody has written the key since.
	l.setUntil(time.Time{})
	if rev == 0 || errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) ||
		errors.Is(err, jetstream.ErrKeyExists) {
		return 0
	}
	return rev
}

// release stops believing and deletes the key if it is still at rev.
// ctx has ended; the delete gets TTL/3 of its own.
func (l *Lease) release(ctx context.Context, rev uint64) {
	l.setUntil(time.Time{})
	if rev == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.ttl/3)
	defer cancel()
	// An error leaves the key to expire after the TTL.
	_ = l.kv.Delete(ctx, l.name, jetstream.LastRevision(rev))
}

// Holder returns the name of the replica holding the lease, or "" when nobody does.
func (l *Lease) Holder(ctx context.Context) (string, error) {
	e, err := l.kv.Get(ctx, l.name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lease %s: holder: %w", l.name, err)
	}
	return string(e.Value()), nil
}
