package engine

import (
	"slices"
	"sync"
)

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

// slim replaces a committed decision by the fields feedback and the response timeouts need,
// dropping the logged record (context, candidates, encoded JSON), which readers now find
// in the store. A full entry costs about 3 KB with 5 candidates, 6 KB with 20; a slim one
// about 0.7 KB, so the cache's 65,536 entries stay near 50 MB (docs/benchmarks.md).
func (r *recentDecisions) slim(d *Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[d.ID] != d {
		return
	}
	r.byID[d.ID] = &Decision{
		ID: d.ID, CustomerID: d.CustomerID, Channel: d.Channel, Time: d.Time, Arm: d.Arm, Experiment: d.Experiment,
		Source: d.Source, Schema: d.Schema, Features: d.Features, Chosen: d.Chosen, NoAction: d.NoAction,
		Reason: d.Reason, Deadline: d.Deadline, Candidates: chosenCandidates(d),
	}
}

// chosenCandidates returns the candidates of the actions a decision in an experiment
// offered: what the experiment's bookkeeping reads of an answer (the value logged for the
// action, tracker.response). Outside an experiment nothing reads them.
func chosenCandidates(d *Decision) []Candidate {
	if d.Experiment == "" {
		return nil
	}
	var out []Candidate
	for _, c := range d.Candidates {
		if slices.Contains(d.Chosen, c.ID) {
			out = append(out, c)
		}
	}
	return out
}

func (r *recentDecisions) forget(id DecisionID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byID, id)
}
