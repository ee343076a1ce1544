package bandit

import "math"

// valueModel is a conjugate Bayesian linear regression of a continuous
// reward r = xᵀw + ε, ε ~ N(0, σ²), with the Normal–Inverse-Gamma prior
//
//	w | σ² ~ N(0, σ² Λ₀⁻¹),  σ² ~ IG(a₀, b₀),  Λ₀ = λI,
//
// λ = Config.PriorPrecision, a₀ = Config.ValueShape, b₀ = Config.ValueScale
// (Bishop, PRML, Section 3.3 and exercise 3.12; Murphy, Machine Learning: a
// Probabilistic Perspective, 2012, Section 7.6.3). After data (X, y) the
// posterior is NIG(μ_n, Λ_n, a_n, b_n) with
//
//	Λ_n = Λ₀ + XᵀX,   μ_n = Λ_n⁻¹(Λ₀μ₀ + Xᵀy),   a_n = a₀ + n/2,
//	b_n = b₀ + ½(yᵀy + μ₀ᵀΛ₀μ₀ − μ_nᵀΛ_nμ_n).
//
// It is computed online, one reward at a time, by the equivalent recursion
// (recursive least squares; Murphy 2012, Section 7.6.3; Sherman–Morrison):
//
//	e = r − xᵀμ,  s² = xᵀΛ⁻¹x,
//	μ ← μ + Λ⁻¹x · e/(1+s²),  Λ ← Λ + x xᵀ,  a ← a + ½,  b ← b + ½ e²/(1+s²),
//
// which adds a non-negative term to b instead of subtracting two large
// quadratic forms. In the Full form this is exact. In the Diagonal form Λ is
// kept diagonal: the mean step uses the diagonal Λ (it is the exact
// posterior mean given that diagonal prior) and Λ_ii gains x_i², the same
// diagonal-precision projection Chapelle & Li (2011) use for the logistic
// model; it is exact when the features of different events never co-occur.
//
// The value model does not forget: UpdateValue carries no time.
type valueModel struct {
	w    gaussian // μ and Λ
	a, b float64
}

func newValueModel(cfg Config) *valueModel {
	return &valueModel{
		w: newGaussian(cfg.Form, cfg.Dim, 0, cfg.PriorPrecision),
		a: cfg.ValueShape,
		b: cfg.ValueScale,
	}
}

func (v *valueModel) clone() *valueModel {
	if v == nil {
		return nil
	}
	return &valueModel{w: v.w.clone(), a: v.a, b: v.b}
}

// UpdateValue learns one continuous reward for x by the conjugate update
// documented on valueModel. It does nothing when the model was built
// without Config.Value, or when reward or the prediction for x is not
// finite.
func (m *Model) UpdateValue(x Vector, reward float64) {
	if !finite(reward) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.value
	if v == nil {
		return
	}
	mu, s2, k0 := v.w.predict(x, m.work)
	if !finite(mu) || !finite(s2) {
		return
	}
	e := reward - mu
	den := 1 + s2
	v.b += 0.5 * e * e / den
	v.a += 0.5
	v.w.absorb(x, e/den, 1, m.work, k0)
}

// PredictValue returns the posterior mean and variance of the expected
// reward xᵀw:
//
//	mean = xᵀμ_n,   variance = b_n/(a_n − 1) · xᵀΛ_n⁻¹x,
//
// the variance of the multivariate Student-t marginal of w (2a_n degrees of
// freedom, scale (b_n/a_n)Λ_n⁻¹; Murphy 2012, Section 7.6.3), +Inf while
// a_n ≤ 1. It is the uncertainty of the mean reward, not of a new reward,
// which adds E[σ²] = b_n/(a_n−1). Both are NaN without Config.Value.
func (m *Model) PredictValue(x Vector) (mean, variance float64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v := m.value
	if v == nil {
		return math.NaN(), math.NaN()
	}
	var s2 float64
	if v.w.form == Diagonal {
		mean, s2 = v.w.predictDiag(x)
	} else {
		buf := m.getScratch()
		mean, s2, _ = v.w.predictFull(x, *buf)
		m.scratch.Put(buf)
	}
	if v.a <= 1 {
		return mean, math.Inf(1)
	}
	return mean, v.b / (v.a - 1) * s2
}
