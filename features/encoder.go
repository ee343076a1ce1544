package features

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// MaxReportedUnknown caps Report.UnknownFields.
const MaxReportedUnknown = 16

// Report describes what Encode made of its input.
type Report struct {
	// Unknown counts input keys that the schema does not use (for the auto encoder:
	// values it cannot encode, such as arrays of numbers). They are ignored.
	Unknown int
	// UnknownFields names up to MaxReportedUnknown of them, sorted, with their
	// source ("profile.nickname"). Only Inspect fills it: Encode must not allocate.
	UnknownFields []string
	// Missing counts schema fields absent from their source or null (for the auto
	// encoder: null values).
	Missing int
}

// Encoder turns profiles and contexts into Vectors. It holds the compiled schema, or
// the auto-encoding parameters, and the online standardisation statistics. All its
// methods are safe for concurrent use; Observe, EncodeObserve and UnmarshalBinary
// take a write lock.
type Encoder struct {
	hash   string
	dim    int
	fields []cfield
	inters []cinter
	// known[s] holds the top-level keys of source s (0 profile, 1 context) that some
	// field reads. When no field of s has a dotted name (dotted[s] false), every known
	// key of s is a field name that get looks up, and the unknown keys of s are
	// counted as len(map) minus get's hits, without iterating over the map.
	known  [2]map[string]struct{}
	dotted [2]bool

	auto *autoEncoder // non-nil for NewAutoEncoder

	mu    sync.RWMutex
	stats []stat // one per standardised field, in field order
}

// cfield is a compiled Field.
type cfield struct {
	Field
	path    []string // segments of a dotted name, nil when Name has no dot
	src     Source
	display string // "profile.tenure", or the bare name for SourceAny
	offset  int32  // first dimension of the block
	missing int32  // dimension of the missing indicator
	stat    int    // index into Encoder.stats, -1 when not standardised
	vocab   map[string]int32
	buckets uint64        // hash buckets, 0 with a vocabulary
	prefix  xxhash.Digest // digest after writing Name and 0x00
}

// cinter is a compiled interaction.
type cinter struct {
	a, b         int // indices into Encoder.fields
	offset, size int32
	sizeB        int32 // block size of b, the stride of an exact block
	exact        bool
}

// NewEncoder compiles s, which it validates, into an Encoder with empty statistics.
// The encoder keeps its own copy of what it needs: changing s afterwards has no
// effect on it.
func NewEncoder(s *Schema) (*Encoder, error) {
	if s == nil {
		return nil, schemaError("", 0, "nil schema")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	e := &Encoder{
		hash:  s.Hash(),
		known: [2]map[string]struct{}{{}, {}},
	}
	byName := make(map[string]int, len(s.Fields))
	off := int32(1)
	for i, f := range s.Fields {
		f.Clip = cloneClip(f.Clip)
		f.Buckets = append([]float64(nil), f.Buckets...)
		f.Vocabulary = append([]string(nil), f.Vocabulary...)
		c := cfield{Field: f, src: f.source(), offset: off, stat: -1}
		size := int32(f.size())
		c.missing = off + size - 1
		off += size
		if strings.Contains(f.Name, ".") {
			c.path = strings.Split(f.Name, ".")
		}
		c.display = f.Name
		if c.src != SourceAny {
			c.display = string(c.src) + "." + f.Name
		}
		if f.Kind == Numeric && f.Standardize {
			c.stat = len(e.stats)
			e.stats = append(e.stats, stat{})
		}
		if f.Kind == Categorical {
			if len(f.Vocabulary) > 0 {
				c.vocab = make(map[string]int32, len(f.Vocabulary))
				for j, v := range f.Vocabulary {
					c.vocab[v] = int32(j)
				}
			} else {
				c.buckets = uint64(f.hashBuckets())
				c.prefix.Reset()
				c.prefix.WriteString(f.Name)
				c.prefix.Write([]byte{0})
			}
		}
		top := f.Name
		if c.path != nil {
			top = c.path[0]
		}
		if c.src != SourceContext {
			e.known[0][f.Name] = struct{}{}
			e.known[0][top] = struct{}{}
			e.dotted[0] = e.dotted[0] || c.path != nil
		}
		if c.src != SourceProfile {
			e.known[1][f.Name] = struct{}{}
			e.known[1][top] = struct{}{}
			e.dotted[1] = e.dotted[1] || c.path != nil
		}
		byName[f.Name] = i
		e.fields = append(e.fields, c)
	}
	for _, p := range s.Interactions {
		a, b := byName[p[0]], byName[p[1]]
		sa, sb := e.fields[a].blockSize(), e.fields[b].blockSize()
		size := int32(interactionSize(int(sa), int(sb)))
		e.inters = append(e.inters, cinter{a: a, b: b, offset: off, size: size, sizeB: sb, exact: size == sa*sb})
		off += size
	}
	e.dim = int(off)
	return e, nil
}

func cloneClip(c *[2]float64) *[2]float64 {
	if c == nil {
		return nil
	}
	d := *c
	return &d
}

func (f *cfield) blockSize() int32 { return f.missing - f.offset + 1 }

// Dim returns the dimension of the vectors e produces: every Index is below it.
func (e *Encoder) Dim() int { return e.dim }

// SchemaHash returns the hash of the encoding: Schema.Hash for a schema encoder, the
// hex SHA-256 of "auto:<bits>" (after a format tag) for an auto encoder. A model
// trained on vectors from one encoder is only valid for encoders with the same hash.
func (e *Encoder) SchemaHash() string { return e.hash }

// Encode writes the encoding of profile and context into dst, replacing its contents,
// and reports unknown and missing fields. It is deterministic and, once dst has the
// capacity, allocates nothing. On error, which names the field and wraps ErrType or
// ErrValue, dst is left empty and the Report is zero. Either map may be nil.
func (e *Encoder) Encode(profile, context map[string]any, dst *Vector) (Report, error) {
	if e.auto != nil {
		return e.auto.encode(e, profile, context, dst, nil, false)
	}
	return e.encode(profile, context, dst, nil)
}

// maxMergedStats is the most standardised fields whose values EncodeObserve of a
// schema encoder keeps on the stack; with more, it calls Encode and then Observe.
const maxMergedStats = 32

// observations are the values EncodeObserve folds into the statistics: x[k] into
// stats[s[k]].
type observations struct {
	n int
	s [maxMergedStats]int32
	x [maxMergedStats]float64
}

// encode is Encode for a schema encoder. When obs is not nil it also collects the
// values that Observe would fold into the statistics.
func (e *Encoder) encode(profile, context map[string]any, dst *Vector, obs *observations) (Report, error) {
	var rep Report
	var hits [2]int
	dst.Reset()
	dst.push(0, 1)
	e.mu.RLock()
	for i := range e.fields {
		f := &e.fields[i]
		v, ok := f.get(profile, context, &hits)
		if !ok {
			rep.Missing++
			dst.push(f.missing, 1)
			continue
		}
		x, err := f.encode(v, e.stats, dst)
		if err != nil {
			e.mu.RUnlock()
			dst.Reset()
			return Report{}, err
		}
		if obs != nil && f.stat >= 0 {
			if f.src == SourceAny && f.path != nil {
				// get takes a flat key from the profile before a path through the
				// context, where Observe's lookup tries the context first.
				if x, ok = f.observed(profile, context); !ok {
					continue
				}
			}
			obs.s[obs.n], obs.x[obs.n] = int32(f.stat), x
			obs.n++
		}
	}
	e.mu.RUnlock()
	for i := range e.inters {
		if err := e.interact(&e.inters[i], dst); err != nil {
			dst.Reset()
			return Report{}, err
		}
	}
	for src, m := range [2]map[string]any{profile, context} {
		if e.dotted[src] {
			rep.Unknown += e.countUnknown(src, m, nil)
		} else {
			rep.Unknown += len(m) - hits[src]
		}
	}
	return rep, nil
}

// Inspect is Encode for diagnostics: it also fills Report.UnknownFields, and so
// allocates.
func (e *Encoder) Inspect(profile, context map[string]any) (Report, error) {
	var v Vector
	if e.auto != nil {
		var names []string
		rep, err := e.auto.encode(e, profile, context, &v, &names, false)
		rep.UnknownFields = capNames(names)
		return rep, err
	}
	rep, err := e.Encode(profile, context, &v)
	var names []string
	e.countUnknown(0, profile, &names)
	e.countUnknown(1, context, &names)
	rep.UnknownFields = capNames(names)
	return rep, err
}

func capNames(names []string) []string {
	sort.Strings(names)
	if len(names) > MaxReportedUnknown {
		names = names[:MaxReportedUnknown]
	}
	return names
}

// countUnknown counts the keys of m, the map of source src (0 profile, 1 context),
// that no field reads, appending their names to names when it is not nil.
func (e *Encoder) countUnknown(src int, m map[string]any, names *[]string) int {
	n := 0
	for k := range m {
		if _, ok := e.known[src][k]; !ok {
			n++
			if names != nil {
				*names = append(*names, [2]string{"profile.", "context."}[src]+k)
			}
		}
	}
	return n
}

// get finds f's value; ok is false when it is absent or null. It looks f.Name up in
// every source f reads, even when the context already has it, and adds to hits[s]
// when source s has the key, so that Encode can count unknown keys.
func (f *cfield) get(profile, context map[string]any, hits *[2]int) (v any, ok bool) {
	var pv, cv any
	if f.src != SourceProfile {
		var found bool
		if cv, found = context[f.Name]; found {
			hits[1]++
		}
	}
	if f.src != SourceContext {
		var found bool
		if pv, found = profile[f.Name]; found {
			hits[0]++
		}
	}
	if cv != nil {
		return cv, true
	}
	if pv != nil {
		return pv, true
	}
	if f.path == nil {
		return nil, false
	}
	return f.lookup(profile, context)
}

// lookup finds f's value; ok is false when it is absent or null.
func (f *cfield) lookup(profile, context map[string]any) (v any, ok bool) {
	switch f.src {
	case SourceProfile:
		return lookup(profile, f.Name, f.path)
	case SourceContext:
		return lookup(context, f.Name, f.path)
	}
	if v, ok := lookup(context, f.Name, f.path); ok {
		return v, true
	}
	return lookup(profile, f.Name, f.path)
}

// lookup returns m[name], or when name is absent and has dots, the value at its path
// through nested objects. ok is false when nothing is found or the value is null.
func lookup(m map[string]any, name string, path []string) (any, bool) {
	if v, found := m[name]; found || path == nil {
		return v, v != nil
	}
	cur := m
	for i, seg := range path {
		v := cur[seg]
		if i == len(path)-1 || v == nil {
			return v, v != nil
		}
		next, isMap := v.(map[string]any)
		if !isMap {
			return nil, false
		}
		cur = next
	}
	return nil, false
}

// encode appends the encoding of the non-null value v of f to dst. For a numeric
// field it returns the value after clip and log1p, which Observe folds into the
// statistics of a standardised one.
func (f *cfield) encode(v any, stats []stat, dst *Vector) (float64, error) {
	switch f.Kind {
	case Numeric:
		x, err := toNumber(f.Name, v)
		if err != nil {
			return 0, err
		}
		x, err = f.transform(x)
		if err != nil {
			return 0, err
		}
		if len(f.Buckets) > 0 {
			dst.push(f.offset+int32(bucketOf(f.Buckets, x)), 1)
			return x, nil
		}
		z := x
		if f.stat >= 0 {
			var ok bool
			if z, ok = stats[f.stat].standardize(x); !ok {
				return 0, valueError(f.Name, "standardised value of %g overflows", x)
			}
		}
		if z != 0 {
			dst.push(f.offset, z)
		}
		return x, nil
	case Categorical:
		var buf [32]byte
		s, b, err := category(f.Name, v, buf[:0])
		if err != nil {
			return 0, err
		}
		if f.vocab != nil {
			var slot int32
			var ok bool
			if b != nil {
				slot, ok = f.vocab[string(b)]
			} else {
				slot, ok = f.vocab[s]
			}
			if !ok {
				slot = int32(len(f.Vocabulary)) // other
			}
			dst.push(f.offset+slot, 1)
			return 0, nil
		}
		d := f.prefix
		if b != nil {
			d.Write(b)
		} else {
			d.WriteString(s)
		}
		dst.push(f.offset+int32(d.Sum64()%f.buckets), 1)
	case Boolean:
		t, err := toBool(f.Name, v)
		if err != nil {
			return 0, err
		}
		if t {
			dst.push(f.offset, 1)
		}
	}
	return 0, nil
}

// transform applies clip and log1p.
func (f *cfield) transform(x float64) (float64, error) {
	if f.Clip != nil {
		x = min(max(x, f.Clip[0]), f.Clip[1])
	}
	if f.Log1p {
		if x <= -1 {
			return 0, valueError(f.Name, "log1p needs a value > -1, got %g", x)
		}
		x = math.Log1p(x)
	}
	return x, nil
}

// bucketOf returns the number of boundaries <= x: the slot of x.
func bucketOf(b []float64, x float64) int {
	lo, hi := 0, len(b)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if b[mid] <= x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// interact appends the interaction block of it to dst, whose entries so far are
// sorted and cover every field block.
func (e *Encoder) interact(it *cinter, dst *Vector) error {
	fa, fb := &e.fields[it.a], &e.fields[it.b]
	a0, a1 := span(dst.Index, fa.offset, fa.missing+1)
	b0, b1 := span(dst.Index, fb.offset, fb.missing+1)
	start := len(dst.Index)
	for i := a0; i < a1; i++ {
		li, va := dst.Index[i]-fa.offset, dst.Value[i]
		for j := b0; j < b1; j++ {
			lj, x := dst.Index[j]-fb.offset, va*dst.Value[j]
			if math.IsInf(x, 0) {
				return valueError(fa.Name+" x "+fb.Name, "interaction overflows")
			}
			if x == 0 {
				continue
			}
			if it.exact {
				dst.push(it.offset+li*it.sizeB+lj, x)
				continue
			}
			var k [8]byte
			binary.LittleEndian.PutUint32(k[:4], uint32(li))
			binary.LittleEndian.PutUint32(k[4:], uint32(lj))
			dst.push(it.offset+int32(xxhash.Sum64(k[:])%InteractionBuckets), x)
		}
	}
	if !it.exact {
		dst.sortTail(start)
		for _, x := range dst.Value[start:] {
			if math.IsInf(x, 0) {
				return valueError(fa.Name+" x "+fb.Name, "interaction overflows")
			}
		}
	}
	return nil
}

// span returns the range [i, j) of the sorted idx whose values lie in [lo, hi).
func span(idx []int32, lo, hi int32) (int, int) {
	i := sort.Search(len(idx), func(k int) bool { return idx[k] >= lo })
	j := i
	for j < len(idx) && idx[j] < hi {
		j++
	}
	return i, j
}

// EncodeObserve is Encode followed, when Encode succeeds, by Observe, the calls a
// decision makes: it writes into dst the vector and returns the Report and error that
// Encode would, with the statistics as they were before this call, and then, unless
// there was an error, leaves the statistics and feature names as Observe would. An
// input that Encode rejects is not observed. Once dst has the capacity and every name
// in the input has been observed before, it allocates nothing.
//
// It does the work of both in one walk of the input, and so takes little longer than
// Encode alone (BenchmarkEncodeObserve). The auto encoder walks each map once under
// the write lock, and makes the observations only once the whole input has encoded;
// a schema encoder encodes under the read lock, keeping the values of its
// standardised fields, and then takes the write lock only to fold them in.
func (e *Encoder) EncodeObserve(profile, context map[string]any, dst *Vector) (Report, error) {
	if e.auto != nil {
		return e.auto.encode(e, profile, context, dst, nil, true)
	}
	if len(e.stats) > maxMergedStats {
		rep, err := e.encode(profile, context, dst, nil)
		if err == nil {
			e.Observe(profile, context)
		}
		return rep, err
	}
	var obs observations
	rep, err := e.encode(profile, context, dst, &obs)
	if err != nil || obs.n == 0 {
		return rep, err
	}
	e.mu.Lock()
	for k, s := range obs.s[:obs.n] {
		e.stats[s].add(obs.x[k])
	}
	e.mu.Unlock()
	return rep, nil
}

// Observe folds the standardised numeric fields of profile and context into the
// running statistics. Values that Encode would reject are skipped.
func (e *Encoder) Observe(profile, context map[string]any) {
	if e.auto != nil {
		e.auto.observe(e, profile, context)
		return
	}
	if len(e.stats) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.fields {
		f := &e.fields[i]
		if f.stat < 0 {
			continue
		}
		if x, ok := f.observed(profile, context); ok {
			e.stats[f.stat].add(x)
		}
	}
}

// observed returns the value of the numeric field f that Observe folds into its
// statistics; ok is false when there is none, or it does not encode.
func (f *cfield) observed(profile, context map[string]any) (x float64, ok bool) {
	v, ok := f.lookup(profile, context)
	if !ok {
		return 0, false
	}
	x, err := toNumber(f.Name, v)
	if err == nil {
		x, err = f.transform(x)
	}
	return x, err == nil
}

// FeatureName returns a human-readable name for dimension i: "intercept",
// "profile.tenure (z)", "context.channel=web", "context.channel=<other>",
// "hash bucket 17 of context.city", "profile.age missing", "18 <= profile.age < 30",
// "context.channel=web & profile.vip". Fields with source any are named without a
// prefix. For the auto encoder it is the first name Observe saw hashed to i, marked
// " (+ colliding features)" once another name lands there too, or "hash:i" when
// Observe has seen none. It returns "" when i is out of range.
func (e *Encoder) FeatureName(i int) string {
	if i < 0 || i >= e.dim {
		return ""
	}
	if i == 0 {
		return "intercept"
	}
	if e.auto != nil {
		return e.auto.name(e, int32(i))
	}
	k := sort.Search(len(e.fields), func(k int) bool { return int(e.fields[k].missing) >= i })
	if k < len(e.fields) {
		return e.fields[k].slotName(int32(i) - e.fields[k].offset)
	}
	k = sort.Search(len(e.inters), func(k int) bool { return int(e.inters[k].offset+e.inters[k].size) > i })
	it := &e.inters[k]
	fa, fb := &e.fields[it.a], &e.fields[it.b]
	l := int32(i) - it.offset
	if !it.exact {
		return fmt.Sprintf("hash bucket %d of %s & %s", l, fa.display, fb.display)
	}
	return fa.slotName(l/it.sizeB) + " & " + fb.slotName(l%it.sizeB)
}

// slotName names slot l of f's block.
func (f *cfield) slotName(l int32) string {
	if f.offset+l == f.missing {
		return f.display + " missing"
	}
	switch f.Kind {
	case Numeric:
		x := f.display
		if f.Log1p {
			x = "log1p(" + x + ")"
		}
		if n := int32(len(f.Buckets)); n > 0 {
			g := func(k int32) string { return strconv.FormatFloat(f.Buckets[k], 'g', -1, 64) }
			switch l {
			case 0:
				return x + " < " + g(0)
			case n:
				return x + " >= " + g(n-1)
			}
			return g(l-1) + " <= " + x + " < " + g(l)
		}
		if f.Standardize {
			return x + " (z)"
		}
		return x
	case Categorical:
		if f.vocab != nil {
			if int(l) == len(f.Vocabulary) {
				return f.display + "=<other>"
			}
			return f.display + "=" + f.Vocabulary[l]
		}
		return fmt.Sprintf("hash bucket %d of %s", l, f.display)
	}
	return f.display
}
