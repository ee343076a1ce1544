package api

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// TestDecodeFlatTakes checks which bodies the flat path takes: FuzzDecideFast only checks
// that what it takes is right, and would pass if it took nothing. Each body it declines
// goes on to the fast path and then the strict one; the second column says whether the
// strict path accepts it, and what it takes must be accepted there.
func TestDecodeFlatTakes(t *testing.T) {
	for _, tc := range []struct {
		body         string
		flat, strict bool
	}{
		{string(typicalDecideBody()), true, true},
		{`{"customer_id": "c1", "channel": "web"}`, true, true},
		{"\t{ \"customer_id\" :\"c1\" ,\n\"context\" : { \"a\" : 1 , \"b\":\"x\" } , \"actions\" : [ \"a1\" , \"a2\" ] }\r\n", true, true},
		{`{"customer_id":"c1","channel":"web","context":null,"actions":["a","b"],"limit":2,"time":"2026-11-22T10:00:00+01:00","source":"outbound"}`, true, true},
		{`{}`, true, true},
		{`{"context": {}, "actions": [], "limit": null, "time": null}`, true, true},
		{`{"context": {"n": -0, "m": 0.5e-3, "k": 12E+2, "z": 1e-400, "t": true, "f": false, "u": null, "s": "été 😀"}}`, true, true},
		{`{"context": {"a": 1, "a": "again"}}`, true, true}, // the last wins, as in encoding/json
		{`{"limit": -0}`, true, true},
		// Declined, and the fast path takes them:
		{`{"customer_id": "c\u00e9\"1"}`, false, true},        // an escape
		{`{"context": {"a": {"b": [1, 2]}}}`, false, true},    // nested
		{`{"context": {"s": "` + "\xff" + `"}}`, false, true}, // invalid UTF-8: replaced
		{`{"customer_id": null}`, false, true},                // null for a string
		// Declined, and refused by the strict path:
		{`{"context": {"n": 01}}`, false, false},    // a leading zero
		{`{"context": {"n": 1.}}`, false, false},    // no digit after the point
		{`{"context": {"n": .5}}`, false, false},    // no digit before it
		{`{"context": {"n": +1}}`, false, false},    // a plus sign
		{`{"context": {"n": 1e}}`, false, false},    // no exponent digits
		{`{"context": {"n": -}}`, false, false},     // a sign alone
		{`{"context": {"n": 1e999}}`, false, false}, // out of range
		{`{"context": {"b": tru}}`, false, false},
		{`{"context": {"b": truex}}`, false, false},
		{`{"context": {"a": 1,}}`, false, false},
		{`{"context": {"a" 1}}`, false, false},
		{`{"context": {"a": 1}`, false, false},
		{`{"context": {"s": "a` + "\n" + `b"}}`, false, false}, // a control byte
		{`{"customer_id": "c1"} {}`, false, false},
		{`{"customer_id": "c1",}`, false, false},
		{`{"customer_id": "c1"`, false, false},
		{`{"customer_id": "c1", "colour": "red"}`, false, false},
		{`{"channel": "web", "channel": "app"}`, false, true},
		{`{"limit": 1.0}`, false, false},
		{`{"limit": "1"}`, false, false},
		{`{"time": "yesterday"}`, false, false},
		{`{"actions": ["a", 1]}`, false, false},
		{`{"actions": ["a",]}`, false, false},
		{``, false, false},
		{`null`, false, true},
	} {
		words := newWordCache()
		got, ok := decideFlat([]byte(tc.body), words)
		want, err := decideStrict([]byte(tc.body))
		if ok != tc.flat || (err == nil) != tc.strict {
			t.Errorf("%q: flat path %t, strict path accepts %t (%v); want %t and %t", tc.body, ok, err == nil, err, tc.flat, tc.strict)
			continue
		}
		if ok {
			checkFastPath(t, []byte(tc.body), func([]byte) (any, bool) { return got, true },
				func([]byte) (any, error) { return want, err },
				func(b []byte) (any, error) { return decideRequest(b, words) })
		}
	}
}

// TestWordCache checks that the cache always gives back the string it was given,
// however the strings collide in its slots and however many goroutines share it, and
// that a string it holds costs no allocation.
func TestWordCache(t *testing.T) {
	words := newWordCache()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 20000 { // five times the slots: most lookups evict another string
				n := r.IntN(wordMax + 8)
				b := make([]byte, n)
				for i := range b {
					b[i] = 'a' + byte(r.IntN(3)) // few letters: many repeats
				}
				if s := words.string(b); s != string(b) {
					t.Errorf("string(%q) = %q", b, s)
					return
				}
				if v := words.value(b); v != string(b) {
					t.Errorf("value(%q) = %v", b, v)
					return
				}
			}
		})
	}
	wg.Wait()

	key := []byte("num_01")
	first := words.string(key)
	if again := words.string(key); unsafe.StringData(again) != unsafe.StringData(first) {
		t.Error("a cached string was allocated again")
	}
	if n := testing.AllocsPerRun(100, func() { _ = words.value(key) }); n != 0 {
		t.Errorf("a cached value costs %v allocations, want 0", n)
	}
	// Two strings whose hashes collide both stay cached, whatever their pair of slots
	// held before them.
	fresh := newWordCache()
	home := maphash.Bytes(fresh.seed, key) & (wordSlots - 1)
	var same [][]byte // two other strings with key's hash, modulo the table's size
	for i := 0; len(same) < 2; i++ {
		if b := []byte(fmt.Sprintf("k%d", i)); maphash.Bytes(fresh.seed, b)&(wordSlots-1) == home {
			same = append(same, b)
		}
	}
	for _, b := range [][]byte{same[0], key, same[1]} {
		fresh.value(b)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = fresh.value(key), fresh.value(same[1]) }); n != 0 {
		t.Errorf("%q and %q collide and cost %v allocations, want 0", key, same[1], n)
	}

	long := []byte(strings.Repeat("x", wordMax+1))
	if n := testing.AllocsPerRun(100, func() { _ = words.string(long) }); n != 1 {
		t.Errorf("a string over wordMax costs %v allocations, want 1 (not cached)", n)
	}
	if s := fmt.Sprint(words.value(long)); s != string(long) {
		t.Errorf("value of a long string = %q", s)
	}
}
