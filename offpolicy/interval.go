package offpolicy

import (
	"math"
	"slices"
)

// DefaultLevel is the two-sided confidence level used when a Config or an
// Estimate call gives 0.
const DefaultLevel = 0.95

// Interval is a two-sided interval [Lo, Hi]. Both ends are NaN when the
// interval was not computed or is not defined.
type Interval struct {
	Lo, Hi float64
}

// noInterval is the interval of an estimate that does not have one.
var noInterval = Interval{math.NaN(), math.NaN()}

// Valid reports whether both ends are numbers.
func (i Interval) Valid() bool { return !math.IsNaN(i.Lo) && !math.IsNaN(i.Hi) }

// Contains reports whether v lies in [Lo, Hi]; false for an invalid interval.
func (i Interval) Contains(v float64) bool { return i.Valid() && i.Lo <= v && v <= i.Hi }

// Width is Hi − Lo.
func (i Interval) Width() float64 { return i.Hi - i.Lo }

func resolveLevel(level float64) float64 {
	if level == 0 {
		return DefaultLevel
	}
	return level
}

// zQuantile is Φ⁻¹(1 − α/2) for the two-sided level 1 − α: √2·erf⁻¹(level).
func zQuantile(level float64) float64 {
	return math.Sqrt2 * math.Erfinv(resolveLevel(level))
}

// normalInterval is v ± z·se.
func normalInterval(v, se, level float64) Interval {
	if math.IsNaN(v) || math.IsNaN(se) {
		return noInterval
	}
	h := zQuantile(level) * se
	return Interval{v - h, v + h}
}

// bernstein is the two-sided empirical-Bernstein interval for the mean of n
// i.i.d. terms in [lo, hi] with sample mean mean and unbiased sample variance
// variance (Maurer & Pontil 2009, Theorem 4, applied to each tail at α/2):
//
//	h = sqrt(2·variance·ln(4/α)/n) + 7·(hi − lo)·ln(4/α)/(3(n − 1))
//
// and the interval is [mean − h, mean + h] clipped to [lo, hi]. It holds with
// probability at least 1 − α for every n ≥ 2; NaN for n < 2.
func bernstein(mean, variance, n, lo, hi, level float64) Interval {
	if n < 2 || math.IsNaN(mean) || math.IsNaN(variance) {
		return noInterval
	}
	l := math.Log(4 / (1 - resolveLevel(level)))
	h := math.Sqrt(2*variance*l/n) + 7*(hi-lo)*l/(3*(n-1))
	return Interval{math.Max(lo, mean-h), math.Min(hi, mean+h)}
}

// PercentileInterval is the bootstrap percentile interval at level (0 means
// DefaultLevel): the α/2 and 1 − α/2 quantiles of the replicate estimates, by
// linear interpolation between order statistics (Hyndman & Fan 1996, type 7,
// numpy's default). NaN replicates (an empty resample) are dropped; fewer
// than two left give no interval. It sorts reps in place. Callers use it for
// functions of the replicates, such as the paired difference of two
// estimators over the same resamples (Summary.Replicates).
func PercentileInterval(reps []float64, level float64) Interval {
	reps = slices.DeleteFunc(reps, math.IsNaN)
	if len(reps) < 2 {
		return noInterval
	}
	slices.Sort(reps)
	a := 1 - resolveLevel(level)
	return Interval{quantile7(reps, a/2), quantile7(reps, 1-a/2)}
}

// quantile7 is the type-7 quantile of sorted x: h = (n−1)p, then
// x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]).
func quantile7(x []float64, p float64) float64 {
	h := float64(len(x)-1) * p
	i := int(math.Floor(h))
	if i >= len(x)-1 {
		return x[len(x)-1]
	}
	return x[i] + (h-float64(i))*(x[i+1]-x[i])
}

// sdOf is the unbiased standard deviation of the non-NaN values of x.
func sdOf(x []float64) float64 {
	var m moments
	for _, v := range x {
		if !math.IsNaN(v) {
			m.add(v)
		}
	}
	return math.Sqrt(m.variance())
}
