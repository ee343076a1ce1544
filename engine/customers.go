package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
)

// customerLocks serialises read-modify-write merges of the same profile.
type customerLocks struct {
	seed  maphash.Seed
	locks [64]sync.Mutex
}

func (l *customerLocks) lock(id CustomerID) *sync.Mutex {
	return &l.locks[maphash.String(l.seed, string(id))%uint64(len(l.locks))]
}

// PutCustomer merges attributes into a customer's profile with JSON merge-patch semantics
// (RFC 7386): a key with a value sets it, a key with null removes it, other keys stay.
func (e *Engine) PutCustomer(ctx context.Context, id CustomerID, attrs map[string]any) (Customer, error) {
	if e.proposing(ctx) {
		return proposeCall[Customer](ctx, e, callPutCustomer, customerArgs{ID: id, Attrs: attrs})
	}
	if !ValidID(string(id)) {
		return Customer{}, Invalid("invalid_id", "customer id %q: want 1-128 letters, digits or . _ : @ -", truncate(string(id), 40))
	}
	l := e.opts.Limits
	if err := CheckValues("attributes", attrs, l.MaxStringLength, 4); err != nil {
		return Customer{}, err
	}
	mu := e.custLocks.lock(id)
	mu.Lock()
	defer mu.Unlock()
	c, err := e.store.Customer(ctx, id)
	if errors.Is(err, ErrNotFound) {
		c = Customer{ID: id}
	} else if err != nil {
		return Customer{}, fmt.Errorf("merge customer %q: %w", id, err)
	}
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	for k, v := range attrs {
		if v == nil {
			delete(c.Attributes, k)
		} else {
			c.Attributes[k] = v
		}
	}
	if len(c.Attributes) > l.MaxAttributes {
		return Customer{}, errorf(ErrTooLarge, "too_many_fields", "attributes: the merged profile would hold %d attributes, at most %d", len(c.Attributes), l.MaxAttributes)
	}
	c.Updated = e.now(ctx).UTC()
	if err := e.store.PutCustomer(ctx, c); err != nil {
		return Customer{}, fmt.Errorf("merge customer %q: %w", id, err)
	}
	return c, nil
}

// Customer returns a customer's profile.
func (e *Engine) Customer(ctx context.Context, id CustomerID) (Customer, error) {
	c, err := e.store.Customer(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Customer{}, errorf(ErrNotFound, "unknown_customer", "no customer %q", truncate(string(id), 64))
	}
	return c, err
}
