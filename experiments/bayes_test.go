package experiments

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/integrate"
	"gonum.org/v1/gonum/stat/distuv"
)

func TestChanceToBeatAndLoss(t *testing.T) {
	// References:
	//   - P(Δ > 0) from gonum's Normal survival function, a separate code
	//     path from the package's erfc form;
	//   - the expected loss E[max(0, −Δ)] = ∫_{−∞}^{0} (−x)·f(x) dx, by
	//     Simpson's rule on [μ − 12σ, 0]. The mass below μ − 12σ is under
	//     1e-32.
	tests := []struct{ diff, se float64 }{
		{0.02, 0.01}, {-0.02, 0.01}, {0, 1}, {1.5, 3}, {-40, 7},
	}
	for _, tt := range tests {
		want := distuv.Normal{Mu: tt.diff, Sigma: tt.se}.Survival(0)
		if got := ChanceToBeat(tt.diff, tt.se); math.Abs(got-want) > 1e-12 {
			t.Errorf("ChanceToBeat(%v, %v) = %v, want %v", tt.diff, tt.se, got, want)
		}
		lo := tt.diff - 12*tt.se
		var loss float64
		if lo < 0 {
			const n = 40001
			xs, fs := make([]float64, n), make([]float64, n)
			for i := range xs {
				xs[i] = lo + (0-lo)*float64(i)/(n-1)
				fs[i] = -xs[i] * distuv.Normal{Mu: tt.diff, Sigma: tt.se}.Prob(xs[i])
			}
			loss = integrate.Simpsons(xs, fs)
		}
		if got := ExpectedLoss(tt.diff, tt.se); math.Abs(got-loss) > 1e-9*math.Max(1, loss) {
			t.Errorf("ExpectedLoss(%v, %v) = %v, integral %v", tt.diff, tt.se, got, loss)
		}
	}
}

func TestChanceToBeatIsOneMinusHalfP(t *testing.T) {
	// Under a flat prior, P(Δ > 0) = 1 − p/2 for a positive estimate, where
	// p is the two-sided z p-value. 7/10 vs 4/10 gives p = erfc(1) (see
	// TestProportionTest).
	c := Compare(Summary{N: 10, Sum: 7, SumSq: 7}, Summary{N: 10, Sum: 4, SumSq: 4}, Binary, 0.95)
	if want := 1 - math.Erfc(1)/2; math.Abs(c.ChanceToBeat-want) > 1e-12 {
		t.Errorf("ChanceToBeat = %v, want 1 − p/2 = %v", c.ChanceToBeat, want)
	}
}

func TestChanceToBeatDegenerate(t *testing.T) {
	tests := []struct{ diff, chance, loss float64 }{{1, 1, 0}, {-1, 0, 1}, {0, 0.5, 0}}
	for _, tt := range tests {
		if c, l := ChanceToBeat(tt.diff, 0), ExpectedLoss(tt.diff, 0); c != tt.chance || l != tt.loss {
			t.Errorf("se 0, diff %v: chance %v loss %v; want %v %v", tt.diff, c, l, tt.chance, tt.loss)
		}
	}
}
