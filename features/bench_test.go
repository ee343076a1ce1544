package features

import "testing"

// BenchmarkEncode measures Encode on 30 fields: testdata/bench.yaml for the schema
// encoder (see its header for the mix), and the same inputs through an auto encoder
// with 2^18 dimensions. Statistics are warmed up so that standardisation runs.
func BenchmarkEncode(b *testing.B) {
	const inputs = 64
	var profiles, contexts [inputs]map[string]any
	for i := range inputs {
		profiles[i], contexts[i] = benchInput(i)
	}
	run := func(b *testing.B, e *Encoder) {
		for i := range inputs {
			for range MinObservations {
				e.Observe(profiles[i], contexts[i])
			}
		}
		var v Vector
		if _, err := e.Encode(profiles[0], contexts[0], &v); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			k := i % inputs
			if _, err := e.Encode(profiles[k], contexts[k], &v); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("fields=30", func(b *testing.B) { run(b, benchEncoder(b)) })
	b.Run("auto/fields=30", func(b *testing.B) { run(b, NewAutoEncoder(18)) })
}

// BenchmarkObserve measures Observe on the same 30 fields through an auto encoder whose
// names are already remembered: the steady state of a running service.
func BenchmarkObserve(b *testing.B) {
	const inputs = 64
	var profiles, contexts [inputs]map[string]any
	for i := range inputs {
		profiles[i], contexts[i] = benchInput(i)
	}
	e := NewAutoEncoder(18)
	for i := range inputs {
		e.Observe(profiles[i], contexts[i])
	}
	b.Run("auto/fields=30", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e.Observe(profiles[i%inputs], contexts[i%inputs])
		}
	})
}
