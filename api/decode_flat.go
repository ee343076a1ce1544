package api

import (
	"bytes"
	"hash/maphash"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/nextbest/nextbest/engine"
)

// The flat path is the first of decide's three decoders. Nearly every decide body a
// decision service sends has one shape: the known top-level keys, and a context of
// numbers, strings, booleans and nulls, with no escape in any string. decideFlat reads
// such a body in one pass, checking its syntax as it goes, where the fast path (decideFast)
// takes three: encoding/json's json.Valid, knownMembers, and go-json. It also builds the
// context map at its final size, and takes the keys, short strings and action IDs that
// recur from one request to the next from a small cache instead of allocating them
// again. On the load test's body it takes about half the fast path's time, with a
// quarter of its allocations (BenchmarkDecodeDecide: 3.2 µs and 18 against 6.4 µs and
// 73; docs/benchmarks.md).
//
// It gives exactly what decideStrict gives, or declines, and then decideFast and
// decideStrict decode the body as before: FuzzDecideFast holds all three to that. What it
// declines rather than decide for itself:
//   - anything that is not valid JSON (the scanner checks the syntax of all it reads),
//     so that every error is the strict path's;
//   - a string with an escape or a control byte, or with invalid UTF-8 (encoding/json
//     unescapes and replaces; the other paths do that);
//   - a nested object or array in the context, a null where the request wants a string,
//     an action ID that is not a string;
//   - a top-level key not in decideKeys byte for byte, or one twice (encoding/json folds
//     case and lets the last win; decideFast declines those too). A context key given
//     twice is kept, the last value winning, as encoding/json does.
//
// Numbers follow RFC 8259's grammar exactly and are converted by strconv.ParseFloat, as
// encoding/json converts them; one out of float64's range declines. limit and time use
// intLiteral and timeLiteral, as the fast path does.

// flatScanner reads a decide body from b at i.
type flatScanner struct {
	b []byte
	i int
}

// flatMember is one member of a context object before the map is built.
type flatMember struct {
	key   string
	value any
}

// decideFlat decodes a decide body of the common shape in one pass, or reports false.
func decideFlat(body []byte, words *wordCache) (engine.DecideRequest, bool) {
	var req engine.DecideRequest
	s := flatScanner{b: body}
	if !s.skip('{') {
		return req, false
	}
	var seen uint64
	if !s.skip('}') {
		for {
			s.space()
			name, ok := s.str()
			if !ok {
				return req, false
			}
			key := memberIndex(decideKeys, name)
			if key < 0 || seen&(1<<key) != 0 || !s.skip(':') {
				return req, false
			}
			seen |= 1 << key
			if !s.member(&req, key, words) {
				return req, false
			}
			if s.skip('}') {
				break
			}
			if !s.skip(',') {
				return req, false
			}
		}
	}
	s.space()
	if s.i != len(s.b) {
		return req, false
	}
	if req.Context == nil {
		req.Context = map[string]any{}
	}
	return req, true
}

// member reads the value of the top-level key (an index into decideKeys) into req.
func (s *flatScanner) member(req *engine.DecideRequest, key int, words *wordCache) bool {
	s.space()
	switch key {
	case keyCustomerID, keyChannel, keySource:
		v, ok := s.str()
		if !ok {
			return false
		}
		switch key {
		case keyCustomerID:
			req.CustomerID = engine.CustomerID(v) // one per customer: not worth caching
		case keyChannel:
			req.Channel = words.string(v)
		default:
			req.Source = words.string(v)
		}
		return true
	case keyContext:
		if s.literal("null") {
			return true
		}
		return s.context(req, words)
	case keyActions:
		return s.actions(req, words)
	case keyLimit:
		start := s.i
		if !s.literal("null") && !s.number() {
			return false
		}
		var ok bool
		req.Limit, ok = intLiteral(s.b[start:s.i])
		return ok
	case keyTime:
		start := s.i
		if !s.literal("null") {
			if _, ok := s.str(); !ok {
				return false
			}
		}
		var ok bool
		req.Time, ok = timeLiteral(s.b[start:s.i])
		return ok
	}
	return false
}

// context reads a context object of scalar members into req.Context, and its bytes into
// req.RawContext when it has members, as decideStrict does.
func (s *flatScanner) context(req *engine.DecideRequest, words *wordCache) bool {
	start := s.i
	if !s.skip('{') {
		return false
	}
	var buf [48]flatMember // the members, so that the map is made at its final size
	members := buf[:0]
	if !s.skip('}') {
		for {
			s.space()
			k, ok := s.str()
			if !ok || !s.skip(':') {
				return false
			}
			s.space()
			m := flatMember{key: words.string(k)}
			switch c := s.peek(); {
			case c == '"':
				v, ok := s.str()
				if !ok {
					return false
				}
				m.value = words.value(v)
			case c == 't' && s.literal("true"):
				m.value = true
			case c == 'f' && s.literal("false"):
				m.value = false
			case c == 'n' && s.literal("null"):
			case c == '-' || c >= '0' && c <= '9':
				numStart := s.i
				if !s.number() {
					return false
				}
				x, err := strconv.ParseFloat(string(s.b[numStart:s.i]), 64)
				if err != nil {
					return false
				}
				m.value = x
			default:
				return false // a nested value, or not JSON
			}
			members = append(members, m)
			if s.skip('}') {
				break
			}
			if !s.skip(',') {
				return false
			}
		}
	}
	ctx := make(map[string]any, len(members))
	for _, m := range members {
		ctx[m.key] = m.value // a key twice: the last wins, as in encoding/json
	}
	req.Context = ctx
	if len(ctx) > 0 {
		req.RawContext = bytes.Clone(s.b[start:s.i])
	}
	return true
}

// actions reads the candidate subset: null or an array of strings. An empty array gives
// no subset, as in decideStrict.
func (s *flatScanner) actions(req *engine.DecideRequest, words *wordCache) bool {
	if s.literal("null") {
		return true
	}
	if !s.skip('[') {
		return false
	}
	if s.skip(']') {
		return true
	}
	for {
		s.space()
		v, ok := s.str()
		if !ok {
			return false
		}
		req.Actions = append(req.Actions, engine.ActionID(words.string(v)))
		if s.skip(']') {
			return true
		}
		if !s.skip(',') {
			return false
		}
	}
}

// space skips JSON white space.
func (s *flatScanner) space() { s.i = skipSpace(s.b, s.i) }

// peek returns the byte at i, or 0 at the end.
func (s *flatScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// skip skips white space and then c, reporting whether c was there; it moves past the
// white space either way.
func (s *flatScanner) skip(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// literal reads lit (true, false or null) at i, or reports false and stays.
func (s *flatScanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// str reads a string with no escape at i and returns its bytes between the quotes, or
// reports false: not a string, an escape, a control byte (not JSON), invalid UTF-8, or
// no closing quote.
func (s *flatScanner) str() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	ascii := true
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := s.b[start:j]
			if !ascii && !utf8.Valid(v) {
				return nil, false
			}
			s.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// number reads a number by RFC 8259's grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
// or reports false.
func (s *flatScanner) number() bool {
	b, j := s.b, s.i
	digits := func() bool {
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j > k
	}
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case !digits():
		return false
	}
	if j < len(b) && b[j] == '.' {
		j++
		if !digits() {
			return false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if !digits() {
			return false
		}
	}
	s.i = j
	return true
}

// wordCache holds the short strings that recur in decide bodies (context keys, short
// values such as a plan or a device, channels, action IDs), each with its value boxed as
// an any, so that decoding them again allocates nothing. It is a fixed table of
// wordSlots entries; a string may sit in either of the two slots of the pair its hash
// picks (two-way set-associative), so two recurring strings whose hashes collide do not
// keep evicting each other (with one slot each, a 45-word catalog of keys and values had
// such a pair in about one server start in four: 45²/(2·4096)). A new string replaces
// the older of its pair (lookup), so the table never holds more
// than wordSlots strings of up to wordMax bytes (under 400 KB), whatever the clients
// send. Safe for concurrent use: each slot is an atomic pointer to an immutable entry.
type wordCache struct {
	seed  maphash.Seed
	slots [wordSlots]atomic.Pointer[word]
}

// word is one cached string and the same string as an any.
type word struct {
	s string
	v any
}

const (
	wordSlots = 4096 // a power of two
	wordMax   = 32   // longer strings are identifiers more often than words: not cached
)

// newWordCache returns an empty cache.
func newWordCache() *wordCache { return &wordCache{seed: maphash.MakeSeed()} }

// lookup returns b's entry, adding it if neither slot of its pair holds it.
func (c *wordCache) lookup(b []byte) *word {
	h := maphash.Bytes(c.seed, b)
	pair := c.slots[h&(wordSlots-2) : h&(wordSlots-2)+2]
	w0, w1 := pair[0].Load(), pair[1].Load()
	switch {
	case w0 != nil && w0.s == string(b):
		return w0
	case w1 != nil && w1.s == string(b):
		return w1
	}
	// The new string goes first and the first moves second: the string that was second,
	// the least recently added, leaves. Two strings that recur in one pair then stay,
	// whatever it held before. Two lookups racing here may lose or repeat an entry,
	// which costs an allocation later, never a wrong string: entries do not change.
	w := &word{s: string(b)}
	w.v = w.s
	if w0 != nil {
		pair[1].Store(w0)
	}
	pair[0].Store(w)
	return w
}

// string returns b as a string, from the cache if it is short.
func (c *wordCache) string(b []byte) string {
	if len(b) > wordMax {
		return string(b)
	}
	return c.lookup(b).s
}

// value returns b as a string in an any, from the cache if it is short.
func (c *wordCache) value(b []byte) any {
	if len(b) > wordMax {
		return string(b)
	}
	return c.lookup(b).v
}
