package bandit

import (
	"math"
	"math/rand/v2"
)

// Select is the decision hot path: Prepare then Sample. It returns the index
// of the chosen model (−1 if models is empty or every score is NaN). arms and
// dst are scratch buffers; with cap(arms) ≥ len(models) and cap(dst) ≥
// len(models) it does not allocate, and dst[:len(models)] then holds the
// sampled scores.
func Select(models []*Model, x Vector, alpha float64, weights []float64, rng *rand.Rand, arms []Arm, dst []float64) int {
	arms = Prepare(models, x, alpha, weights, arms)
	return Sample(arms, rng, dst)
}

// SelectionProbability estimates π(chosen | x), the probability that
// Thompson sampling over arms picks chosen, by Monte Carlo with draws
// independent rounds of the Sample rule (same tie and NaN handling):
//
//	π̂ = #{rounds whose argmax is chosen} / draws,
//
// whose standard error is √(π(1−π)/draws). It is the logging propensity for
// off-policy evaluation (inverse propensity weighting; Li, Chu, Langford &
// Wang, WSDM 2011). With two arms of equal positive weight it converges to
// Φ((μ₁−μ₂)/√(s₁²+s₂²)) since σ is increasing. It returns NaN if chosen is
// out of range or draws < 1. It does not allocate.
func SelectionProbability(arms []Arm, chosen, draws int, rng *rand.Rand) float64 {
	if chosen < 0 || chosen >= len(arms) || draws < 1 {
		return math.NaN()
	}
	hits := 0
	for range draws {
		best := -1
		bestScore := math.Inf(-1)
		for a := range arms {
			arm := &arms[a]
			s := arm.Weight * sigmoid(arm.Mean+arm.SD*rng.NormFloat64())
			if s > bestScore || (best < 0 && s == s) {
				best, bestScore = a, s
			}
		}
		if best == chosen {
			hits++
		}
	}
	return float64(hits) / float64(draws)
}
