package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/nextbest/nextbest/experiments"
)

// armCache remembers each customer's arm of the running experiment so that a customer
// assigned a moment ago (whose enrollment is not committed yet) keeps the same arm. It is
// bounded: past its size it forgets arbitrary entries, which the store then answers for.
type armCache struct {
	seed   maphash.Seed
	shards [32]struct {
		sync.Mutex
		m map[armKey]string
	}
	perShard int
}

type armKey struct {
	exp  ExperimentID
	cust CustomerID
}

func newArmCache(size int) *armCache {
	c := &armCache{seed: maphash.MakeSeed(), perShard: max(1, size/32)}
	for i := range c.shards {
		c.shards[i].m = map[armKey]string{}
	}
	return c
}

func (c *armCache) shard(k armKey) int {
	return int(maphash.String(c.seed, string(k.cust)) % uint64(len(c.shards)))
}

func (c *armCache) get(k armKey) (string, bool) {
	s := &c.shards[c.shard(k)]
	s.Lock()
	defer s.Unlock()
	a, ok := s.m[k]
	return a, ok
}

// setIfAbsent stores arm unless the customer already has one, and returns the arm kept.
func (c *armCache) setIfAbsent(k armKey, arm string) string {
	s := &c.shards[c.shard(k)]
	s.Lock()
	defer s.Unlock()
	if a, ok := s.m[k]; ok {
		return a
	}
	if len(s.m) >= c.perShard {
		for old := range s.m {
			delete(s.m, old)
			break
		}
	}
	s.m[k] = arm
	return arm
}

// assignment is a customer's place in the running experiment.
type assignment struct {
	exp    *experimentState
	arm    string
	policy experiments.Policy
	fresh  bool // assigned just now, by the hash (not read from the cache or the store)
}

// assign finds (or makes) a customer's arm in the running experiment. It returns nil when
// no experiment runs at t or the customer is outside its population. A new customer is
// assigned by hashing (salt, customer id) into 10,000 buckets (experiments.Bucket) and
// looking the bucket up in the arms' ranges; the first assignment is stored and kept, so
// changing weights never moves an assigned customer.
func (e *Engine) assign(ctx context.Context, t time.Time, cust CustomerID, env *Env, machine *vm.VM) (*assignment, error) {
	s := e.running(t)
	if s == nil {
		return nil, nil
	}
	key := armKey{s.exp.ID, cust}
	arm, ok := e.arms.get(key)
	fresh := false
	if !ok {
		enr, err := e.store.Enrollment(ctx, s.exp.ID, cust)
		switch {
		case err == nil:
			arm = e.arms.setIfAbsent(key, enr.Arm)
		case errors.Is(err, ErrNotFound):
			in, err := s.population.Eval(machine, env)
			if err != nil || !in {
				return nil, nil // outside the population (an evaluation error counts as outside)
			}
			a, ok := experiments.Assign(s.exp.Ranges, experiments.Bucket(s.exp.Salt, string(cust)))
			if !ok {
				return nil, fmt.Errorf("experiment %q: bucket outside every range", s.exp.ID)
			}
			arm = e.arms.setIfAbsent(key, a)
			fresh = arm == a
		default:
			return nil, fmt.Errorf("read enrollment: %w", err)
		}
	}
	a, ok := armOf(&s.exp, arm)
	if !ok {
		return nil, fmt.Errorf("experiment %q: customer %q is in unknown arm %q", s.exp.ID, cust, arm)
	}
	return &assignment{exp: s, arm: arm, policy: a.Policy, fresh: fresh}, nil
}

// Assignment returns a customer's arm in an experiment: the stored one, or, for a
// customer not assigned yet, the arm the hash would give (marked as not yet stored).
func (e *Engine) Assignment(ctx context.Context, id ExperimentID, cust CustomerID) (AssignmentInfo, error) {
	x, err := e.Experiment(id)
	if err != nil {
		return AssignmentInfo{}, err
	}
	if !ValidID(string(cust)) {
		return AssignmentInfo{}, Invalid("invalid_id", "customer id %q is malformed", truncate(string(cust), 40))
	}
	bucket := experiments.Bucket(x.Salt, string(cust))
	info := AssignmentInfo{Experiment: id, Customer: cust, Bucket: bucket}
	enr, err := e.store.Enrollment(ctx, id, cust)
	switch {
	case err == nil:
		info.Arm, info.Stored, info.Enrollment = enr.Arm, true, &enr
	case errors.Is(err, ErrNotFound):
		if arm, ok := e.arms.get(armKey{id, cust}); ok {
			info.Arm, info.Stored = arm, true
		} else {
			info.Arm, _ = experiments.Assign(x.Ranges, bucket)
		}
	default:
		return AssignmentInfo{}, err
	}
	if a, ok := armOf(&x, info.Arm); ok {
		info.Policy = string(a.Policy)
	}
	return info, nil
}

// AssignmentInfo answers GET /v1/experiments/{id}/assignments/{customer_id}.
type AssignmentInfo struct {
	Experiment ExperimentID `json:"experiment"`
	Customer   CustomerID   `json:"customer_id"`
	Bucket     int          `json:"bucket"`
	Arm        string       `json:"arm"`
	Policy     string       `json:"policy"`
	Stored     bool         `json:"stored"` // false: not assigned yet; this is the arm the hash gives today
	Enrollment *Enrollment  `json:"enrollment,omitempty"`
}
