package bandit

import (
	"math"
	"math/rand/v2"
)

// An uplift model learns how much an action changes the probability of a business
// outcome (churn, say) for a customer in a context, against doing nothing. It is a
// Model of dimension 2D over the stacked design
//
//	u(x, t) = [x ; t·s·x],   logit P(y = 1 | x, t) = wᵀx + t·s·δ'ᵀx,
//
// where x is the D-dimensional context, t ∈ {0, 1} says whether the decision offered
// the action, and s is the effect scale. It is the "S-learner" of Künzel, Sekhon,
// Bickel & Yu (PNAS 116(10), 2019, Section 2) with the treatment interacted with every
// feature, fitted as one Bayesian logistic regression: the baseline w (the outcome
// without the action) learns from the untreated decisions and the treated ones alike,
// and only the difference δ = s·δ' is particular to the action. Under the Model's prior
// N(0, λ⁻¹I) on [w; δ'], the effect has the prior δ ~ N(0, s²λ⁻¹I): with s < 1 it is
// shrunk toward "no effect" more than the baseline is, the separate, more skeptical
// prior on the treatment effect that Hahn, Murray & Carvalho argue for ("Bayesian
// regression tree models for causal inference: regularization, confounding, and
// heterogeneous effects", Bayesian Analysis 15(3), 2020, Sections 3 and 5). Rescaling
// a block of the design is the same as changing its prior variance, so the Model's
// learning, forgetting, codec and health apply unchanged.
//
// Why one model and not the T-learner's two (Künzel et al., Section 2): the T-learner
// fits the untreated and the treated outcome separately, so where one of them has no
// data (a context where the action is always offered) its estimate is the prior's and
// the difference is confounded with the outcome's level: a churn-prone context that is
// always treated looks as if the treatment caused the churn. In the stacked model the
// common level is carried by w, learnt from both groups, and the prior keeps δ near 0
// until treated and untreated outcomes in similar contexts differ (Hahn et al. call the
// T-learner's failure "regularization-induced confounding").
//
// The effect on the probability for context x is
//
//	τ(x) = σ(z₀ + δ) − σ(z₀),   z₀ = wᵀx,  δ = s·δ'ᵀx,
//
// and [Model.PredictUplift] gives the joint Gaussian posterior of (z₀, δ).

// StackTreated writes u(x, t) = [x ; t·s·x] for a model of dimension 2·dim into dst
// (reusing its backing arrays) and returns it. x must satisfy the Vector contract for
// dim; the result satisfies it for 2·dim.
func StackTreated(x Vector, dim int, treated bool, scale float64, dst Vector) Vector {
	n := len(x.Index)
	if treated {
		n *= 2
	}
	if cap(dst.Index) < n {
		dst.Index = make([]int32, 0, n)
	}
	if cap(dst.Value) < n {
		dst.Value = make([]float64, 0, n)
	}
	dst.Index = append(dst.Index[:0], x.Index...)
	dst.Value = append(dst.Value[:0], x.Value[:len(x.Index)]...)
	if treated {
		for k, i := range x.Index {
			dst.Index = append(dst.Index, i+int32(dim))
			dst.Value = append(dst.Value, scale*x.Value[k])
		}
	}
	return dst
}

// Uplift is the Gaussian posterior of an uplift model's two logits for one context:
// the baseline logit z₀ = wᵀx and the effect δ = s·δ'ᵀx, with their covariance.
type Uplift struct {
	Base, BaseVar     float64 // mean and variance of z₀
	Effect, EffectVar float64 // mean and variance of δ
	Cov               float64 // Cov(z₀, δ); 0 in the Diagonal form
}

// PredictUplift returns the posterior of (z₀, δ) for context x (of dimension Dim/2) in
// a model over the stacked design u(x, t) with effect scale s. Both are linear in the
// weights, so they are jointly Gaussian with
//
//	z₀ = aᵀθ, a = [x; 0];  δ = bᵀθ, b = [0; s·x];  Var = aᵀSa, bᵀSb;  Cov = aᵀSb,
//
// and the covariance comes from the variance of the sum, (a+b)ᵀS(a+b) = Var z₀ + Var δ
// + 2 Cov (for the Diagonal form a and b touch different weights and Cov is 0). buf
// is scratch for the shifted vector; with enough capacity PredictUplift does not
// allocate in the Diagonal form.
func (m *Model) PredictUplift(x Vector, scale float64, buf *Vector) Uplift {
	m.mu.RLock()
	defer m.mu.RUnlock()
	dim := m.cfg.Dim / 2
	var u Uplift
	u.Base, u.BaseVar = m.predict(x)
	n := len(x.Index)
	if cap(buf.Index) < 2*n {
		buf.Index = make([]int32, 0, 2*n)
	}
	if cap(buf.Value) < 2*n {
		buf.Value = make([]float64, 0, 2*n)
	}
	b := Vector{Index: buf.Index[:0], Value: buf.Value[:0]}
	for k, i := range x.Index {
		b.Index = append(b.Index, i+int32(dim))
		b.Value = append(b.Value, scale*x.Value[k])
	}
	u.Effect, u.EffectVar = m.predict(b)
	if m.w.form == Full {
		ab := StackTreated(x, dim, true, scale, Vector{Index: b.Index[n:n], Value: b.Value[n:n]})
		_, v := m.predict(ab)
		u.Cov = (v - u.BaseVar - u.EffectVar) / 2
	}
	*buf = b
	return u
}

// MeanEffect is the posterior predictive effect on the probability, E[σ(z₀+δ)] −
// E[σ(z₀)], each term by MacKay's approximation E[σ(z)] ≈ σ(μ/√(1 + πv/8)) (MacKay
// 1992; Bishop, PRML, Section 4.5.2, eq. 4.155), with Var(z₀+δ) = Var z₀ + Var δ +
// 2 Cov.
func (u Uplift) MeanEffect() float64 {
	return propensity(u.Base+u.Effect, u.BaseVar+u.EffectVar+2*u.Cov) - propensity(u.Base, u.BaseVar)
}

// EffectArm is one outcome term of a candidate's net value in Thompson sampling: the
// sampled effect on the outcome's probability, times the money one occurrence of the
// outcome is worth (negative for churn), times the channel weight and lever.
type EffectArm struct {
	Base, BaseSD     float64 // z₀ ~ N(Base, BaseSD²), SD scaled by α
	Effect, EffectSD float64 // δ ~ N(Effect, EffectSD²), SD scaled by α
	Rho              float64 // correlation of z₀ and δ
	Money            float64
}

// NewEffectArm returns the arm of u with exploration scale alpha (as Prepare scales
// the response logit: Chapelle & Li 2011, Section 4) and money per occurrence.
func NewEffectArm(u Uplift, alpha, money float64) EffectArm {
	ea := EffectArm{Base: u.Base, BaseSD: alpha * math.Sqrt(max(u.BaseVar, 0)), Effect: u.Effect, EffectSD: alpha * math.Sqrt(max(u.EffectVar, 0)), Money: money}
	if d := u.BaseVar * u.EffectVar; d > 0 {
		ea.Rho = max(-1, min(1, u.Cov/math.Sqrt(d)))
	}
	return ea
}

// sample draws the term once: (z₀, δ) from their bivariate normal (two standard
// normals n₁, n₂: z₀ = Base + BaseSD·n₁, δ = Effect + EffectSD·(ρn₁ + √(1−ρ²)n₂)),
// then Money·(σ(z₀+δ) − σ(z₀)).
func (a *EffectArm) sample(rng *rand.Rand) float64 {
	n1, n2 := rng.NormFloat64(), rng.NormFloat64()
	z0 := a.Base + a.BaseSD*n1
	d := a.Effect + a.EffectSD*(a.Rho*n1+math.Sqrt(1-a.Rho*a.Rho)*n2)
	return a.Money * (sigmoid(z0+d) - sigmoid(z0))
}

// NetArm is a candidate's net value in Thompson sampling,
//
//	V = Weight·σ(Z) + Offset + Σ_k Money_k·(σ(z₀ₖ + δₖ) − σ(z₀ₖ)),   Z ~ N(Mean, SD²),
//
// the sampled response probability times (value − cost), minus the contact cost, plus
// the sampled effect of each outcome the action aims at, in money. With no Effects and
// no Offset it is an Arm.
type NetArm struct {
	Arm
	Offset  float64
	Effects []EffectArm
}

// sample draws V once: the response logit first, then each effect term in order.
func (a *NetArm) sample(rng *rand.Rand) float64 {
	v := a.Weight*sigmoid(a.Mean+a.SD*rng.NormFloat64()) + a.Offset
	for k := range a.Effects {
		v += a.Effects[k].sample(rng)
	}
	return v
}

// SampleNet draws one Thompson sample of every arm's net value into dst (which must
// have len(arms) entries) and returns the index of the largest (ties go to the lowest
// index; NaN never wins), or −1 when arms is empty or every value is NaN. It is
// Thompson sampling (Thompson 1933; Chapelle & Li 2011) on the net value: the
// response, the effects and their baselines are drawn from their posteriors, and the
// arm with the largest draw wins.
func SampleNet(arms []NetArm, rng *rand.Rand, dst []float64) int {
	best := -1
	bestScore := math.Inf(-1)
	for a := range arms {
		s := arms[a].sample(rng)
		dst[a] = s
		if s > bestScore || (best < 0 && s == s) {
			best, bestScore = a, s
		}
	}
	return best
}

// SelectionProbabilityNet estimates π(chosen | x), the probability that SampleNet
// picks chosen and that its draw is at least floor (the "no action" threshold: below it
// nothing is offered), by Monte Carlo with draws rounds:
//
//	π̂ = #{rounds whose argmax is chosen and whose maximum ≥ floor} / draws,
//
// standard error √(π(1−π)/draws). It is the logging propensity for off-policy
// evaluation (Li, Chu, Langford & Wang, WSDM 2011). It returns NaN if chosen is out of
// range or draws < 1. It does not allocate.
func SelectionProbabilityNet(arms []NetArm, chosen, draws int, floor float64, rng *rand.Rand) float64 {
	if chosen < 0 || chosen >= len(arms) || draws < 1 {
		return math.NaN()
	}
	hits := 0
	for range draws {
		best := -1
		bestScore := math.Inf(-1)
		for a := range arms {
			s := arms[a].sample(rng)
			if s > bestScore || (best < 0 && s == s) {
				best, bestScore = a, s
			}
		}
		if best == chosen && bestScore >= floor {
			hits++
		}
	}
	return float64(hits) / float64(draws)
}
