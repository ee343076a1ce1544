package bandit

import (
	"math"
	"math/rand/v2"
)

// Arm is one action's Thompson-sampling distribution in score space: the
// sampled logit is N(Mean, SD²) and the sampled score Weight·σ(logit).
type Arm struct {
	// Mean is xᵀm, the posterior mean logit.
	Mean float64
	// SD is α·√(xᵀSx), the exploration-scaled posterior standard deviation
	// of the logit.
	SD float64
	// Weight multiplies the sampled propensity (value × lever × channel weight).
	Weight float64
	// Var is xᵀSx, the posterior variance of the logit before the exploration scale.
	Var float64
}

// Propensity is the arm's posterior predictive probability of a positive, as
// Model.Propensity computes it (MacKay's approximation σ(μ/√(1 + πv/8)); MacKay 1992,
// Bishop PRML eq. 4.155), from the mean and variance Prepare found.
func (a Arm) Propensity() float64 { return propensity(a.Mean, a.Var) }

// Prepare fills dst[:0] with one Arm per model for context x and returns it:
//
//	Mean = xᵀm_a,  SD = α √(xᵀS_a x),  Weight = weights[a] (1 when weights is nil).
//
// For independent per-action Gaussian posteriors w_a ~ N(m_a, α²S_a) the
// logit xᵀw_a is exactly N(xᵀm_a, α² xᵀS_a x), so Thompson sampling needs one
// normal draw per action instead of a draw of the whole weight vector
// (Chapelle & Li 2011, Section 4 and Algorithm 3; α is their exploration
// scale, 0.25–1 in their Table 2, 0.5 best). weights, if not nil, must have
// len(models) entries. With cap(dst) ≥ len(models) Prepare does not allocate.
func Prepare(models []*Model, x Vector, alpha float64, weights []float64, dst []Arm) []Arm {
	dst = dst[:0]
	if weights != nil {
		weights = weights[:len(models)]
	}
	// Full-form models need a scratch vector; borrow one pooled buffer for
	// the whole call rather than one per model.
	var scratch *[]float64
	var owner *Model
	for a, m := range models {
		m.mu.RLock()
		var mu, v float64
		if m.w.form == Diagonal {
			mu, v = m.w.predictDiag(x)
		} else {
			if scratch == nil || len(*scratch) < m.cfg.Dim {
				if scratch != nil {
					owner.scratch.Put(scratch)
				}
				scratch, owner = m.getScratch(), m
			}
			mu, v, _ = m.w.predictFull(x, *scratch)
		}
		m.mu.RUnlock()
		w := 1.0
		if weights != nil {
			w = weights[a]
		}
		dst = append(dst, Arm{Mean: mu, SD: alpha * math.Sqrt(v), Weight: w, Var: v})
	}
	if scratch != nil {
		owner.scratch.Put(scratch)
	}
	return dst
}

// Sample draws one Thompson sample per arm,
//
//	dst[a] = Weight_a · σ(Mean_a + SD_a · z_a),   z_a ~ N(0, 1) i.i.d.,
//
// using rng.NormFloat64 once per arm in order, and returns the index of the
// largest (ties go to the lowest index; NaN never wins). It returns −1 when
// arms is empty or every score is NaN. dst receives the scores when
// cap(dst) ≥ len(arms); otherwise a temporary buffer is allocated and the
// scores are not returned.
func Sample(arms []Arm, rng *rand.Rand, dst []float64) int {
	if cap(dst) < len(arms) {
		dst = make([]float64, len(arms))
	}
	dst = dst[:len(arms)]
	best := -1
	bestScore := math.Inf(-1)
	for a := range arms {
		arm := &arms[a]
		s := arm.Weight * sigmoid(arm.Mean+arm.SD*rng.NormFloat64())
		dst[a] = s
		if s > bestScore || (best < 0 && s == s) {
			best, bestScore = a, s
		}
	}
	return best
}
