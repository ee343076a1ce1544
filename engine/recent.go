package engine

import "sync"

// recentDecisions keeps the newest decisions in memory so feedback on them needs no store
// read. It is a fixed-size ring: the oldest entry is evicted first.
type recentDecisions struct {
	mu   sync.Mutex
	byID map[DecisionID]*Decision
	ring []DecisionID
	next int
}

func newRecentDecisions(size int) *recentDecisions {
	return &recentDecisions{byID: make(map[DecisionID]*Decision, size), ring: make([]DecisionID, size)}
}

func (r *recentDecisions) put(d *Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.ring[r.next]; old != "" {
		delete(r.byID, old)
	}
	r.ring[r.next] = d.ID
	r.byID[d.ID] = d
	r.next = (r.next + 1) % len(r.ring)
}

func (r *recentDecisions) get(id DecisionID) *Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}

func (r *recentDecisions) forget(id DecisionID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byID, id)
}
