package features

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
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

// autoEncoder is the state of an encoder without a schema. Its maps are guarded by
// Encoder.mu.
type autoEncoder struct {
	bits    int
	buckets uint64 // dimensions after the intercept: 2^bits - 1
	stats   map[uint64]*stat
	names   map[int32]string
	// hashes holds, for each named dimension, the 64-bit hash of its name (the hash the
	// walk computes anyway: the digest is written exactly the name's text), so that
	// Observe recognises a name it has already remembered without building the string.
	hashes map[int32]uint64
}

// NewAutoEncoder returns an encoder that needs no schema and hashes every field of the
// profile and context into 2^bits dimensions, as the package documentation describes.
// bits is clamped to [MinAutoBits, MaxAutoBits].
func NewAutoEncoder(bits int) *Encoder {
	bits = min(max(bits, MinAutoBits), MaxAutoBits)
	sum := sha256.Sum256([]byte("nextbest/features v1 auto:" + strconv.Itoa(bits)))
	return &Encoder{
		hash: hex.EncodeToString(sum[:]),
		dim:  1 << bits,
		auto: &autoEncoder{
			bits:    bits,
			buckets: 1<<bits - 1,
			stats:   map[uint64]*stat{},
			names:   map[int32]string{},
			hashes:  map[int32]uint64{},
		},
	}
}

// autoWalk is one traversal of a profile or context.
type autoWalk struct {
	a       *autoEncoder
	dst     *Vector   // encode: where entries go
	rep     *Report   // encode: counts
	observe bool      // observe: update statistics and names instead of encoding
	unknown *[]string // Inspect: collect the names of skipped values
}

// named reports whether the walk needs feature names as strings.
func (w *autoWalk) named() bool { return w.observe || w.unknown != nil }

func (a *autoEncoder) index(h uint64) int32 { return int32(1 + h%a.buckets) }

func (a *autoEncoder) encode(e *Encoder, profile, context map[string]any, dst *Vector, unknown *[]string) (Report, error) {
	var rep Report
	dst.Reset()
	dst.push(0, 1)
	w := autoWalk{a: a, dst: dst, rep: &rep, unknown: unknown}
	e.mu.RLock()
	err := w.source("profile", profile)
	if err == nil {
		err = w.source("context", context)
	}
	e.mu.RUnlock()
	if err != nil {
		dst.Reset()
		return rep, err
	}
	dst.sortTail(1)
	for k, x := range dst.Value {
		if math.IsInf(x, 0) {
			err := valueError("hash:"+strconv.Itoa(int(dst.Index[k])), "sum of colliding features overflows")
			dst.Reset()
			return rep, err
		}
	}
	return rep, nil
}

func (a *autoEncoder) observe(e *Encoder, profile, context map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := autoWalk{a: a, observe: true, rep: &Report{}}
	w.source("profile", profile)
	w.source("context", context)
}

func (a *autoEncoder) name(e *Encoder, i int32) string {
	e.mu.RLock()
	n, ok := a.names[i]
	e.mu.RUnlock()
	if ok {
		return n
	}
	return "hash:" + strconv.Itoa(int(i))
}

// remember records that the feature n, whose name hashes to h, maps to dimension i. The
// name is built only when it is stored.
func (a *autoEncoder) remember(i int32, h uint64, n name) {
	old, ok := a.names[i]
	switch {
	case !ok && len(a.names) < MaxAutoNames:
		a.names[i] = n.String()
		a.hashes[i] = h
	case ok && a.hashes[i] != h && !strings.HasSuffix(old, collidedSuffix):
		a.names[i] = old + collidedSuffix
	}
}

// name is a feature name in parts: parent.key, then =value when str is set.
type name struct {
	parent, key, value string
	str                bool
}

func (n name) String() string {
	s := n.parent + "." + n.key
	if n.str {
		s += "=" + n.value
	}
	return s
}

const collidedSuffix = " (+ colliding features)"

func (w *autoWalk) source(src string, m map[string]any) error {
	var d xxhash.Digest
	d.Reset()
	d.WriteString(src)
	err := w.object(m, d, src, 0)
	if fe, ok := err.(*FieldError); ok {
		fe.Field = src + "." + fe.Field
	}
	return err
}

// object walks the entries of m, whose dotted name has been written to d and is path
// (kept when the walk is named). Errors name the key relative to m.
func (w *autoWalk) object(m map[string]any, d xxhash.Digest, path string, depth int) error {
	for k, v := range m {
		kd := d
		kd.WriteString(".")
		kd.WriteString(k)
		if err := w.value(k, v, kd, path, depth); err != nil {
			return err
		}
	}
	return nil
}

// value encodes the value v of key k, whose parent's dotted name is parent.
func (w *autoWalk) value(k string, v any, d xxhash.Digest, parent string, depth int) error {
	n := name{parent: parent, key: k}
	switch t := v.(type) {
	case nil:
		w.rep.Missing++
	case string:
		w.str(t, d, n)
	case bool:
		if t {
			w.emit(d.Sum64(), 1, n)
		}
	case map[string]any:
		if depth >= MaxAutoDepth {
			w.skip(n)
			return nil
		}
		var path string
		if w.named() {
			path = n.String()
		}
		if err := w.object(t, d, path, depth+1); err != nil {
			if fe, ok := err.(*FieldError); ok {
				fe.Field = k + "." + fe.Field
			}
			return err
		}
	case []any:
		skipped := false
		for _, item := range t {
			if s, ok := item.(string); ok {
				w.str(s, d, n)
			} else {
				skipped = true
			}
		}
		if skipped {
			w.skip(n)
		}
	case []string:
		for _, s := range t {
			w.str(s, d, n)
		}
	default:
		x, ok, err := number(k, v)
		if err != nil {
			return err
		}
		if !ok {
			return typeError(k, "number, string, boolean, null, object or array", v)
		}
		h := d.Sum64()
		st := w.a.stats[h]
		if w.observe {
			if st == nil && len(w.a.stats) < MaxAutoStats {
				st = &stat{}
				w.a.stats[h] = st
			}
			if st != nil {
				st.add(x)
			}
			w.a.remember(w.a.index(h), h, n)
			return nil
		}
		// A number the encoder has no statistics for (never observed, or beyond
		// MaxAutoStats fields) encodes as 0, like one not yet warmed up.
		z := 0.0
		if st != nil {
			if z, ok = st.standardize(x); !ok {
				return valueError(k, "standardised value of %g is not a number", x)
			}
		}
		x = z
		if x != 0 {
			w.dst.push(w.a.index(h), x)
		}
	}
	return nil
}

// str encodes the string s of the key whose name is in d.
func (w *autoWalk) str(s string, d xxhash.Digest, n name) {
	d.WriteString("=")
	d.WriteString(s)
	n.value, n.str = s, true
	w.emit(d.Sum64(), 1, n)
}

// emit adds a hashed indicator-like feature.
func (w *autoWalk) emit(h uint64, x float64, n name) {
	if w.observe {
		w.a.remember(w.a.index(h), h, n)
		return
	}
	w.dst.push(w.a.index(h), x)
}

// skip counts a value the auto encoder cannot encode.
func (w *autoWalk) skip(n name) {
	w.rep.Unknown++
	if w.unknown != nil {
		*w.unknown = append(*w.unknown, n.String())
	}
}
