package features

import "math"

// MinObservations is how many values Observe must have seen for a field before Encode
// standardises it; until then the field encodes as 0, its expected z-score, which carries
// no information (and so cannot swamp a fresh model with raw magnitudes such as a balance
// of 25,000). 30 is the usual rule of thumb for a sample mean and standard deviation to
// be usable.
const MinObservations = 30

// MaxZ clips standardised values to [-MaxZ, MaxZ], so that one outlier (a balance a
// thousand standard deviations out) cannot dominate a logit. Under a normal distribution
// |z| > 5 has probability 5.7e-7.
const MaxZ = 5

// stat holds the running count, mean and sum of squared deviations of one field,
// updated with Welford's method (B. P. Welford, Technometrics 4(3):419-420, 1962;
// Knuth, TAOCP vol. 2, 3rd ed., section 4.2.2, p. 232):
//
//	n += 1; d = x - mean; mean += d/n; m2 += d*(x - mean)
//
// The sample variance is m2/(n-1).
type stat struct {
	n    uint64
	mean float64
	m2   float64
}

// add folds x into s. A value that would make the running sums overflow is ignored.
func (s *stat) add(x float64) {
	n := s.n + 1
	d := x - s.mean
	mean := s.mean + d/float64(n)
	m2 := s.m2 + d*(x-mean)
	if math.IsNaN(mean) || math.IsInf(mean, 0) || math.IsNaN(m2) || math.IsInf(m2, 0) || m2 < 0 {
		return
	}
	s.n, s.mean, s.m2 = n, mean, m2
}

// variance is the sample variance m2/(n-1), 0 for fewer than two values.
func (s stat) variance() float64 {
	if s.n < 2 {
		return 0
	}
	return s.m2 / float64(s.n-1)
}

// standardize returns (x-mean)/sd clipped to [-MaxZ, MaxZ] once n >= MinObservations
// and sd > 0, and 0 (no information) before that or for a constant field. ok is false
// when the result is not a number.
func (s stat) standardize(x float64) (z float64, ok bool) {
	if s.n < MinObservations {
		return 0, true
	}
	sd := math.Sqrt(s.variance())
	if !(sd > 0) {
		return 0, true
	}
	z = (x - s.mean) / sd
	if math.IsNaN(z) {
		return 0, false
	}
	return max(-MaxZ, min(MaxZ, z)), true
}

// valid reports whether s could have been produced by add.
func (s stat) valid() bool {
	return !math.IsNaN(s.mean) && !math.IsInf(s.mean, 0) && !math.IsNaN(s.m2) && !math.IsInf(s.m2, 0) && s.m2 >= 0 && (s.n > 0 || s.mean == 0 && s.m2 == 0)
}
