package features

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// mustEncoder parses schema text and compiles it.
func mustEncoder(t testing.TB, text string) *Encoder {
	t.Helper()
	s, err := ParseSchema([]byte(text))
	if err != nil {
		t.Fatalf("ParseSchema: %v", err)
	}
	e, err := NewEncoder(s)
	if err != nil {
		t.Fatalf("NewEncoder: %v", err)
	}
	return e
}

// vec builds a Vector from index, value pairs.
func vec(pairs ...float64) Vector {
	var v Vector
	for i := 0; i+1 < len(pairs); i += 2 {
		v.push(int32(pairs[i]), pairs[i+1])
	}
	return v
}

// sameVector compares indices exactly and values within tol.
func sameVector(got, want Vector, tol float64) bool {
	if !slices.Equal(got.Index, want.Index) || len(got.Value) != len(want.Value) {
		return false
	}
	for i := range got.Value {
		if math.Abs(got.Value[i]-want.Value[i]) > tol {
			return false
		}
	}
	return true
}

// checkInvariants checks the Vector contract: intercept first, indices strictly
// increasing and below Dim, values finite and non-zero.
func checkInvariants(t testing.TB, e *Encoder, v Vector) {
	t.Helper()
	if len(v.Index) != len(v.Value) {
		t.Fatalf("len(Index) %d != len(Value) %d", len(v.Index), len(v.Value))
	}
	if len(v.Index) == 0 || v.Index[0] != 0 || v.Value[0] != 1 {
		t.Fatalf("no intercept: %v", v)
	}
	for i, ix := range v.Index {
		if ix < 0 || int(ix) >= e.Dim() {
			t.Fatalf("index %d out of [0, %d)", ix, e.Dim())
		}
		if i > 0 && ix <= v.Index[i-1] {
			t.Fatalf("indices not strictly increasing: %v", v.Index)
		}
		if x := v.Value[i]; math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
			t.Fatalf("value %v at index %d", x, ix)
		}
	}
}

// hashSlot is the documented categorical hash: xxhash64(name, 0x00, value) mod n,
// written independently of the encoder's streaming digest.
func hashSlot(name, value string, n int) int32 {
	return int32(xxhash.Sum64String(name+"\x00"+value) % uint64(n))
}

// pairSlot is the documented hashed-interaction slot.
func pairSlot(i, j int32) int32 {
	var k [8]byte
	binary.LittleEndian.PutUint32(k[:4], uint32(i))
	binary.LittleEndian.PutUint32(k[4:], uint32(j))
	return int32(xxhash.Sum64(k[:]) % InteractionBuckets)
}

func TestEncodeFields(t *testing.T) {
	const (
		plain    = `fields: [{name: x, type: numeric}]` // dims: 1 value, 2 missing
		clip     = `fields: [{name: x, type: numeric, clip: [0, 10]}]`
		log1p    = `fields: [{name: x, type: numeric, log1p: true}]`
		cliplog  = `fields: [{name: x, type: numeric, clip: [-0.5, 100], log1p: true}]`
		buckets  = `fields: [{name: x, type: numeric, buckets: [0, 10, 20]}]` // dims 1-4 slots, 5 missing
		logbkt   = `fields: [{name: x, type: numeric, log1p: true, buckets: [1, 2]}]`
		vocab    = `fields: [{name: c, type: categorical, vocabulary: [web, app, store]}]` // 1-3, 4 other, 5 missing
		numvocab = `fields: [{name: c, type: categorical, vocabulary: [5, 7.50]}]`         // spelt "5", "7.5"
		hashed   = `fields: [{name: city, type: categorical, hash_buckets: 8}]`            // 1-8, 9 missing
		boolean  = `fields: [{name: b, type: boolean}]`                                    // 1 true, 2 missing
		sources  = `fields: [{name: a, source: profile, type: numeric}, {name: b, source: context, type: numeric}, {name: c, type: numeric}]`
		nested   = `fields: [{name: address.city, source: profile, type: categorical, vocabulary: [Paris, Lyon]}]`
		exact    = `{fields: [{name: ch, type: categorical, vocabulary: [web, app]}, {name: vip, type: boolean}], interactions: [[ch, vip]]}`
		numcat   = `{fields: [{name: x, type: numeric}, {name: ch, type: categorical, vocabulary: [web, app]}], interactions: [[x, ch]]}`
		hashint  = `{fields: [{name: city, type: categorical}, {name: camp, type: categorical}], interactions: [[city, camp]]}`
	)
	type m = map[string]any
	tests := []struct {
		name             string
		schema           string
		profile, context m
		want             Vector
		unknown, missing int
	}{
		{"numeric float64", plain, m{"x": 2.5}, nil, vec(0, 1, 1, 2.5), 0, 0},
		{"numeric int", plain, m{"x": 3}, nil, vec(0, 1, 1, 3), 0, 0},
		{"numeric int64", plain, m{"x": int64(-4)}, nil, vec(0, 1, 1, -4), 0, 0},
		{"numeric int32", plain, m{"x": int32(7)}, nil, vec(0, 1, 1, 7), 0, 0},
		{"numeric float32", plain, m{"x": float32(1.5)}, nil, vec(0, 1, 1, 1.5), 0, 0},
		{"numeric json.Number", plain, m{"x": json.Number("4.25")}, nil, vec(0, 1, 1, 4.25), 0, 0},
		{"numeric zero omitted", plain, m{"x": 0.0}, nil, vec(0, 1), 0, 0},
		{"numeric absent", plain, m{}, nil, vec(0, 1, 2, 1), 0, 1},
		{"numeric null", plain, m{"x": nil}, nil, vec(0, 1, 2, 1), 0, 1},
		{"numeric from context (source any)", plain, nil, m{"x": 2.0}, vec(0, 1, 1, 2), 0, 0},
		{"unknown keys counted", plain, m{"x": 1.0, "y": "z"}, m{"w": 1.0}, vec(0, 1, 1, 1), 2, 0},
		{"clip high", clip, m{"x": 15.0}, nil, vec(0, 1, 1, 10), 0, 0},
		{"clip low to zero", clip, m{"x": -3.0}, nil, vec(0, 1), 0, 0},
		{"clip inside", clip, m{"x": 4.0}, nil, vec(0, 1, 1, 4), 0, 0},
		{"log1p e-1", log1p, m{"x": math.E - 1}, nil, vec(0, 1, 1, 1), 0, 0},
		{"log1p 0", log1p, m{"x": 0}, nil, vec(0, 1), 0, 0},
		{"clip then log1p", cliplog, m{"x": -0.9}, nil, vec(0, 1, 1, math.Log(0.5)), 0, 0},
		{"bucket below first", buckets, m{"x": -5.0}, nil, vec(0, 1, 1, 1), 0, 0},
		{"bucket at boundary 0", buckets, m{"x": 0}, nil, vec(0, 1, 2, 1), 0, 0},
		{"bucket just below 10", buckets, m{"x": 9.99}, nil, vec(0, 1, 2, 1), 0, 0},
		{"bucket at boundary 10", buckets, m{"x": 10}, nil, vec(0, 1, 3, 1), 0, 0},
		{"bucket at last boundary", buckets, m{"x": 20}, nil, vec(0, 1, 4, 1), 0, 0},
		{"bucket far above", buckets, m{"x": 1e9}, nil, vec(0, 1, 4, 1), 0, 0},
		{"bucket missing", buckets, nil, nil, vec(0, 1, 5, 1), 0, 1},
		{"log1p then bucket", logbkt, m{"x": math.E - 1}, nil, vec(0, 1, 2, 1), 0, 0},
		{"log1p then bucket 0", logbkt, m{"x": 0}, nil, vec(0, 1, 1, 1), 0, 0},
		{"vocab hit", vocab, nil, m{"c": "app"}, vec(0, 1, 2, 1), 0, 0},
		{"vocab other", vocab, nil, m{"c": "fax"}, vec(0, 1, 4, 1), 0, 0},
		{"vocab is case-sensitive", vocab, nil, m{"c": "Web"}, vec(0, 1, 4, 1), 0, 0},
		{"vocab missing", vocab, nil, nil, vec(0, 1, 5, 1), 0, 1},
		{"numeric vocab int", numvocab, m{"c": 5}, nil, vec(0, 1, 1, 1), 0, 0},
		{"numeric vocab float", numvocab, m{"c": 7.5}, nil, vec(0, 1, 2, 1), 0, 0},
		{"numeric vocab json.Number 5.0", numvocab, m{"c": json.Number("5.0")}, nil, vec(0, 1, 1, 1), 0, 0},
		{"hashed string", hashed, m{"city": "Paris"}, nil, vec(0, 1, float64(1+hashSlot("city", "Paris", 8)), 1), 0, 0},
		{"hashed number", hashed, m{"city": 75001}, nil, vec(0, 1, float64(1+hashSlot("city", "75001", 8)), 1), 0, 0},
		{"hashed missing", hashed, nil, nil, vec(0, 1, 9, 1), 0, 1},
		{"boolean true", boolean, m{"b": true}, nil, vec(0, 1, 1, 1), 0, 0},
		{"boolean false omitted", boolean, m{"b": false}, nil, vec(0, 1), 0, 0},
		{"boolean Yes", boolean, m{"b": "Yes"}, nil, vec(0, 1, 1, 1), 0, 0},
		{"boolean no", boolean, m{"b": "no"}, nil, vec(0, 1), 0, 0},
		{"boolean 1", boolean, m{"b": 1}, nil, vec(0, 1, 1, 1), 0, 0},
		{"boolean json.Number 0", boolean, m{"b": json.Number("0")}, nil, vec(0, 1), 0, 0},
		{"boolean missing", boolean, nil, nil, vec(0, 1, 2, 1), 0, 1},
		// a reads the profile, b the context, c the context first.
		{"sources", sources, m{"a": 1, "b": 2, "c": 3}, m{"a": 10, "b": 20, "c": 30}, vec(0, 1, 1, 1, 3, 20, 5, 30), 2, 0},
		{"source any falls back on null", sources, m{"a": 1, "c": 3}, m{"b": 2, "c": nil}, vec(0, 1, 1, 1, 3, 2, 5, 3), 0, 0},
		{"source profile ignores context", sources, nil, m{"a": 1, "b": 2, "c": 3}, vec(0, 1, 2, 1, 3, 2, 5, 3), 1, 1},
		{"nested path", nested, m{"address": m{"city": "Lyon", "zip": "69001"}}, nil, vec(0, 1, 2, 1), 0, 0},
		{"dotted key before path", nested, m{"address.city": "Paris", "address": m{"city": "Lyon"}}, nil, vec(0, 1, 1, 1), 0, 0},
		{"nested path through non-object", nested, m{"address": "Lyon"}, nil, vec(0, 1, 4, 1), 0, 1},
		// ch: 1 web, 2 app, 3 other, 4 missing; vip: 5 true, 6 missing; ch x vip at 7, entry i*2+j.
		{"exact interaction", exact, m{"ch": "app", "vip": true}, nil, vec(0, 1, 2, 1, 5, 1, 7+1*2+0, 1), 0, 0},
		{"exact interaction with missing", exact, m{"vip": true}, nil, vec(0, 1, 4, 1, 5, 1, 7+3*2+0, 1), 0, 1},
		{"exact interaction with false", exact, m{"ch": "web", "vip": false}, nil, vec(0, 1, 1, 1), 0, 0},
		// x: 1 value, 2 missing; ch: 3 web .. 6 missing; x x ch at 7, entry i*4+j.
		{"numeric x categorical", numcat, m{"x": 2.5, "ch": "app"}, nil, vec(0, 1, 1, 2.5, 4, 1, 7+0*4+1, 2.5), 0, 0},
		// city: 1-32 buckets, 33 missing; camp: 34-65, 66 missing; city x camp: 67-130.
		{"hashed interaction", hashint, m{"city": "Paris"}, m{"camp": "spring"}, vec(
			0, 1,
			float64(1+hashSlot("city", "Paris", 32)), 1,
			float64(34+hashSlot("camp", "spring", 32)), 1,
			float64(67+pairSlot(hashSlot("city", "Paris", 32), hashSlot("camp", "spring", 32))), 1), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustEncoder(t, tt.schema)
			var got Vector
			rep, err := e.Encode(tt.profile, tt.context, &got)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			checkInvariants(t, e, got)
			// 1e-15: the expected values are exact or one correctly rounded libm call.
			if !sameVector(got, tt.want, 1e-15) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if rep.Unknown != tt.unknown || rep.Missing != tt.missing {
				t.Errorf("report %+v, want unknown %d missing %d", rep, tt.unknown, tt.missing)
			}
		})
	}
}

func TestDim(t *testing.T) {
	tests := []struct {
		schema string
		dim    int
	}{
		{`fields: [{name: x, type: numeric}]`, 1 + 2},
		{`fields: [{name: x, type: numeric, buckets: [1, 2, 3]}]`, 1 + 5},
		{`fields: [{name: c, type: categorical, vocabulary: [a, b, c]}]`, 1 + 5},
		{`fields: [{name: c, type: categorical}]`, 1 + DefaultHashBuckets + 1},
		{`fields: [{name: b, type: boolean}]`, 1 + 2},
		{`{fields: [{name: c, type: categorical, vocabulary: [a, b]}, {name: b, type: boolean}], interactions: [[c, b]]}`, 1 + 4 + 2 + 8},
		{`{fields: [{name: c, type: categorical}, {name: d, type: categorical}], interactions: [[c, d]]}`, 1 + 33 + 33 + InteractionBuckets},
	}
	for _, tt := range tests {
		if got := mustEncoder(t, tt.schema).Dim(); got != tt.dim {
			t.Errorf("%s: Dim %d, want %d", tt.schema, got, tt.dim)
		}
	}
}

func TestStandardize(t *testing.T) {
	e := mustEncoder(t, `fields: [{name: x, type: numeric, clip: [0, 100], standardize: true}]`)
	var v Vector
	// Before MinObservations values the field encodes as 0: no entry.
	for i := 0; i < MinObservations-1; i++ {
		e.Observe(map[string]any{"x": float64(2 * (i % 2))}, nil)
	}
	if _, err := e.Encode(map[string]any{"x": 3.0}, nil, &v); err != nil {
		t.Fatal(err)
	}
	if !sameVector(v, vec(0, 1), 0) {
		t.Fatalf("before warm-up: %v, want the intercept only", v)
	}
	// Observe the 30th value: 30 values alternating 0 and 2, so mean 1 and sample
	// variance 30/29. Values that Encode would reject are skipped, and 500 is
	// clipped to 100 before it is counted, so it is left out of this sequence.
	e.Observe(map[string]any{"x": 2.0}, nil)
	e.Observe(map[string]any{"x": "not a number"}, nil)
	e.Observe(nil, nil)
	if _, err := e.Encode(map[string]any{"x": 3.0}, nil, &v); err != nil {
		t.Fatal(err)
	}
	want := (3 - 1) / math.Sqrt(30.0/29)
	if !sameVector(v, vec(0, 1, 1, want), 1e-12) {
		t.Fatalf("after warm-up: %v, want z %v", v, want)
	}
	// The clip applies before standardising: 500 -> 100, whose z of about 97 is then
	// clipped to MaxZ.
	if _, err := e.Encode(map[string]any{"x": 500.0}, nil, &v); err != nil {
		t.Fatal(err)
	}
	if !sameVector(v, vec(0, 1, 1, MaxZ), 0) {
		t.Fatalf("clipped: %v, want %v", v, MaxZ)
	}
	if _, err := e.Encode(map[string]any{"x": 0.0}, nil, &v); err != nil {
		t.Fatal(err)
	}
	if want := (0 - 1) / math.Sqrt(30.0/29); !sameVector(v, vec(0, 1, 1, want), 1e-12) {
		t.Fatalf("negative z: %v, want %v", v, want)
	}
	if got := e.FeatureName(1); got != "x (z)" {
		t.Errorf("FeatureName(1) = %q", got)
	}
}

func TestStandardizeConstant(t *testing.T) {
	// With zero variance there is no scale and no information: no entry.
	e := mustEncoder(t, `fields: [{name: x, type: numeric, standardize: true}]`)
	for i := 0; i < 2*MinObservations; i++ {
		e.Observe(map[string]any{"x": 7.0}, nil)
	}
	var v Vector
	if _, err := e.Encode(map[string]any{"x": 9.0}, nil, &v); err != nil {
		t.Fatal(err)
	}
	if !sameVector(v, vec(0, 1), 0) {
		t.Fatalf("got %v, want the intercept only", v)
	}
}

func TestEncodeErrors(t *testing.T) {
	const schema = `
fields:
  - {name: tenure, type: numeric}
  - {name: spend, type: numeric, log1p: true}
  - {name: channel, type: categorical, vocabulary: [web]}
  - {name: vip, type: boolean}
`
	type m = map[string]any
	tests := []struct {
		name    string
		profile m
		sentry  error
		msg     string
	}{
		{"string for number", m{"tenure": "12"}, ErrType, `field "tenure": want number, got string`},
		{"object for number", m{"tenure": m{}}, ErrType, `field "tenure": want number, got object`},
		{"NaN", m{"tenure": math.NaN()}, ErrValue, `field "tenure": NaN is not a finite number`},
		{"+Inf", m{"tenure": math.Inf(1)}, ErrValue, `field "tenure": +Inf is not a finite number`},
		{"-Inf float32", m{"tenure": float32(math.Inf(-1))}, ErrValue, `field "tenure": -Inf is not a finite number`},
		{"json.Number overflow", m{"tenure": json.Number("1e999")}, ErrValue, `field "tenure": number 1e999 overflows float64`},
		{"json.Number malformed", m{"tenure": json.Number("12abc")}, ErrType, `field "tenure": want number, got malformed json.Number "12abc"`},
		{"json.Number NaN", m{"tenure": json.Number("NaN")}, ErrValue, `field "tenure": NaN is not a finite number`},
		{"log1p of -1", m{"spend": -1}, ErrValue, `field "spend": log1p needs a value > -1, got -1`},
		{"log1p of -5", m{"spend": -5.0}, ErrValue, `field "spend": log1p needs a value > -1, got -5`},
		{"bool for categorical", m{"channel": true}, ErrType, `field "channel": want string, got boolean`},
		{"array for categorical", m{"channel": []any{"web"}}, ErrType, `field "channel": want string, got array`},
		{"NaN for categorical", m{"channel": math.NaN()}, ErrValue, `field "channel": NaN is not a finite number`},
		{"string for boolean", m{"vip": "maybe"}, ErrType, `field "vip": want boolean, got string "maybe"`},
		{"number for boolean", m{"vip": 2}, ErrType, `field "vip": want boolean, got number 2`},
		{"Go type", m{"tenure": []int{1}}, ErrType, `field "tenure": want number, got []int`},
	}
	e := mustEncoder(t, schema)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := vec(0, 1, 3, 4)
			_, err := e.Encode(tt.profile, nil, &v)
			if !errors.Is(err, tt.sentry) {
				t.Fatalf("err = %v, want %v", err, tt.sentry)
			}
			if err.Error() != tt.msg {
				t.Errorf("message %q, want %q", err.Error(), tt.msg)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Errorf("not a FieldError naming the field: %#v", err)
			}
			if len(v.Index) != 0 {
				t.Errorf("dst not emptied on error: %v", v)
			}
		})
	}
}

func TestInteractionOverflow(t *testing.T) {
	e := mustEncoder(t, `{fields: [{name: a, type: numeric}, {name: b, type: numeric}], interactions: [[a, b]]}`)
	var v Vector
	_, err := e.Encode(map[string]any{"a": 1e200, "b": 1e200}, nil, &v)
	if !errors.Is(err, ErrValue) || !strings.Contains(err.Error(), `"a x b"`) {
		t.Fatalf("err = %v, want ErrValue naming a x b", err)
	}
}

func TestFeatureName(t *testing.T) {
	e := mustEncoder(t, `
fields:
  - {name: age, source: profile, type: numeric, buckets: [30, 60]}
  - {name: tenure, source: profile, type: numeric, log1p: true, standardize: true}
  - {name: channel, source: context, type: categorical, vocabulary: [web, app]}
  - {name: city, source: context, type: categorical, hash_buckets: 4}
  - {name: vip, type: boolean}
interactions:
  - [channel, vip]
  - [city, age]
`)
	// Layout: age 1-4, tenure 5-6, channel 7-10, city 11-15, vip 16-17,
	// channel x vip 18-25 (4 x 2), city x age 26-45 (5 x 4).
	want := map[int]string{
		-1: "",
		0:  "intercept",
		1:  "profile.age < 30",
		2:  "30 <= profile.age < 60",
		3:  "profile.age >= 60",
		4:  "profile.age missing",
		5:  "log1p(profile.tenure) (z)",
		6:  "profile.tenure missing",
		7:  "context.channel=web",
		8:  "context.channel=app",
		9:  "context.channel=<other>",
		10: "context.channel missing",
		11: "hash bucket 0 of context.city",
		14: "hash bucket 3 of context.city",
		15: "context.city missing",
		16: "vip",
		17: "vip missing",
		18: "context.channel=web & vip",
		19: "context.channel=web & vip missing",
		25: "context.channel missing & vip missing",
		26: "hash bucket 0 of context.city & profile.age < 30",
		45: "context.city missing & profile.age missing",
		46: "",
	}
	if e.Dim() != 46 {
		t.Fatalf("Dim %d, want 46", e.Dim())
	}
	for i, w := range want {
		if got := e.FeatureName(i); got != w {
			t.Errorf("FeatureName(%d) = %q, want %q", i, got, w)
		}
	}
	for i := 0; i < e.Dim(); i++ {
		if e.FeatureName(i) == "" {
			t.Errorf("FeatureName(%d) empty", i)
		}
	}
}

func TestInspect(t *testing.T) {
	e := mustEncoder(t, `fields: [{name: x, source: profile, type: numeric}]`)
	profile := map[string]any{"x": 1.0, "zeta": 1, "alpha": 2}
	context := map[string]any{"x": 3.0}
	rep, err := e.Inspect(profile, context)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"context.x", "profile.alpha", "profile.zeta"}
	if rep.Unknown != 3 || !slices.Equal(rep.UnknownFields, want) {
		t.Errorf("Inspect = %+v, want 3 unknown %v", rep, want)
	}
	var v Vector
	if rep, _ := e.Encode(profile, context, &v); rep.UnknownFields != nil || rep.Unknown != 3 {
		t.Errorf("Encode report %+v, want count only", rep)
	}
	many := map[string]any{}
	for i := 0; i < 2*MaxReportedUnknown; i++ {
		many["k"+strconv.Itoa(100+i)] = i
	}
	rep, _ = e.Inspect(many, nil)
	if rep.Unknown != 2*MaxReportedUnknown || len(rep.UnknownFields) != MaxReportedUnknown || rep.UnknownFields[0] != "profile.k100" {
		t.Errorf("capped report %+v", rep)
	}
}

func TestDeterministic(t *testing.T) {
	e := benchEncoder(t)
	a := NewAutoEncoder(4) // 15 buckets: many collisions, so summation order matters
	for i := 0; i < 50; i++ {
		p, c := benchInput(i)
		e.Observe(p, c)
		a.Observe(p, c)
	}
	for _, enc := range []*Encoder{e, a} {
		p, c := benchInput(7)
		var first Vector
		if _, err := enc.Encode(p, c, &first); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			var v Vector
			if _, err := enc.Encode(p, c, &v); err != nil {
				t.Fatal(err)
			}
			if !sameVector(v, first, 0) {
				t.Fatalf("run %d differs:\n%v\n%v", i, v, first)
			}
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	e := benchEncoder(t)
	a := NewAutoEncoder(18)
	for i := 0; i < 100; i++ {
		p, c := benchInput(i)
		e.Observe(p, c)
		a.Observe(p, c)
	}
	p, c := benchInput(3)
	for _, enc := range []*Encoder{e, a} {
		var v Vector
		if _, err := enc.Encode(p, c, &v); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := enc.Encode(p, c, &v); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per Encode, want 0", enc.SchemaHash()[:8], allocs)
		}
	}
}

func TestConcurrent(t *testing.T) {
	e := benchEncoder(t)
	a := NewAutoEncoder(10)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v Vector
			for i := 0; i < 200; i++ {
				p, c := benchInput(g*1000 + i)
				for _, enc := range []*Encoder{e, a} {
					if g == 0 {
						enc.Observe(p, c)
					}
					if _, err := enc.Encode(p, c, &v); err != nil {
						t.Error(err)
						return
					}
					_ = enc.FeatureName(int(v.Index[len(v.Index)-1]))
				}
			}
		}()
	}
	wg.Wait()
}

func TestVectorSortTail(t *testing.T) {
	// Long enough for heapsort; entries 5 and 9 collide and 9's values cancel.
	v := vec(0, 1)
	for i := 0; i < 40; i++ {
		v.push(int32(40-i), float64(i+1))
	}
	v.push(5, 0.5)
	v.push(9, -32)
	v.sortTail(1)
	want := vec(0, 1)
	for i := int32(1); i <= 40; i++ {
		x := float64(41 - i)
		switch i {
		case 5:
			x += 0.5
		case 9:
			continue // 32 - 32
		}
		want.push(i, x)
	}
	if !sameVector(v, want, 0) {
		t.Fatalf("got %v\nwant %v", v, want)
	}
}

// benchEncoder compiles testdata/bench.yaml.
func benchEncoder(t testing.TB) *Encoder {
	t.Helper()
	b, err := os.ReadFile("testdata/bench.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return mustEncoder(t, string(b))
}

// benchInput returns the i'th synthetic profile and context for bench.yaml: every
// field present, values as encoding/json decodes them, varying with i.
func benchInput(i int) (profile, context map[string]any) {
	f := float64(i)
	pick := func(xs ...string) string { return xs[i%len(xs)] }
	profile = map[string]any{
		"age":              25 + math.Mod(f*7, 50),
		"tenure_days":      math.Mod(f*37, 3000),
		"income":           20000 + math.Mod(f*1234, 100000),
		"credit_score":     500 + math.Mod(f*13, 400),
		"avg_basket":       10 + math.Mod(f*3.7, 200),
		"days_since_login": math.Mod(f*11, 90),
		"purchases":        math.Mod(f*5, 40),
		"page_views":       math.Mod(f*17, 500),
		"support_tickets":  math.Mod(f, 4),
		"lifetime_value":   math.Mod(f*97, 20000),
		"balance":          math.Mod(f*311, 12000) - 500,
		"pdays":            math.Mod(f*41, 400) - 1,
		"segment":          pick("gold", "silver", "bronze", "new", "platinum"),
		"language":         pick("en", "fr", "de", "es", "it", "pt", "nl", "pl"),
		"plan":             pick("free", "basic", "pro", "enterprise"),
		"city":             pick("Paris", "Lyon", "Berlin", "Madrid", "Rome", "Porto"),
		"vip":              i%3 == 0,
		"newsletter":       i%2 == 0,
		"has_app":          i%5 != 0,
		"churn_risk":       i%7 == 0,
	}
	context = map[string]any{
		"hour":             math.Mod(f, 24),
		"session_seconds":  math.Mod(f*23, 1800),
		"cart_items":       math.Mod(f, 12),
		"channel":          pick("web", "app", "email", "sms", "store"),
		"device":           pick("desktop", "mobile", "tablet"),
		"weekday":          pick("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
		"campaign_id":      pick("spring-sale", "summer", "black-friday", "xmas"),
		"referrer":         pick("google", "facebook", "newsletter", "direct"),
		"product_category": pick("shoes", "books", "garden", "toys", "music", "food"),
		"logged_in":        i%4 != 0,
	}
	return profile, context
}
