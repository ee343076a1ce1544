package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/nextbest/nextbest/record"
)

func TestCustomerCacheReadsWrites(t *testing.T) {
	s := openTest(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for range 2 { // the second read comes from the cache's record of absence
		if _, err := s.Customer(ctx, "c1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("absent customer: err %v", err)
		}
	}
	put := func(plan string) {
		t.Helper()
		if err := s.PutCustomer(ctx, record.Customer{ID: "c1", Attributes: map[string]any{"plan": plan}}); err != nil {
			t.Fatal(err)
		}
	}
	put("basic")
	c, err := s.Customer(ctx, "c1")
	if err != nil || c.Attributes["plan"] != "basic" {
		t.Fatalf("got %v, %v", c, err)
	}
	c.Attributes["plan"] = "changed by the caller" // must not reach the cache
	c.Attributes["extra"] = 1.0
	if c, _ := s.Customer(ctx, "c1"); c.Attributes["plan"] != "basic" || len(c.Attributes) != 1 {
		t.Fatalf("a caller's change reached the cache: %v", c.Attributes)
	}
	put("premium")
	if c, _ := s.Customer(ctx, "c1"); c.Attributes["plan"] != "premium" {
		t.Fatalf("after a write: %v", c.Attributes)
	}
	// The cached profile is the stored one: a fresh store on the same data agrees.
	dir := t.TempDir()
	s2 := openTest(t, dir)
	if err := s2.PutCustomer(ctx, record.Customer{ID: "c2", Attributes: map[string]any{"n": 2.0}}); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s3 := openTest(t, dir)
	t.Cleanup(func() { s3.Close() })
	if c, err := s3.Customer(ctx, "c2"); err != nil || c.Attributes["n"] != 2.0 {
		t.Fatalf("reopened: %v, %v", c, err)
	}
}

// TestCustomerCacheStaleFill plays a read that raced with a write: the read began before
// the write (generation gen0) and fills after it; the cache must keep the write.
func TestCustomerCacheStaleFill(t *testing.T) {
	c := newCustomerCache(10)
	_, ok, gen0 := c.get("c1")
	if ok {
		t.Fatal("hit in an empty cache")
	}
	c.wrote(record.Customer{ID: "c1", Attributes: map[string]any{"v": "new"}})
	c.fill(record.Customer{ID: "c1", Attributes: map[string]any{"v": "old"}}, gen0)
	if cu, ok, _ := c.get("c1"); !ok || cu.Attributes["v"] != "new" {
		t.Fatalf("stale fill won: %v %v", cu, ok)
	}
	// The same for a record of absence: a write after the read began wins.
	_, _, gen1 := c.get("c2")
	c.wrote(record.Customer{ID: "c2", Attributes: map[string]any{"v": "new"}})
	c.fillAbsent("c2", gen1)
	if cu, ok, _ := c.get("c2"); !ok || cu.ID != "c2" {
		t.Fatalf("stale absence won: %v %v", cu, ok)
	}
	c.clear()
	if _, ok, _ := c.get("c1"); ok {
		t.Fatal("entry survived clear")
	}
}

func TestCustomerCacheBound(t *testing.T) {
	c := newCustomerCache(3)
	for i := range 10 {
		c.wrote(record.Customer{ID: record.CustomerID(fmt.Sprint("c", i))})
	}
	if n := len(c.m); n != 3 {
		t.Fatalf("%d entries, bound 3", n)
	}
	if _, ok, _ := c.get("c9"); !ok {
		t.Fatal("the newest entry was evicted")
	}
}

// TestCustomerCacheConcurrent writes and reads profiles from many goroutines (run with
// -race); each customer's writes are serialised, as the engine serialises them, and at
// the end every read returns the last write.
func TestCustomerCacheConcurrent(t *testing.T) {
	s := openTest(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 50 {
				id := record.CustomerID(fmt.Sprint("c", w))
				if err := s.PutCustomer(ctx, record.Customer{ID: id, Attributes: map[string]any{"i": float64(i)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				if c, err := s.Customer(ctx, record.CustomerID(fmt.Sprint("c", w))); err == nil {
					c.Attributes["scribble"] = true
				}
			}
		}()
	}
	wg.Wait()
	for w := range 4 {
		c, err := s.Customer(ctx, record.CustomerID(fmt.Sprint("c", w)))
		if err != nil || c.Attributes["i"] != 49.0 || c.Attributes["scribble"] != nil {
			t.Errorf("customer %d: %v, %v", w, c.Attributes, err)
		}
	}
}
