package offpolicy

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchPool is a pool of synthetic logged decisions seen through five
// target policies; the benchmarks cycle through it so that they time the
// estimators, not the data generator.
func benchPool() [][5]Record {
	rng := rand.New(rand.NewPCG(17, 13))
	// 20 candidates as in the sizing; targets from near-deterministic
	// to smooth, one fully deterministic.
	w := newWorld(rng, 200, 20, 0.3, []float64{0, 0.05, 0.1, 0.3, 1})
	pool := make([][5]Record, 1<<14)
	for i := range pool {
		d := w.draw(rng)
		for j := range pool[i] {
			pool[i][j] = w.record(d, w.targets[j])
		}
	}
	return pool
}

// BenchmarkEvaluate is one pass over 1,000,000 logged decisions into the
// summaries of five target policies (every estimator, the weight
// diagnostics and, when B > 0, B bootstrap replicates whose counts are drawn
// once per decision), then their reports. One op is the whole pass; ns/record
// is per decision (all five policies).
func BenchmarkEvaluate(b *testing.B) {
	const n = 1_000_000
	pool := benchPool()
	mask := len(pool) - 1
	for _, boot := range []int{0, 100, 200} {
		b.Run(fmt.Sprintf("B=%d", boot), func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuNanos()
			for b.Loop() {
				var sums [5]*Summary
				for j := range sums {
					sums[j], _ = NewSummary(Config{Bootstrap: boot})
				}
				res := NewResampler(boot, rand.NewPCG(1, 2))
				var counts []float64
				for i := range n {
					if boot > 0 {
						counts = res.Counts(counts)
					}
					recs := &pool[i&mask]
					for j, s := range sums {
						if err := s.Add(recs[j], counts); err != nil {
							b.Fatal(err)
						}
					}
				}
				for _, s := range sums {
					s.Report()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/record")
			b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N)/n, "cpu-ns/record")
		})
	}
}

// BenchmarkSummaryAdd is one Add of one record into one target policy's
// Summary, without a bootstrap.
func BenchmarkSummaryAdd(b *testing.B) {
	pool := benchPool()
	mask := len(pool) - 1
	s, _ := NewSummary(Config{})
	b.ReportAllocs()
	i := 0
	cpu0 := cpuNanos()
	for b.Loop() {
		_ = s.Add(pool[i&mask][1], nil)
		i++
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkResamplerCounts is the draw of B = 100 Poisson(1) counts for one
// decision.
func BenchmarkResamplerCounts(b *testing.B) {
	r := NewResampler(100, rand.NewPCG(1, 2))
	dst := make([]float64, 100)
	b.ReportAllocs()
	cpu0 := cpuNanos()
	for b.Loop() {
		dst = r.Counts(dst)
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkReplicatesAdd is the bootstrap part of one Add: B = 100
// replicate rows updated for one record of one target policy.
func BenchmarkReplicatesAdd(b *testing.B) {
	pool := benchPool()
	res := NewResampler(100, rand.NewPCG(1, 2))
	counts := res.Counts(nil)
	rs := make(replicates, 100*bStride)
	var sh terms
	r := pool[0][1]
	w := r.Weight()
	sh.shrinkTerms(r, w)
	b.ReportAllocs()
	cpu0 := cpuNanos()
	for b.Loop() {
		rs.add(counts, r, w, &sh)
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
}
