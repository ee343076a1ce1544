package store

import (
	"maps"
	"sync"

	"github.com/nextbest/nextbest/record"
)

// customerCache keeps decoded customer profiles, so that a decision does not read and
// decode its customer's profile from Badger every time. The store is the only writer of
// profiles: PutCustomer replaces the cached entry after its commit, Restore clears the
// cache. A read that raced with a write (gen moved on while it read Badger) is not
// cached, so the cache never holds a profile older than the store's.
type customerCache struct {
	mu  sync.Mutex
	max int
	gen uint64
	m   map[record.CustomerID]record.Customer // a zero Customer (empty ID): known absent
}

func newCustomerCache(max int) *customerCache {
	return &customerCache{max: max, m: make(map[record.CustomerID]record.Customer)}
}

// get returns a copy of the cached profile (its own top-level attribute map, which the
// caller may change), whether the cache knows the customer, and the generation to pass to
// fill after a miss. A known-absent customer comes back with an empty ID: decisions for
// customers without a profile (anonymous visitors) are common and would otherwise each
// search every level of the store.
func (c *customerCache) get(id record.CustomerID) (record.Customer, bool, uint64) {
	if c == nil || c.max <= 0 {
		return record.Customer{}, false, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cu, ok := c.m[id]
	if ok {
		cu.Attributes = maps.Clone(cu.Attributes)
	}
	return cu, ok, c.gen
}

// fillAbsent records that the store has no profile for id, read at generation gen.
func (c *customerCache) fillAbsent(id record.CustomerID, gen uint64) {
	if c == nil || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.put(id, record.Customer{})
	}
}

// fill caches a profile read from Badger at generation gen, unless a write came since.
func (c *customerCache) fill(cu record.Customer, gen uint64) {
	if c == nil || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.set(cu)
	}
}

// wrote records a committed write of cu.
func (c *customerCache) wrote(cu record.Customer) {
	if c == nil || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.set(cu)
}

// set stores a private copy of cu; callers hold mu.
func (c *customerCache) set(cu record.Customer) {
	cu.Attributes = maps.Clone(cu.Attributes)
	c.put(cu.ID, cu)
}

// put stores an entry; callers hold mu. A full cache drops an arbitrary entry (Go's map
// order): about as good as LRU for customers who return at random, and free of
// bookkeeping.
func (c *customerCache) put(id record.CustomerID, cu record.Customer) {
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = cu
}

// clear empties the cache (after a restore).
func (c *customerCache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}
