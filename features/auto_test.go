package features

import (
	"errors"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// autoVector builds the documented auto encoding of named features: intercept, then
// for each name the dimension 1 + xxhash64(name) mod (2^bits - 1), values summed.
func autoVector(bits int, features map[string]float64) Vector {
	sum := map[int32]float64{}
	for name, x := range features {
		sum[int32(1+xxhash.Sum64String(name)%(1<<bits-1))] += x
	}
	idx := make([]int32, 0, len(sum))
	for i := range sum {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	v := vec(0, 1)
	for _, i := range idx {
		v.push(i, sum[i])
	}
	return v
}

func TestAutoEncode(t *testing.T) {
	const bits = 20
	e := NewAutoEncoder(bits)
	if e.Dim() != 1<<bits {
		t.Fatalf("Dim %d", e.Dim())
	}
	profile := map[string]any{
		"age":   42.0, // no statistics yet: encodes as 0, so no entry
		"city":  "Paris",
		"vip":   true,
		"off":   false,
		"none":  nil,
		"tags":  []any{"a", "b"},
		"geo":   map[string]any{"zip": "75001", "lat": 48.5},
		"count": 0, // zero: no entry
	}
	context := map[string]any{"channel": "web", "city": "Lyon"}
	var v Vector
	rep, err := e.Encode(profile, context, &v)
	if err != nil {
		t.Fatal(err)
	}
	want := autoVector(bits, map[string]float64{
		"profile.city=Paris":    1,
		"profile.vip":           1,
		"profile.tags=a":        1,
		"profile.tags=b":        1,
		"profile.geo.zip=75001": 1,
		"context.channel=web":   1,
		"context.city=Lyon":     1,
	})
	if !sameVector(v, want, 0) {
		t.Errorf("got  %v\nwant %v", v, want)
	}
	if rep.Missing != 1 || rep.Unknown != 0 {
		t.Errorf("report %+v, want 1 missing", rep)
	}
	checkInvariants(t, e, v)
}

func TestAutoSourcesDiffer(t *testing.T) {
	e := NewAutoEncoder(20)
	var p, c Vector
	if _, err := e.Encode(map[string]any{"x": "y"}, nil, &p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Encode(nil, map[string]any{"x": "y"}, &c); err != nil {
		t.Fatal(err)
	}
	if p.Index[1] == c.Index[1] {
		t.Errorf("profile.x=y and context.x=y share dimension %d", p.Index[1])
	}
}

func TestAutoStandardize(t *testing.T) {
	e := NewAutoEncoder(16)
	var xs []float64
	for i := 0; i < MinObservations; i++ {
		x := float64(i * i)
		xs = append(xs, x)
		e.Observe(map[string]any{"spend": x}, map[string]any{"spend": 1.0})
	}
	mean, variance := twoPass(xs)
	var v Vector
	if _, err := e.Encode(map[string]any{"spend": 100.0}, nil, &v); err != nil {
		t.Fatal(err)
	}
	want := autoVector(16, map[string]float64{"profile.spend": (100 - mean) / math.Sqrt(variance)})
	if !sameVector(v, want, 1e-12) {
		t.Errorf("got %v, want %v", v, want)
	}
	// context.spend has its own statistics: always 1, so zero variance: no information,
	// no entry.
	if _, err := e.Encode(nil, map[string]any{"spend": 3.0}, &v); err != nil {
		t.Fatal(err)
	}
	if want := autoVector(16, map[string]float64{}); !sameVector(v, want, 0) {
		t.Errorf("got %v, want %v", v, want)
	}
}

func TestAutoUnknownAndInspect(t *testing.T) {
	e := NewAutoEncoder(12)
	deep := map[string]any{"l5": "x"}
	for _, k := range []string{"l4", "l3", "l2", "l1"} {
		deep = map[string]any{k: deep}
	}
	profile := map[string]any{
		"scores": []any{1.0, 2.0}, // not strings: skipped
		"mixed":  []any{"a", 1.0}, // "a" encoded, the number skipped
		"deep":   deep,            // deep.l1.l2.l3.l4 is the deepest object flattened
	}
	rep, err := e.Inspect(profile, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"profile.deep.l1.l2.l3.l4", "profile.mixed", "profile.scores"}
	if rep.Unknown != 3 || !slices.Equal(rep.UnknownFields, want) {
		t.Errorf("report %+v, want unknown %v", rep, want)
	}
	var v Vector
	rep, err = e.Encode(profile, nil, &v)
	if err != nil || rep.Unknown != 3 || rep.UnknownFields != nil {
		t.Errorf("Encode report %+v, %v", rep, err)
	}
	if want := autoVector(12, map[string]float64{"profile.mixed=a": 1}); !sameVector(v, want, 0) {
		t.Errorf("got %v, want %v", v, want)
	}
}

func TestAutoErrors(t *testing.T) {
	e := NewAutoEncoder(8)
	tests := []struct {
		profile, context map[string]any
		sentry           error
		msg              string
	}{
		{map[string]any{"geo": map[string]any{"lat": math.NaN()}}, nil, ErrValue, `field "profile.geo.lat": NaN is not a finite number`},
		{nil, map[string]any{"t": math.Inf(1)}, ErrValue, `field "context.t": +Inf is not a finite number`},
		{map[string]any{"ids": []int{1}}, nil, ErrType, `field "profile.ids": want number, string, boolean, null, object or array, got []int`},
	}
	for _, tt := range tests {
		var v Vector
		_, err := e.Encode(tt.profile, tt.context, &v)
		if !errors.Is(err, tt.sentry) || err.Error() != tt.msg {
			t.Errorf("err = %v, want %q", err, tt.msg)
		}
		if len(v.Index) != 0 {
			t.Errorf("dst not emptied: %v", v)
		}
	}
}

func TestAutoFeatureName(t *testing.T) {
	e := NewAutoEncoder(20)
	p := map[string]any{"city": "Paris", "age": 30.0}
	var v Vector
	names := func() []string {
		if _, err := e.Encode(p, nil, &v); err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, i := range v.Index {
			ns = append(ns, e.FeatureName(int(i)))
		}
		sort.Strings(ns)
		return ns
	}
	// Before any Observe: the city's slot has no name yet, and age (no statistics)
	// encodes as 0, so it has no entry.
	before := names()
	if len(before) != 2 || before[1] != "intercept" || !strings.HasPrefix(before[0], "hash:") {
		t.Errorf("before Observe: %v", before)
	}
	for i := range MinObservations {
		e.Observe(map[string]any{"city": "Paris", "age": float64(20 + i)}, nil)
	}
	if got, want := names(), []string{"intercept", "profile.age", "profile.city=Paris"}; !slices.Equal(got, want) {
		t.Errorf("after Observe: %v, want %v", got, want)
	}
	if e.FeatureName(e.Dim()) != "" || e.FeatureName(-1) != "" {
		t.Error("out-of-range names not empty")
	}
}

func TestAutoNestedNames(t *testing.T) {
	e := NewAutoEncoder(20)
	ctx := map[string]any{"plan": map[string]any{"tier": "pro", "gb": 20.0, "roaming": true}, "tags": []any{"a"}}
	for range MinObservations {
		e.Observe(nil, ctx)
	}
	var v Vector
	if _, err := e.Encode(nil, ctx, &v); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range v.Index {
		got = append(got, e.FeatureName(int(i)))
	}
	sort.Strings(got)
	// gb is 20 in every observation, so it standardises to 0 and has no entry.
	if want := []string{"context.plan.roaming", "context.plan.tier=pro", "context.tags=a", "intercept"}; !slices.Equal(got, want) {
		t.Errorf("names %v, want %v", got, want)
	}
}

func TestAutoCollisionName(t *testing.T) {
	e := NewAutoEncoder(1) // one bucket after the intercept: everything collides
	e.Observe(map[string]any{"a": "x", "b": "y"}, nil)
	if got := e.FeatureName(1); !strings.HasSuffix(got, collidedSuffix) {
		t.Errorf("FeatureName(1) = %q, want a collision note", got)
	}
}

func TestAutoHashAndBits(t *testing.T) {
	if NewAutoEncoder(10).SchemaHash() != NewAutoEncoder(10).SchemaHash() {
		t.Error("hash not deterministic")
	}
	if NewAutoEncoder(10).SchemaHash() == NewAutoEncoder(11).SchemaHash() {
		t.Error("hash ignores bits")
	}
	if d := NewAutoEncoder(0).Dim(); d != 1<<MinAutoBits {
		t.Errorf("bits 0: Dim %d", d)
	}
	if d := NewAutoEncoder(99).Dim(); d != 1<<MaxAutoBits {
		t.Errorf("bits 99: Dim %d", d)
	}
}

// TestAutoLongNames checks names too long for the walk's stack buffer, which it hashes
// by streaming their parts: the encoding must still be the documented one.
func TestAutoLongNames(t *testing.T) {
	e := NewAutoEncoder(20)
	long := strings.Repeat("k", 300)
	profile := map[string]any{
		long: "v",
		"n":  map[string]any{long: []any{long}},
		"s":  long,
		"o":  map[string]any{long: map[string]any{"a": "b"}}, // a long object name
	}
	var v Vector
	if _, err := e.EncodeObserve(profile, nil, &v); err != nil {
		t.Fatal(err)
	}
	want := autoVector(20, map[string]float64{
		"profile." + long + "=v":         1,
		"profile.n." + long + "=" + long: 1,
		"profile.s=" + long:              1,
		"profile.o." + long + ".a=b":     1,
	})
	if !sameVector(v, want, 0) {
		t.Errorf("got  %v\nwant %v", v, want)
	}
	for _, i := range want.Index[1:] {
		if got := e.FeatureName(int(i)); !strings.HasPrefix(got, "profile.") || len(got) < 300 {
			t.Errorf("FeatureName(%d) = %q", i, got)
		}
	}
}
