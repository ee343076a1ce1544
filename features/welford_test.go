package features

import (
	"math"
	"math/rand/v2"
	"testing"
)

// twoPass is the textbook mean and sample variance: sum/n, then sum((x-mean)^2)/(n-1).
func twoPass(xs []float64) (mean, variance float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		variance += (x - mean) * (x - mean)
	}
	return mean, variance / float64(len(xs)-1)
}

func TestWelfordMatchesTwoPass(t *testing.T) {
	// Offsets up to 1e6 with spread 10 are where the naive sum-of-squares formula
	// loses digits and Welford's does not.
	rng := rand.New(rand.NewPCG(1962, 419))
	for _, tc := range []struct {
		n            int
		offset, sd   float64
		distribution string
	}{
		{2, 0, 1, "normal"},
		{30, 5, 2, "normal"},
		{1000, 1e6, 10, "normal"},
		{10000, -3, 0.001, "normal"},
		{5000, 0, 1, "exponential"},
	} {
		xs := make([]float64, tc.n)
		var s stat
		for i := range xs {
			if tc.distribution == "exponential" {
				xs[i] = rng.ExpFloat64()
			} else {
				xs[i] = tc.offset + tc.sd*rng.NormFloat64()
			}
			s.add(xs[i])
		}
		mean, variance := twoPass(xs)
		// 1e-9 relative: both are backward stable; the two-pass result is the
		// reference (Chan, Golub and LeVeque, "Algorithms for computing the sample
		// variance", The American Statistician 37(3), 1983).
		if s.n != uint64(tc.n) || !close(s.mean, mean, 1e-9) || !close(s.variance(), variance, 1e-9) {
			t.Errorf("n=%d offset=%g: Welford (%d, %v, %v), two-pass (%v, %v)", tc.n, tc.offset, s.n, s.mean, s.variance(), mean, variance)
		}
	}
}

func TestObserveStandardizesWithTwoPassMoments(t *testing.T) {
	e := mustEncoder(t, `fields: [{name: spend, type: numeric, log1p: true, standardize: true}]`)
	rng := rand.New(rand.NewPCG(7, 11))
	var logs []float64
	for i := 0; i < 500; i++ {
		x := 100 * rng.ExpFloat64()
		e.Observe(map[string]any{"spend": x}, nil)
		logs = append(logs, math.Log1p(x))
	}
	mean, variance := twoPass(logs)
	var v Vector
	if _, err := e.Encode(map[string]any{"spend": 250.0}, nil, &v); err != nil {
		t.Fatal(err)
	}
	want := (math.Log1p(250) - mean) / math.Sqrt(variance)
	if len(v.Value) != 2 || !close(v.Value[1], want, 1e-9) {
		t.Fatalf("z = %v, want %v", v, want)
	}
}

func TestWelfordOverflowIgnored(t *testing.T) {
	var s stat
	s.add(1)
	s.add(math.MaxFloat64)
	s.add(-math.MaxFloat64) // would make m2 overflow
	if !s.valid() || !finite(s.mean) || !finite(s.m2) {
		t.Fatalf("stat not finite after extreme values: %+v", s)
	}
}

// close reports |a-b| <= tol * max(1, |b|).
func close(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}
