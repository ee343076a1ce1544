package features

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Auto encoder limits.
const (
	MinAutoBits  = 1       // NewAutoEncoder raises smaller bits to this
	MaxAutoBits  = 30      // NewAutoEncoder lowers larger bits to this
	MaxAutoDepth = 4       // levels of nested objects flattened below a source; deeper ones are skipped
	MaxAutoStats = 1 << 16 // numeric names with statistics; later names encode as 0
	MaxAutoNames = 1 << 16 // dimensions whose feature names Observe remembers
)

// autoEncoder is the state of an encoder without a schema. Its fields are guarded by
// Encoder.mu.
type autoEncoder struct {
	bits    int
	buckets uint64 // dimensions after the intercept: 2^bits - 1
	stats   map[uint64]*stat
	names   map[int32]autoName
	// dims mirrors names with one entry per dimension when there are at most
	// maxIndexedDims, so that the check that Observe makes for every feature,
	// remembers, needs no map lookup. It is nil for larger encoders.
	dims []dimName

	// EncodeObserve's record of what to observe once the encoding has succeeded,
	// reused from call to call. Only the holder of the write lock touches them.
	adds  []pendingAdd
	fresh []pendingName
}

// autoName is the feature name remembered for a dimension.
type autoName struct {
	text string
	// hash is XXH64 of text (the hash the walk computes anyway), so that Observe
	// recognises a name it has already remembered without building the string.
	hash uint64
}

// maxIndexedDims is the most dimensions for which autoEncoder keeps dims: 256 KiB.
const maxIndexedDims = 1 << 14

// dimName is what remembers needs to know of a dimension's name.
type dimName struct {
	hash  uint64 // autoName.hash
	state uint8  // dimEmpty, dimNamed or dimClosed
}

// dimName states.
const (
	dimEmpty  = iota // no name
	dimNamed         // a name, which another name would mark as collided
	dimClosed        // a name marked as collided: it does not change again
)

// indexNames returns the dims that mirror names, nil when a has more than
// maxIndexedDims dimensions.
func (a *autoEncoder) indexNames(names map[int32]autoName) []dimName {
	if a.buckets+1 > maxIndexedDims {
		return nil
	}
	dims := make([]dimName, a.buckets+1)
	for i, n := range names {
		dims[i] = n.dim()
	}
	return dims
}

// dim returns the dimName of n.
func (n autoName) dim() dimName {
	if strings.HasSuffix(n.text, collidedSuffix) {
		return dimName{hash: n.hash, state: dimClosed}
	}
	return dimName{hash: n.hash, state: dimNamed}
}

// pendingAdd is a value to fold into the statistics of the name whose hash is h; st
// is those statistics when they existed during the walk.
type pendingAdd struct {
	st *stat
	h  uint64
	x  float64
}

// pendingName is a name to remember for dimension i.
type pendingName struct {
	i    int32
	h    uint64
	text string
}

// NewAutoEncoder returns an encoder that needs no schema and hashes every field of the
// profile and context into 2^bits dimensions, as the package documentation describes.
// bits is clamped to [MinAutoBits, MaxAutoBits].
func NewAutoEncoder(bits int) *Encoder {
	bits = min(max(bits, MinAutoBits), MaxAutoBits)
	sum := sha256.Sum256([]byte("nextbest/features v1 auto:" + strconv.Itoa(bits)))
	a := &autoEncoder{
		bits:    bits,
		buckets: 1<<bits - 1,
		stats:   map[uint64]*stat{},
	}
	a.names, a.dims = map[int32]autoName{}, a.indexNames(nil)
	return &Encoder{
		hash: hex.EncodeToString(sum[:]),
		dim:  1 << bits,
		auto: a,
	}
}

// autoWalk is one traversal of a profile and a context. It encodes when dst is set,
// observes when observe is set, and with both, records the observations in
// autoEncoder.adds and autoEncoder.fresh for commit instead of making them.
type autoWalk struct {
	a       *autoEncoder
	dst     *Vector   // encode: where entries go
	rep     Report    // encode: counts
	observe bool      // update statistics and names
	unknown *[]string // Inspect: collect the names of skipped values
	// path holds the source and the keys of the objects the walk is in.
	path [MaxAutoDepth + 1]string
	buf  [256]byte // for hash
}

func (a *autoEncoder) index(h uint64) int32 { return int32(1 + h%a.buckets) }

// encode encodes under the read lock, or with observe, encodes and observes under the
// write lock: the walk records the observations, and they are made only when the
// whole input has encoded, so that an input Encode rejects is not observed.
//
// The entries are summed after the lock is released. No sum can overflow, so no
// error can arise after the observations are made: each value is 1 or a z-score in
// [-MaxZ, MaxZ], so a sum of n entries is at most MaxZ*n in magnitude.
func (a *autoEncoder) encode(e *Encoder, profile, context map[string]any, dst *Vector, unknown *[]string, observe bool) (Report, error) {
	dst.Reset()
	dst.push(0, 1)
	w := autoWalk{a: a, dst: dst, observe: observe, unknown: unknown}
	if observe {
		e.mu.Lock()
	} else {
		e.mu.RLock()
	}
	err := w.source("profile", profile)
	if err == nil {
		err = w.source("context", context)
	}
	if observe {
		a.commit(err == nil)
		e.mu.Unlock()
	} else {
		e.mu.RUnlock()
	}
	if err != nil {
		dst.Reset()
		return Report{}, err
	}
	dst.sortTail(1)
	return w.rep, nil
}

// commit makes the observations that the walk recorded when ok is set, in the order
// the walk met them, and forgets them.
func (a *autoEncoder) commit(ok bool) {
	if ok {
		for _, p := range a.adds {
			a.add(p.st, p.h, p.x)
		}
		for _, p := range a.fresh {
			a.remember(p.i, p.h, p.text)
		}
	}
	clear(a.adds) // drop the pointers and names until the next call
	clear(a.fresh)
	a.adds, a.fresh = a.adds[:0], a.fresh[:0]
}

// observe folds profile and context into the statistics and names. Values that Encode
// would reject are skipped.
func (a *autoEncoder) observe(e *Encoder, profile, context map[string]any) {
	w := autoWalk{a: a, observe: true}
	e.mu.Lock()
	w.source("profile", profile)
	w.source("context", context)
	e.mu.Unlock()
}

func (a *autoEncoder) name(e *Encoder, i int32) string {
	e.mu.RLock()
	n, ok := a.names[i]
	e.mu.RUnlock()
	if ok {
		return n.text
	}
	return "hash:" + strconv.Itoa(int(i))
}

// add folds x into the statistics of the name whose hash is h, st when they exist,
// creating them while there are fewer than MaxAutoStats.
func (a *autoEncoder) add(st *stat, h uint64, x float64) {
	if st == nil {
		if st = a.stats[h]; st == nil && len(a.stats) < MaxAutoStats {
			st = &stat{}
			a.stats[h] = st
		}
	}
	if st != nil {
		st.add(x)
	}
}

// remembers reports whether remember(i, h, ...) would change the names: whether the
// name is the first for dimension i, or the first to collide with it.
func (a *autoEncoder) remembers(i int32, h uint64) bool {
	if a.dims != nil {
		switch d := a.dims[i]; d.state {
		case dimEmpty:
			return len(a.names) < MaxAutoNames
		case dimNamed:
			return d.hash != h
		}
		return false
	}
	old, ok := a.names[i]
	if !ok {
		return len(a.names) < MaxAutoNames
	}
	return old.hash != h && !strings.HasSuffix(old.text, collidedSuffix)
}

// remember records that the feature named text, whose name hashes to h, maps to
// dimension i.
func (a *autoEncoder) remember(i int32, h uint64, text string) {
	old, ok := a.names[i]
	var n autoName
	switch {
	case !ok && len(a.names) < MaxAutoNames:
		n = autoName{text: text, hash: h}
	case ok && old.hash != h && !strings.HasSuffix(old.text, collidedSuffix):
		n = autoName{text: old.text + collidedSuffix, hash: old.hash}
	default:
		return
	}
	a.names[i] = n
	if a.dims != nil {
		a.dims[i] = n.dim()
	}
}

const collidedSuffix = " (+ colliding features)"

// name is a feature name in parts, built into a string only when it is needed: the
// names of the enclosing objects (autoWalk.path[:depth+1], the source first), then
// key, then =value when str is set.
type name struct {
	depth      int
	key, value string
	str        bool
	// pre is the length of the enclosing objects' part of the name, "context.geo.",
	// which autoWalk.buf starts with while the walk is in the object; -1 when it
	// does not fit.
	pre int
}

// text builds the name n, which the walk is inside.
func (w *autoWalk) text(n name) string {
	var buf [128]byte
	b := buf[:0]
	for _, p := range w.path[:n.depth+1] {
		b = append(append(b, p...), '.')
	}
	b = append(b, n.key...)
	if n.str {
		b = append(append(b, '='), n.value...)
	}
	return string(b)
}

// hash returns the 64-bit hash of the name n, which the walk is inside: XXH64 of its
// text, which is completed after the enclosing objects' part in w.buf when it fits
// (one call of xxhash.Sum64 on a short name is cheaper than streaming its parts), and
// streamed otherwise.
func (w *autoWalk) hash(n name) uint64 {
	if n.pre >= 0 && n.pre+len(n.key)+1+len(n.value) <= len(w.buf) {
		b := append(w.buf[:n.pre], n.key...)
		if n.str {
			b = append(append(b, '='), n.value...)
		}
		return xxhash.Sum64(b)
	}
	var d xxhash.Digest
	d.Reset()
	for _, p := range w.path[:n.depth+1] {
		d.WriteString(p)
		d.WriteString(".")
	}
	d.WriteString(n.key)
	if n.str {
		d.WriteString("=")
		d.WriteString(n.value)
	}
	return d.Sum64()
}

func (w *autoWalk) source(src string, m map[string]any) error {
	w.path[0] = src
	pre := copy(w.buf[:], src) // sources are short
	w.buf[pre] = '.'
	return w.object(m, 0, pre+1)
}

// object walks the entries of m, whose name is w.path[:depth+1] and, when pre >= 0,
// the first pre bytes of w.buf with a dot.
func (w *autoWalk) object(m map[string]any, depth, pre int) error {
	for k, v := range m {
		if err := w.value(name{depth: depth, key: k, pre: pre}, v); err != nil {
			return err
		}
	}
	return nil
}

// value encodes or observes the value v of the feature n. An error names the feature
// with its source, "context.geo.lat"; a walk that only observes skips the value
// instead.
func (w *autoWalk) value(n name, v any) error {
	switch t := v.(type) {
	case nil:
		w.rep.Missing++
	case string:
		w.str(t, n)
	case bool:
		if t {
			w.emit(w.hash(n), n)
		}
	case map[string]any:
		if n.depth >= MaxAutoDepth {
			w.skip(n)
			return nil
		}
		w.path[n.depth+1] = n.key
		pre := -1
		if n.pre >= 0 && n.pre+len(n.key)+1 <= len(w.buf) {
			pre = n.pre + copy(w.buf[n.pre:], n.key)
			w.buf[pre] = '.'
			pre++
		}
		return w.object(t, n.depth+1, pre)
	case []any:
		skipped := false
		for _, item := range t {
			if s, ok := item.(string); ok {
				w.str(s, n)
			} else {
				skipped = true
			}
		}
		if skipped {
			w.skip(n)
		}
	case []string:
		for _, s := range t {
			w.str(s, n)
		}
	default:
		x, ok, err := number(n.key, v)
		if err == nil && !ok {
			err = typeError(n.key, "number, string, boolean, null, object or array", v)
		}
		if err != nil {
			if w.dst == nil {
				return nil
			}
			if fe, ok := err.(*FieldError); ok {
				fe.Field = w.text(n)
			}
			return err
		}
		return w.number(x, w.hash(n), n)
	}
	return nil
}

// number encodes or observes the number x of the feature n, whose name hashes to h.
func (w *autoWalk) number(x float64, h uint64, n name) error {
	a := w.a
	st := a.stats[h]
	i := a.index(h)
	if w.dst != nil {
		// A number the encoder has no statistics for (never observed, or beyond
		// MaxAutoStats fields) encodes as 0, like one not yet warmed up.
		if st != nil {
			z, ok := st.standardize(x)
			if !ok {
				return valueError(w.text(n), "standardised value of %g is not a number", x)
			}
			if z != 0 {
				w.dst.push(i, z)
			}
		}
	}
	if !w.observe {
		return nil
	}
	if w.dst == nil {
		a.add(st, h, x)
		if a.remembers(i, h) {
			a.remember(i, h, w.text(n))
		}
		return nil
	}
	a.adds = append(a.adds, pendingAdd{st: st, h: h, x: x})
	w.note(i, h, n)
	return nil
}

// str encodes or observes the string s of the feature n.
func (w *autoWalk) str(s string, n name) {
	n.value, n.str = s, true
	w.emit(w.hash(n), n)
}

// emit encodes or observes an indicator: the feature n, whose name hashes to h, with
// value 1.
func (w *autoWalk) emit(h uint64, n name) {
	i := w.a.index(h)
	if w.dst != nil {
		w.dst.push(i, 1)
	}
	if w.observe {
		w.note(i, h, n)
	}
}

// note remembers the name n, which hashes to h, for dimension i, or when the walk
// also encodes, records it for commit. The name is built only when it is stored.
func (w *autoWalk) note(i int32, h uint64, n name) {
	a := w.a
	if !a.remembers(i, h) {
		return
	}
	if w.dst == nil {
		a.remember(i, h, w.text(n))
		return
	}
	a.fresh = append(a.fresh, pendingName{i: i, h: h, text: w.text(n)})
}

// skip counts a value the auto encoder cannot encode.
func (w *autoWalk) skip(n name) {
	w.rep.Unknown++
	if w.unknown != nil {
		*w.unknown = append(*w.unknown, w.text(n))
	}
}
