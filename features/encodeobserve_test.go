package features

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// propSteps is how many inputs each property run feeds: enough for most numeric names
// to pass MinObservations many times over, so that standardisation is exercised.
const propSteps = 3000

// propGen draws random profiles and contexts: numbers of every accepted Go type,
// strings, booleans, nulls, nested objects (deeper than MaxAutoDepth too), arrays, and
// now and then one bad value (NaN, ±Inf, a malformed or overflowing json.Number, a
// type JSON cannot hold). At most one bad value per input, so that the auto encoder's
// error does not depend on map iteration order. Keys never contain dots: a dotted key
// and a nested object can spell the same auto feature name, and a name met twice in
// one input is folded into its statistics in map iteration order, which differs from
// walk to walk.
type propGen struct {
	r   *rand.Rand
	bad bool // this input has had its bad value, or is to have none
}

var (
	propKeys  = []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	propWords = []string{"web", "app", "x", "y", "Paris", ""}
)

// input returns the next profile and context for an auto encoder.
func (g *propGen) input() (profile, context map[string]any) {
	g.bad = g.r.IntN(8) != 0 // about one input in 8 may hold a bad value
	profile, context = g.object(0), g.object(0)
	switch g.r.IntN(20) {
	case 0:
		profile = nil
	case 1:
		context = nil
	}
	return profile, context
}

func (g *propGen) object(depth int) map[string]any {
	n := g.r.IntN(4)
	if depth == 0 {
		n = 1 + g.r.IntN(8)
	}
	m := make(map[string]any, n)
	for range n {
		m[propKeys[g.r.IntN(len(propKeys))]] = g.value(depth)
	}
	return m
}

func (g *propGen) value(depth int) any {
	switch k := g.r.IntN(100); {
	case k < 30:
		return g.number()
	case k < 50:
		return propWords[g.r.IntN(len(propWords))]
	case k < 60:
		return g.r.IntN(2) == 0
	case k < 64:
		return nil
	case k < 70 && depth <= MaxAutoDepth:
		return g.object(depth + 1)
	case k < 76:
		a := make([]any, g.r.IntN(4))
		for i := range a {
			switch g.r.IntN(4) {
			case 0:
				a[i] = g.number() // skipped: the array counts as unknown
			case 1:
				a[i] = nil
			default:
				a[i] = propWords[g.r.IntN(len(propWords))]
			}
		}
		return a
	case k < 80:
		return []string{propWords[g.r.IntN(len(propWords))], propWords[g.r.IntN(len(propWords))]}
	case k < 84 && !g.bad:
		g.bad = true
		return []any{math.NaN(), math.Inf(-1), json.Number("12abc"), json.Number("1e999"), []int{1}, struct{}{}}[g.r.IntN(6)]
	}
	return g.number()
}

// number draws a finite number with a spread wide enough for standardisation to clip.
func (g *propGen) number() any {
	x := g.r.NormFloat64() * 100
	switch g.r.IntN(6) {
	case 0:
		return int(x)
	case 1:
		return json.Number("17.25")
	case 2:
		return float32(x)
	case 3:
		return x * 1e6 // an outlier
	}
	return x
}

// schemaInput returns the next profile and context for testdata/bench.yaml and
// propSchema: every field present with a value of its kind most of the time, absent,
// null or of the wrong kind sometimes, bad values now and then, and unknown keys.
func (g *propGen) schemaInput(e *Encoder) (profile, context map[string]any) {
	profile, context = map[string]any{}, map[string]any{}
	g.bad = false
	bad := -1 // the field that gets a value of any kind, or a bad value
	if g.r.IntN(6) == 0 {
		bad = g.r.IntN(len(e.fields))
	}
	for i, f := range e.fields {
		m := context
		if f.src == SourceProfile || f.src == SourceAny && g.r.IntN(2) == 0 {
			m = profile
		}
		var v any
		switch k := g.r.IntN(100); {
		case i == bad && k < 50:
			v = g.value(0) // any kind, maybe wrong
		case i == bad:
			v = []any{math.NaN(), json.Number("x"), -2.0, "maybe"}[g.r.IntN(4)]
		case k < 8:
			continue
		case k < 12:
			v = nil
		default:
			switch f.Kind {
			case Numeric:
				v = g.number()
				if f.Log1p {
					v = math.Abs(g.r.NormFloat64()) * 1000
				}
			case Categorical:
				if len(f.Vocabulary) > 0 && g.r.IntN(4) != 0 {
					v = f.Vocabulary[g.r.IntN(len(f.Vocabulary))]
				} else {
					v = []any{"other", 3.0, "Lyon", "a"}[g.r.IntN(4)]
				}
			case Boolean:
				v = []any{true, false, "yes", "NO", 1.0, 0}[g.r.IntN(6)]
			}
		}
		if f.path != nil && g.r.IntN(2) == 0 { // a dotted name as a path into nested objects
			inner, _ := m[f.path[0]].(map[string]any)
			if inner == nil {
				inner = map[string]any{}
				m[f.path[0]] = inner
			}
			inner[f.path[1]] = v
			continue
		}
		m[f.Name] = v
	}
	for _, f := range e.fields {
		// A dotted field with source any, given in both sources, once flat and once
		// as a path: Encode takes a flat key from the profile before a path through
		// the context, Observe the other way round.
		if f.src == SourceAny && f.path != nil && g.r.IntN(3) == 0 {
			profile[f.Name] = g.number()
			context[f.path[0]] = map[string]any{f.path[1]: g.number()}
		}
	}
	for range g.r.IntN(3) {
		profile["unknown_"+propKeys[g.r.IntN(len(propKeys))]] = g.value(0)
	}
	return profile, context
}

// propSchema adds to bench.yaml's field kinds dotted names (paths into nested objects),
// fields with source any, a clipped log1p standardised field, and interactions of a
// numeric field.
const propSchema = `
fields:
  - {name: geo.lat, type: numeric, standardize: true}
  - {name: geo.city, source: profile, type: categorical, hash_buckets: 16}
  - {name: spend, type: numeric, clip: [0, 1000], log1p: true, standardize: true}
  - {name: visits, type: numeric, buckets: [1, 10, 100]}
  - {name: tier, type: categorical, vocabulary: [web, app]}
  - {name: vip, source: context, type: boolean}
interactions:
  - [tier, vip]
  - [geo.city, spend]
  - [visits, geo.lat]
`

// manyStandardised returns a schema with more standardised fields than
// maxMergedStats, with every source and a dotted name among them.
func manyStandardised() string {
	var b strings.Builder
	b.WriteString("fields:\n")
	for i := range maxMergedStats + 8 {
		src := []string{"profile", "context", "any"}[i%3]
		name := "s" + strconv.Itoa(i)
		if i == 2 {
			name = "nested.s2"
		}
		b.WriteString("  - {name: " + name + ", source: " + src + ", type: numeric, standardize: true}\n")
	}
	return b.String()
}

// TestEncodeObserveMatchesEncodeThenObserve feeds two encoders of each kind the same
// random inputs, one through Encode followed by Observe when Encode succeeds (what
// the engine did), the other through EncodeObserve: vectors (bit for bit), reports
// and errors must agree at every step, and the saved state at the end.
func TestEncodeObserveMatchesEncodeThenObserve(t *testing.T) {
	tests := []struct {
		name   string
		enc    func(testing.TB) *Encoder
		schema bool
		// names: the remembered feature names must agree too. With 2^4 dimensions,
		// distinct names share dimensions, and when two new ones meet in one input,
		// which one Observe remembers depends on map iteration order.
		names bool
	}{
		{"auto/bits=30", func(testing.TB) *Encoder { return NewAutoEncoder(30) }, false, true},
		{"auto/bits=4", func(testing.TB) *Encoder { return NewAutoEncoder(4) }, false, false},
		{"auto/bits=14", func(testing.TB) *Encoder { return NewAutoEncoder(14) }, false, false},
		{"schema/bench", benchEncoder, true, true},
		{"schema/prop", func(t testing.TB) *Encoder { return mustEncoder(t, propSchema) }, true, true},
		{"schema/many", func(t testing.TB) *Encoder { return mustEncoder(t, manyStandardised()) }, true, true},
	}
	for k, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, got := tt.enc(t), tt.enc(t)
			g := propGen{r: rand.New(rand.NewPCG(1, uint64(k)))}
			seen := map[string]struct{}{} // auto feature names, to check the premise of names
			var vr, vg Vector
			var fails, entries, other int // other: values neither 0 nor 1, mostly z-scores
			for step := range propSteps {
				var p, c map[string]any
				if tt.schema {
					p, c = g.schemaInput(ref)
				} else {
					p, c = g.input()
					autoFeatureNames("profile", p, 0, seen)
					autoFeatureNames("context", c, 0, seen)
				}
				repR, errR := ref.Encode(p, c, &vr)
				if errR == nil {
					ref.Observe(p, c)
				}
				repG, errG := got.EncodeObserve(p, c, &vg)
				if !sameError(errR, errG) {
					t.Fatalf("step %d: errors %v and %v", step, errR, errG)
				}
				if errR != nil {
					fails++
					if len(vg.Index) != 0 {
						t.Fatalf("step %d: dst not emptied on error: %v", step, vg)
					}
				} else {
					checkInvariants(t, got, vg)
				}
				if repR.Unknown != repG.Unknown || repR.Missing != repG.Missing || repG.UnknownFields != nil {
					t.Fatalf("step %d: reports %+v and %+v", step, repR, repG)
				}
				if !slices.Equal(vr.Index, vg.Index) || !slices.Equal(vr.Value, vg.Value) {
					t.Fatalf("step %d: vectors differ\n%v\n%v", step, vr, vg)
				}
				entries += len(vg.Index)
				for _, x := range vg.Value {
					if x != 1 && x != 0 {
						other++
					}
				}
				if step%500 == 499 || step == propSteps-1 {
					compareState(t, step, ref, got, tt.names)
				}
			}
			t.Logf("%d inputs, %d failed, %d entries, %d of them neither 0 nor 1", propSteps, fails, entries, other)
			// The inputs must exercise what they are meant to: errors, and for the auto
			// encoder standardised values, which need MinObservations first.
			if fails < propSteps/50 || fails > propSteps/4 {
				t.Errorf("%d of %d inputs failed to encode: the generator is off", fails, propSteps)
			}
			if !tt.schema && other < propSteps {
				t.Errorf("%d values neither 0 nor 1 in %d entries: the generator is off", other, entries)
			}
			if tt.names && !tt.schema {
				dims := map[int32]string{}
				for n := range seen {
					i := got.auto.index(xxhash.Sum64String(n))
					if other, ok := dims[i]; ok {
						t.Fatalf("%q and %q share dimension %d: pick another seed", n, other, i)
					}
					dims[i] = n
				}
			}
		})
	}
}

// compareState checks that two encoders hold the same statistics, and, when names is
// set, the same feature names; otherwise the same dimensions are named, and those
// named by one feature only have the same name.
func compareState(t *testing.T, step int, a, b *Encoder, names bool) {
	t.Helper()
	sa, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*Encoder{a, b} {
		if e.auto != nil {
			checkDims(t, e.auto)
			checkNames(t, e.auto)
		}
	}
	if names {
		if !bytes.Equal(sa, sb) {
			t.Fatalf("step %d: states differ", step)
		}
		return
	}
	if len(a.auto.stats) != len(b.auto.stats) || len(a.auto.names) != len(b.auto.names) {
		t.Fatalf("step %d: %d and %d statistics, %d and %d names", step, len(a.auto.stats), len(b.auto.stats), len(a.auto.names), len(b.auto.names))
	}
	for h, s := range a.auto.stats {
		if o := b.auto.stats[h]; o == nil || *o != *s {
			t.Fatalf("step %d: statistics of %x: %+v and %+v", step, h, s, o)
		}
	}
	for i, n := range a.auto.names {
		o, ok := b.auto.names[i]
		collided := strings.HasSuffix(n.text, collidedSuffix)
		if !ok || collided != strings.HasSuffix(o.text, collidedSuffix) || !collided && n != o {
			t.Fatalf("step %d: names of %d: %q and %q", step, i, n.text, o.text)
		}
	}
}

// checkDims checks that a.dims mirrors a.names, or is nil for large encoders.
func checkDims(t *testing.T, a *autoEncoder) {
	t.Helper()
	if a.buckets+1 > maxIndexedDims {
		if a.dims != nil {
			t.Fatalf("dims for %d dimensions", a.buckets+1)
		}
		return
	}
	for i, d := range a.dims {
		n, ok := a.names[int32(i)]
		if ok && d != n.dim() || !ok && d != (dimName{}) {
			t.Fatalf("dims[%d] = %+v, names[%d] = %+v", i, d, i, n)
		}
	}
}

// checkNames checks the walk's hashes against the documented ones: each name not
// marked as collided hashes, as XXH64 of its text, to its dimension and to the hash
// stored with it.
func checkNames(t *testing.T, a *autoEncoder) {
	t.Helper()
	for i, n := range a.names {
		if strings.HasSuffix(n.text, collidedSuffix) {
			continue
		}
		if h := xxhash.Sum64String(n.text); h != n.hash || a.index(h) != i {
			t.Fatalf("name %q of dimension %d: hash %x, XXH64 %x in dimension %d", n.text, i, n.hash, h, a.index(h))
		}
	}
}

// sameError reports whether a and b are both nil or say the same and wrap the same
// sentinel.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error() && errors.Is(a, ErrType) == errors.Is(b, ErrType) && errors.Is(a, ErrValue) == errors.Is(b, ErrValue)
}

// autoFeatureNames adds to out the names the package documentation gives the features
// of m, the object named prefix at the given depth below its source, including those
// of values that fail to encode.
func autoFeatureNames(prefix string, m map[string]any, depth int, out map[string]struct{}) {
	for k, v := range m {
		n := prefix + "." + k
		switch t := v.(type) {
		case nil:
		case string:
			out[n+"="+t] = struct{}{}
		case map[string]any:
			if depth < MaxAutoDepth {
				autoFeatureNames(n, t, depth+1, out)
			}
		case []any:
			for _, s := range t {
				if s, ok := s.(string); ok {
					out[n+"="+s] = struct{}{}
				}
			}
		case []string:
			for _, s := range t {
				out[n+"="+s] = struct{}{}
			}
		default:
			out[n] = struct{}{}
		}
	}
}

// TestEncodeObserveErrorObservesNothing checks that an input EncodeObserve rejects
// leaves the state as it was, even when its good values come first.
func TestEncodeObserveErrorObservesNothing(t *testing.T) {
	for _, e := range []*Encoder{NewAutoEncoder(12), benchEncoder(t)} {
		for i := range 100 {
			p, c := benchInput(i)
			if _, err := e.EncodeObserve(p, c, new(Vector)); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := e.MarshalBinary()
		p, c := benchInput(7)
		p["new_name"] = "new value"
		c["hour"] = math.NaN() // the profile, walked first, is fine
		var v Vector
		if _, err := e.EncodeObserve(p, c, &v); !errors.Is(err, ErrValue) {
			t.Fatalf("err = %v, want ErrValue", err)
		}
		if after, _ := e.MarshalBinary(); !bytes.Equal(before, after) {
			t.Error("a rejected input changed the state")
		}
		if len(v.Index) != 0 {
			t.Errorf("dst not emptied: %v", v)
		}
	}
}

// TestEncodeObserveAllocs checks that EncodeObserve allocates nothing once every name
// of the input has been observed, nor does Observe.
func TestEncodeObserveAllocs(t *testing.T) {
	for _, c := range benchCases() {
		e := c.enc(t)
		for i := range benchInputs {
			e.Observe(c.profiles[i], c.contexts[i])
		}
		var v Vector
		if _, err := e.EncodeObserve(c.profiles[3], c.contexts[3], &v); err != nil {
			t.Fatal(err)
		}
		k := 0
		allocs := testing.AllocsPerRun(100, func() {
			k++
			if _, err := e.EncodeObserve(c.profiles[k%benchInputs], c.contexts[k%benchInputs], &v); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per EncodeObserve, want 0", c.name, allocs)
		}
		allocs = testing.AllocsPerRun(100, func() {
			k++
			e.Observe(c.profiles[k%benchInputs], c.contexts[k%benchInputs])
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per Observe, want 0", c.name, allocs)
		}
	}
}

// TestEncodeObserveConcurrent runs EncodeObserve, Encode, Observe, FeatureName and the
// state methods from several goroutines on one encoder of each kind; run it with
// -race. Each goroutine's vectors must start with the intercept and be sorted.
func TestEncodeObserveConcurrent(t *testing.T) {
	for _, e := range []*Encoder{NewAutoEncoder(8), benchEncoder(t)} {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				var v Vector
				for i := range 300 {
					p, c := benchInput(g*1000 + i)
					switch i % 10 {
					case 0:
						e.Observe(p, c)
						continue
					case 1:
						if _, err := e.Encode(p, c, &v); err != nil {
							t.Error(err)
							return
						}
					case 2:
						state, err := e.MarshalBinary()
						if err == nil {
							err = e.UnmarshalBinary(state)
						}
						if err != nil {
							t.Error(err)
							return
						}
						continue
					default:
						if _, err := e.EncodeObserve(p, c, &v); err != nil {
							t.Error(err)
							return
						}
					}
					if v.Index[0] != 0 || !slices.IsSorted(v.Index) {
						t.Errorf("vector %v", v)
						return
					}
					_ = e.FeatureName(int(v.Index[len(v.Index)-1]))
				}
			})
		}
		wg.Wait()
	}
}
