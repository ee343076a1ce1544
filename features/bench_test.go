package features

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// benchInputs is how many distinct inputs a benchmark cycles through.
const benchInputs = 64

// decideInput returns the i'th input shaped like a /v1/decide call of the HTTP load
// test (bench/loadtest.go, setupCatalog and decideRequests): a profile of 6
// attributes (2 numbers, 3 strings, 1 boolean) and a context of 30 fields (12 numbers,
// 12 strings drawn from 8 words, 6 booleans), with values as encoding/json decodes them.
func decideInput(i int) (profile, context map[string]any) {
	r := rand.New(rand.NewPCG(uint64(i), 0xdec1de))
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	profile = map[string]any{
		"tenure_months":   float64(r.IntN(120)),
		"monthly_spend":   math.Round(r.Float64()*8000) / 100,
		"plan":            []string{"prepaid", "basic", "plus", "premium"}[r.IntN(4)],
		"segment":         []string{"student", "family", "business", "senior", "young_pro"}[r.IntN(5)],
		"has_device_plan": r.IntN(2) == 0,
		"region":          "r" + strconv.Itoa(r.IntN(8)),
	}
	context = make(map[string]any, 30)
	for j := range 12 {
		context["num_"+itoa(j+1)] = math.Round(r.NormFloat64()*1000+float64(j)*10) / 100
	}
	for j := range 12 {
		context["str_"+itoa(j+1)] = words[r.IntN(len(words))]
	}
	for j := range 6 {
		context["flag_"+itoa(j+1)] = r.IntN(2) == 0
	}
	return profile, context
}

// benchCase is one encoder and the inputs a benchmark feeds it.
type benchCase struct {
	name               string
	enc                func(testing.TB) *Encoder
	profiles, contexts [benchInputs]map[string]any
}

// benchCases returns the benchmark workloads: the 30 fields of testdata/bench.yaml
// through the schema encoder and an auto encoder with 2^18 dimensions, and the load
// test's decide input through an auto encoder with 2^12 dimensions, the engine's
// default (engine.Options.AutoFeatureBits).
func benchCases() []*benchCase {
	cases := []*benchCase{
		{name: "fields=30", enc: benchEncoder},
		{name: "auto/fields=30", enc: func(testing.TB) *Encoder { return NewAutoEncoder(18) }},
		{name: "auto/decide", enc: func(testing.TB) *Encoder { return NewAutoEncoder(12) }},
	}
	for _, c := range cases {
		input := benchInput
		if c.name == "auto/decide" {
			input = decideInput
		}
		for i := range benchInputs {
			c.profiles[i], c.contexts[i] = input(i)
		}
	}
	return cases
}

// warm returns c's encoder after MinObservations observations of every input, so that
// standardisation runs and every name is remembered: the steady state of a running
// service.
func (c *benchCase) warm(b *testing.B) *Encoder {
	e := c.enc(b)
	for i := range benchInputs {
		for range MinObservations {
			e.Observe(c.profiles[i], c.contexts[i])
		}
	}
	return e
}

// BenchmarkEncode measures Encode on the benchCases workloads with warm statistics.
func BenchmarkEncode(b *testing.B) {
	benchEach(b, func(e *Encoder, p, c map[string]any, v *Vector) error {
		_, err := e.Encode(p, c, v)
		return err
	})
}

// BenchmarkObserve measures Observe on the benchCases workloads with warm statistics.
func BenchmarkObserve(b *testing.B) {
	benchEach(b, func(e *Encoder, p, c map[string]any, _ *Vector) error {
		e.Observe(p, c)
		return nil
	})
}

// BenchmarkEncodeThenObserve measures Encode followed by Observe, what the engine did
// on every decision before EncodeObserve.
func BenchmarkEncodeThenObserve(b *testing.B) {
	benchEach(b, encodeThenObserve)
}

// BenchmarkEncodeThenObserveParallel is BenchmarkEncodeThenObserve from GOMAXPROCS
// goroutines sharing one encoder, as concurrent decisions do.
func BenchmarkEncodeThenObserveParallel(b *testing.B) {
	benchEachParallel(b, encodeThenObserve)
}

// BenchmarkEncodeObserve measures EncodeObserve, which replaces the two calls of
// BenchmarkEncodeThenObserve.
func BenchmarkEncodeObserve(b *testing.B) {
	benchEach(b, encodeObserve)
}

// BenchmarkEncodeObserveParallel is BenchmarkEncodeObserve from GOMAXPROCS goroutines
// sharing one encoder, to compare with BenchmarkEncodeThenObserveParallel: for the
// auto encoder, EncodeObserve holds the write lock for its one walk, where Encode and
// Observe hold the read lock for one walk and the write lock for another.
func BenchmarkEncodeObserveParallel(b *testing.B) {
	benchEachParallel(b, encodeObserve)
}

func encodeThenObserve(e *Encoder, p, c map[string]any, v *Vector) error {
	if _, err := e.Encode(p, c, v); err != nil {
		return err
	}
	e.Observe(p, c)
	return nil
}

func encodeObserve(e *Encoder, p, c map[string]any, v *Vector) error {
	_, err := e.EncodeObserve(p, c, v)
	return err
}

// benchEach runs call on each of benchCases' workloads with warm statistics, cycling
// through its inputs.
func benchEach(b *testing.B, call func(e *Encoder, profile, context map[string]any, v *Vector) error) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			e := c.warm(b)
			var v Vector
			if err := call(e, c.profiles[0], c.contexts[0], &v); err != nil { // v's buffers grown
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				k := i % benchInputs
				if err := call(e, c.profiles[k], c.contexts[k], &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchEachParallel is benchEach from GOMAXPROCS goroutines sharing one encoder.
func benchEachParallel(b *testing.B, call func(e *Encoder, profile, context map[string]any, v *Vector) error) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			e := c.warm(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var v Vector
				for i := 0; pb.Next(); i++ {
					k := i % benchInputs
					if err := call(e, c.profiles[k], c.contexts[k], &v); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSortTail measures sortTail on n random entries with indices below 2^12, as
// an auto encoding with the engine's default bits has: 40 is the decide input's
// length, and the others sit on either side of its switches between sorts.
func BenchmarkSortTail(b *testing.B) {
	for _, n := range []int{24, 40, 100, 300} {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			in := make([]Vector, benchInputs)
			for k := range in {
				for range n {
					in[k].push(int32(1+r.IntN(1<<12-1)), r.NormFloat64())
				}
			}
			var v Vector
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s := in[i%benchInputs]
				v.Index = append(v.Index[:0], s.Index...)
				v.Value = append(v.Value[:0], s.Value...)
				v.sortTail(0)
			}
		})
	}
}
