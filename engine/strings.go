package engine

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// Strings is a store's dictionary of the names decision records repeat: action ids,
// channels, arms, experiments, sources, schema hashes, filter reasons and details,
// no-action reasons and context keys. A record of version 4 (decisioncodec.go) names each
// by a small number instead of spelling it: with 20 candidates and 30 context fields that
// is about 50 names a decision, 1 or 2 bytes each instead of 5 to 64.
//
// The dictionary only grows: a number, once given, means the same string for the life of
// the store. A new string gets the next number while a record is encoded (Ref, by the
// deciding goroutine) and is pending until the store has written it; the store writes the
// pending strings in the same commit as the records that use them, before them (Pending,
// Stored), and reads them all when it opens (NewStrings). A record is committed after it
// was encoded, so every number it uses was pending, or already written, when its commit
// began.
//
// It holds at most MaxStrings strings of at most MaxStringLen bytes; context keys may use
// only the first half, so that a client sending ever new keys cannot crowd out the action
// ids. A string it cannot hold is spelt out in the record.
type Strings struct {
	// Lookups read base, an immutable map, without a lock. Strings numbered since it was
	// built are in recent, under mu, until recent outgrows an eighth of base and the two
	// are merged into a new base: each string is copied a bounded number of times. Up to
	// smallStrings, every new string is merged at once (a copy of a few thousand entries),
	// so that a dictionary of a catalog's names is read without a lock.
	base   atomic.Pointer[map[string]uint32]
	mu     sync.Mutex
	recent map[string]uint32
	strs   atomic.Pointer[[]string] // strs[id-1]; appended under mu, never rewritten
	// stored is how many of the strings the store has written; the rest are pending.
	stored atomic.Int64
}

// The dictionary's bounds: 65,536 strings of up to 128 bytes are at most 8 MB in memory
// and number in at most 3 bytes (uvarint of id<<1).
const (
	MaxStrings   = 1 << 16
	MaxStringLen = 128

	smallStrings = 4096
)

// A nil *Strings is an empty dictionary that numbers nothing: every string is spelt out.

// NewStrings returns the dictionary holding stored, the strings numbered 1, 2, ... in
// order, all of them written.
func NewStrings(stored []string) (*Strings, error) {
	if len(stored) > MaxStrings {
		return nil, fmt.Errorf("decision strings: %d stored, at most %d", len(stored), MaxStrings)
	}
	base := make(map[string]uint32, len(stored))
	for i, str := range stored {
		if _, dup := base[str]; dup {
			return nil, fmt.Errorf("decision strings: %q stored twice", str)
		}
		base[str] = uint32(i + 1)
	}
	strs := slices.Clone(stored)
	s := &Strings{recent: map[string]uint32{}}
	s.base.Store(&base)
	s.strs.Store(&strs)
	s.stored.Store(int64(len(strs)))
	return s, nil
}

// Len returns how many strings the dictionary holds, pending ones included.
func (s *Strings) Len() int {
	if s == nil {
		return 0
	}
	return len(*s.strs.Load())
}

// String returns the string numbered id.
func (s *Strings) String(id uint32) (string, bool) {
	if s == nil {
		return "", false
	}
	strs := *s.strs.Load()
	if id == 0 || int64(id) > int64(len(strs)) {
		return "", false
	}
	return strs[id-1], true
}

// Ref returns the number of str, giving it the next one if it has none and the dictionary
// holds fewer than limit strings; 0 if str is to be spelt out.
func (s *Strings) Ref(str string, limit int) uint32 {
	if s == nil {
		return 0
	}
	if id, ok := (*s.base.Load())[str]; ok {
		return id
	}
	return s.ref(str, nil, limit)
}

// refBytes is Ref of string(b), without making the string unless it is new.
func (s *Strings) refBytes(b []byte, limit int) uint32 {
	if s == nil {
		return 0
	}
	if id, ok := (*s.base.Load())[string(b)]; ok {
		return id
	}
	return s.ref("", b, limit)
}

// ref looks str (or b) up in recent, and numbers it if it is new.
func (s *Strings) ref(str string, b []byte, limit int) uint32 {
	if max(len(str), len(b)) > MaxStringLen {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b != nil {
		if id, ok := s.recent[string(b)]; ok {
			return id
		}
		str = string(b)
	} else if id, ok := s.recent[str]; ok {
		return id
	}
	base := *s.base.Load()
	if id, ok := base[str]; ok { // merged into base since the caller looked
		return id
	}
	old := *s.strs.Load()
	if len(old) >= limit {
		return 0
	}
	// Appending writes past every published length only: a reader of an earlier slice
	// never sees the new element.
	strs := append(old, str)
	id := uint32(len(strs))
	s.strs.Store(&strs)
	s.recent[str] = id
	if len(base) < smallStrings || len(s.recent) > len(base)/8 {
		merged := make(map[string]uint32, len(base)+len(s.recent))
		maps.Copy(merged, base)
		maps.Copy(merged, s.recent)
		s.base.Store(&merged)
		s.recent = map[string]uint32{}
	}
	return id
}

// Pending returns the strings not yet written, and the number of the first.
func (s *Strings) Pending() (first uint32, strs []string) {
	all := *s.strs.Load()
	n := int(s.stored.Load())
	if n >= len(all) {
		return 0, nil
	}
	return uint32(n + 1), all[n:]
}

// Stored records that the strings up to number n are written.
func (s *Strings) Stored(n uint32) {
	for {
		old := s.stored.Load()
		if int64(n) <= old || s.stored.CompareAndSwap(old, int64(n)) {
			return
		}
	}
}
