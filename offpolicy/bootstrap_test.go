package offpolicy

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

func TestPoissonCounts(t *testing.T) {
	// 10⁶ Poisson(1) counts against the pmf e⁻¹/k! (gonum's distuv.Poisson,
	// an independent implementation). Each frequency has binomial standard
	// error sqrt(p(1−p)/N); 5 SE keeps the 8 checks below a 10⁻⁵ false alarm.
	const n = 1_000_000
	r := NewResampler(1000, rand.NewPCG(17, 5))
	freq := make([]float64, 20)
	var dst []float64
	var m moments
	for range n / 1000 {
		dst = r.Counts(dst)
		for _, c := range dst {
			freq[int(c)]++
			m.add(c)
		}
	}
	pois := distuv.Poisson{Lambda: 1}
	for k := 0; k < 8; k++ {
		p := pois.Prob(float64(k))
		se := math.Sqrt(p * (1 - p) / n)
		if got := freq[k] / n; math.Abs(got-p) > 5*se+1e-12 {
			t.Errorf("P(K=%d) = %v, want %v ± %v", k, got, p, 5*se)
		}
	}
	// Mean 1 and variance 1: SE of the mean 1/√N = 0.001; of the variance
	// sqrt((μ₄ − σ⁴)/N) = sqrt((4 − 1)/N) ≈ 0.0017 (Poisson(1) has μ₄ = 4).
	checkClose(t, "mean count", m.mean, 1, 5e-3)
	checkClose(t, "count variance", m.variance(), 1, 9e-3)
}

// TestPoissonBootstrapMatchesClassical compares the one-pass Poisson
// bootstrap with the classical bootstrap (n draws with replacement) on one
// data set: their standard errors and percentile ends agree within Monte
// Carlo error.
func TestPoissonBootstrapMatchesClassical(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 6))
	w := newWorld(rng, 10, 4, 0.15, []float64{0.1})
	const n, b = 400, 4000
	rs := make([]Record, n)
	for i := range rs {
		rs[i] = w.record(w.draw(rng), w.targets[0])
	}
	s, _ := NewSummary(Config{Bootstrap: b})
	res := NewResampler(b, rand.NewPCG(17, 7))
	var counts []float64
	for _, r := range rs {
		counts = res.Counts(counts)
		_ = s.Add(r, counts)
	}
	rep := s.Report()

	// The classical bootstrap, written out: resample n indices, recompute.
	classical := map[Method][]float64{}
	for range b {
		var wr, sw, dr float64
		for range n {
			r := rs[rng.IntN(n)]
			wt := r.Target / r.Logging
			wr += wt * r.Reward
			sw += wt
			dr += r.ModelTarget + wt*(r.Reward-r.Model)
		}
		classical[MethodIPS] = append(classical[MethodIPS], wr/n)
		classical[MethodSNIPS] = append(classical[MethodSNIPS], wr/sw)
		classical[MethodDR] = append(classical[MethodDR], dr/n)
	}
	for m, reps := range classical {
		e, _ := rep.Estimate(m)
		sd := stat.StdDev(reps, nil)
		// The SD of B = 4000 replicates has relative Monte Carlo error about
		// sqrt(2/(4B)) ≈ 1.1% each, so two independent ones differ by about
		// 1.6%; the Poisson and the multinomial bootstrap differ by O(1/n).
		// Tolerance 6% (about 4 SE).
		if math.Abs(e.BootstrapSE/sd-1) > 0.06 {
			t.Errorf("%s: Poisson bootstrap SE %v, classical %v", m, e.BootstrapSE, sd)
		}
		// Percentile ends: the 2.5% quantile of B = 4000 normal replicates has
		// SD sqrt(0.025·0.975/B)/φ(1.96) ≈ 0.042 SE, 0.06 SE for a
		// difference; tolerance 0.25 SE.
		slices.Sort(reps)
		lo := stat.Quantile(0.025, stat.LinInterp, reps, nil)
		hi := stat.Quantile(0.975, stat.LinInterp, reps, nil)
		if math.Abs(e.Bootstrap.Lo-lo) > 0.25*sd || math.Abs(e.Bootstrap.Hi-hi) > 0.25*sd {
			t.Errorf("%s: Poisson bootstrap interval %+v, classical [%v, %v] (SD %v)", m, e.Bootstrap, lo, hi, sd)
		}
		// And both agree with the normal-theory SE to the same accuracy,
		// plus the delta method's O(1/n) for SNIPS.
		if math.Abs(e.SE/sd-1) > 0.08 {
			t.Errorf("%s: normal SE %v, classical bootstrap %v", m, e.SE, sd)
		}
		t.Logf("%s: value %.5f, normal SE %.5f, Poisson bootstrap SE %.5f [%.5f, %.5f], classical SE %.5f [%.5f, %.5f]",
			m, e.Value, e.SE, e.BootstrapSE, e.Bootstrap.Lo, e.Bootstrap.Hi, sd, lo, hi)
	}
}

func TestQuantile7(t *testing.T) {
	// numpy.percentile([1, 2, 3, 4], 25) = 1.75 and (…, 97.5) = 3.925
	// (h = 3·0.975 = 2.925: 3 + 0.925·1), by the type-7 rule.
	x := []float64{1, 2, 3, 4}
	checkClose(t, "q25", quantile7(x, 0.25), 1.75, 1e-15)
	checkClose(t, "q97.5", quantile7(x, 0.975), 3.925, 1e-15)
	checkClose(t, "q100", quantile7(x, 1), 4, 0)
	checkClose(t, "q0", quantile7(x, 0), 1, 0)
	// NaN replicates are dropped.
	iv := PercentileInterval([]float64{4, math.NaN(), 1, 3, 2}, 0.5)
	checkClose(t, "lo", iv.Lo, 1.75, 1e-15)
	checkClose(t, "hi", iv.Hi, 3.25, 1e-15)
}
