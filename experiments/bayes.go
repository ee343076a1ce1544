package experiments

import "math"

// ChanceToBeat is the posterior probability that the true lift is positive,
// given an estimated lift diff with standard error se:
//
//	P(Δ > 0 | data) = Φ(diff/se),   Δ | data ~ N(diff, se²)
//
// The posterior comes from a flat (improper) prior on Δ and the normal
// approximation to the estimator's sampling distribution. This is
// GrowthBook's default Bayesian engine (gbstats bayesian/tests.py:
// GaussianPrior(proper=False), chance_to_win = norm.sf(0, μ_post, σ_post)).
// It is also Eppo's and Statsig's normal-normal model in the limit of a
// vague prior. GrowthBook applies it to the relative lift by default. This
// package applies it to the absolute lift, which is always defined (an NPS
// control can be 0). Under a flat prior the two agree to first order.
//
// Under a flat prior, ChanceToBeat = 1 − p/2 when diff > 0, where p is the
// two-sided z p-value. It is not a different kind of evidence: a 97.5% chance
// to beat is p = 0.05 (GrowthBook issue #2737 shows users confusing the
// two). For a metric where lower is better, pass −diff. If se is 0 the
// result is 1, 0 or ½ by the sign of diff.
func ChanceToBeat(diff, se float64) float64 {
	if se == 0 {
		switch {
		case diff > 0:
			return 1
		case diff < 0:
			return 0
		case diff == 0:
			return 0.5
		}
	}
	return normCDF(diff / se)
}

// ExpectedLoss is the expected shortfall of shipping the treatment, in the
// metric's units, under the same posterior Δ ~ N(diff, se²) as ChanceToBeat:
//
//	E[max(0, −Δ)] = se·φ(diff/se) − diff·Φ(−diff/se)
//
// This is the normal partial expectation. It is GrowthBook's "risk" of
// choosing the variation: gbstats bayesian/tests.py computes it as
// −P(Δ<0)·E[Δ | Δ<0] from a truncated normal. For a metric where lower is
// better, pass −diff. If se is 0 the result is max(0, −diff).
func ExpectedLoss(diff, se float64) float64 {
	if se == 0 {
		return math.Max(0, -diff)
	}
	z := diff / se
	return se*normPDF(z) - diff*normCDF(-z)
}
