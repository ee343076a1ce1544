package engine

import (
	"context"
	mrand "math/rand/v2"
	"time"
)

// decisionRNG borrows the random source of one decision; return it with releaseRNG.
//
// With Options.Seed = 0 it is a pooled PCG seeded from crypto/rand. With a seed, it is
// PCG(seed, h), where h is the 64-bit FNV-1a hash of the decision's own inputs: the
// customer, the event time (Unix nanoseconds), the channel, the source and the run (a
// campaign's id, or ""). Every draw of the decision (the Thompson scores, the selection
// probabilities, the random half of its id) is then a function of the seed, the inputs
// and the model state, whatever the order or concurrency of the requests: a replay or a
// simulation that sends the same requests in the same model states gets the same
// decisions (docs/simulation.md).
func (e *Engine) decisionRNG(cust CustomerID, t time.Time, channel, source, run string) *mrand.Rand {
	if e.opts.Seed == 0 {
		return e.rng()
	}
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	mix := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime
		}
		h ^= 0xff // field separator: ("ab", "c") and ("a", "bc") differ
		h *= prime
	}
	mix(string(cust))
	n := uint64(t.UnixNano())
	for i := 0; i < 8; i++ {
		h ^= n >> (8 * i) & 0xff
		h *= prime
	}
	mix(channel)
	mix(source)
	mix(run)
	return mrand.New(mrand.NewPCG(e.opts.Seed, h))
}

// releaseRNG returns a source borrowed with decisionRNG.
func (e *Engine) releaseRNG(r *mrand.Rand) {
	if e.opts.Seed == 0 {
		e.putRNG(r)
	}
}

// newDecisionID returns a decision id drawn from rng. With a seed, two decisions with the
// same inputs would draw the same id; the second then draws again, so ids stay unique
// (such a repeat is deterministic only when the requests are sequential).
func (e *Engine) newDecisionID(t time.Time, rng *mrand.Rand) DecisionID {
	id := NewDecisionID(t, rng)
	for e.opts.Seed != 0 && (e.recent.get(id) != nil || e.repl != nil && e.repl.served.get(id) != nil) {
		id = NewDecisionID(t, rng)
	}
	return id
}

// Flush waits until everything queued for the journal before the call (decisions logged
// without waiting, enrollments) is committed. Runs, the response timeouts and reports call
// it, so that what a scheduled job wrote is in the outbound feed when the job returns, and
// a report counts every decision made before it was asked for.
func (e *Engine) Flush(ctx context.Context) error {
	return e.journal.submit(ctx, &request{flush: true}).err
}
