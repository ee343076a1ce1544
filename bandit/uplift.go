package bandit

import (
	"fmt"
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

// EffectVariance is the posterior variance of the effect on the probability,
// Var[σ(z₀+δ) − σ(z₀)], by the delta method (first-order Taylor expansion at the means;
// e.g. Casella & Berger, Statistical Inference, 2nd ed., Section 5.5.4): with
// a = σ'(z̄₁) − σ'(z̄₀) and b = σ'(z̄₁), z̄₁ = z̄₀ + δ̄, σ'(z) = σ(z)(1 − σ(z)),
//
//	Var ≈ a²·Var z₀ + b²·Var δ + 2ab·Cov(z₀, δ),
//
// capped at 1, the largest variance of a difference of two probabilities (the
// expansion overshoots when a posterior is wide).
func (u Uplift) EffectVariance() float64 {
	p0, p1 := sigmoid(u.Base), sigmoid(u.Base+u.Effect)
	d0, d1 := p0*(1-p0), p1*(1-p1)
	a, b := d1-d0, d1
	v := a*a*u.BaseVar + b*b*u.EffectVar + 2*a*b*u.Cov
	return min(max(v, 0), 1)
}

// ResponseMoments returns the posterior mean and variance of the response probability
// σ(Z), Z ~ N(mean, variance) (an Arm's Mean and Var): the mean by MacKay's
// approximation (as Propensity), the variance by the delta method, σ'(mean)²·variance,
// capped at p̄(1 − p̄), the largest variance a quantity in [0, 1] with mean p̄ can have.
func ResponseMoments(mean, variance float64) (m, v float64) {
	m = propensity(mean, variance)
	p := sigmoid(mean)
	d := p * (1 - p)
	return m, min(d*d*variance, m*(1-m))
}

// NetArm is a candidate in net-value Thompson sampling: the posterior mean and the
// exploration-scaled standard deviation of its net value (the value it creates minus
// its costs, in money, times channel weight and lever). The engine builds it from the
// response model and the uplift models with ResponseMoments, Uplift.MeanEffect and
// Uplift.EffectVariance.
//
// Thompson sampling draws each arm's net value from N(Mean, SD²) and picks the largest:
// the Gaussian form of Thompson sampling analysed by Agrawal & Goyal ("Further optimal
// regret bounds for Thompson sampling", AISTATS 2013, Algorithm 2, which samples each
// arm's mean reward from a normal centred on its estimate), here with the Laplace
// posterior's moments of the expected net value in place of the empirical mean and
// 1/(k+1). Sampling from exactly this normal is what makes the selection probability
// below exact for the rule the engine follows, not an approximation of it.
type NetArm struct {
	Mean, SD float64
}

// SampleNet draws one net value per arm into dst (len(arms) entries), dst[a] = Mean_a
// + SD_a·z_a with z_a ~ N(0, 1) drawn in order, and returns the index of the largest
// (ties to the lowest index; NaN never wins), or −1 when arms is empty or every draw is
// NaN.
func SampleNet(arms []NetArm, rng *rand.Rand, dst []float64) int {
	best := -1
	bestScore := math.Inf(-1)
	for a := range arms {
		s := arms[a].Mean + arms[a].SD*rng.NormFloat64()
		dst[a] = s
		if s > bestScore || (best < 0 && s == s) {
			best, bestScore = a, s
		}
	}
	return best
}

// SelectionProbabilityNet is the probability that SampleNet picks chosen with a draw of
// at least floor (below the floor the engine offers nothing):
//
//	π_i = ∫_{t₀}^{∞} φ(t) Π_{j≠i} Φ((m_i + s_i t − m_j)/s_j) dt,   t₀ = (floor − m_i)/s_i,
//
// the order-statistics identity P(V_i > max_{j≠i} V_j, V_i ≥ floor) = ∫_{floor} Π_j
// F_j dF_i for independent normal V (David & Nagaraja, "Order Statistics", 3rd ed.,
// 2003, §2.1), integrated by adaptive Simpson quadrature (Lyness 1969) to within tol
// (default SelectionTolerance) over t ∈ [max(t₀, −8), 8]; the mass beyond ±8 standard
// deviations (1.2e−15) is dropped. An arm with SD 0 is a point: its Φ is a step, and a
// chosen arm with SD 0 gives the product at its mean. Other arms that cannot beat the
// chosen one anywhere in that range (m_j + 8 s_j below m_i − 8 s_i) are left out of the
// product. It returns NaN if chosen is out of range or a parameter is NaN or infinite.
// It does not allocate.
func SelectionProbabilityNet(arms []NetArm, chosen int, floor, tol float64) float64 {
	if chosen < 0 || chosen >= len(arms) {
		return math.NaN()
	}
	for _, a := range arms {
		if !finite(a.Mean) || !finite(a.SD) || a.SD < 0 {
			return math.NaN()
		}
	}
	if !(tol > 0) {
		tol = SelectionTolerance
	}
	c := arms[chosen]
	q := netIntegrand{arms: arms, chosen: chosen}
	if c.SD == 0 {
		if c.Mean < floor {
			return 0
		}
		return q.others(c.Mean)
	}
	lo, hi := -quadRange, quadRange
	if !math.IsInf(floor, -1) {
		lo = max(lo, (floor-c.Mean)/c.SD)
	}
	if lo >= hi {
		return 0
	}
	// Leave out the arms that lose to the chosen one over the whole range; give up at
	// once if one beats it over the whole range.
	vlo, vhi := c.Mean+c.SD*lo, c.Mean+c.SD*hi
	q.active = q.buf[:0]
	for j, a := range arms {
		if j == chosen {
			continue
		}
		if a.Mean+quadRange*a.SD < vlo {
			continue
		}
		if a.Mean-quadRange*a.SD > vhi {
			return 0
		}
		if len(q.active) == cap(q.active) {
			q.active = nil // more competitive arms than the buffer holds: use all
			break
		}
		q.active = append(q.active, int32(j))
	}
	// Panels of unit width, each refined adaptively, with tol shared out by width.
	n := max(1, int(math.Ceil(hi-lo)))
	w := (hi - lo) / float64(n)
	t := tol / quadSafety / float64(n)
	var sum float64
	for k := range n {
		a := lo + float64(k)*w
		b := a + w
		fa, fm, fb := q.at(a), q.at((a+b)/2), q.at(b)
		sum += simpson(q.at, a, b, fa, fm, fb, w*(fa+4*fm+fb)/6, t, maxQuadDepth)
	}
	return min(max(sum, 0), 1)
}

// netIntegrand is SelectionProbabilityNet's integrand.
type netIntegrand struct {
	arms   []NetArm
	chosen int
	active []int32 // the other arms in the product; nil means all
	buf    [64]int32
}

// others is Π_{j≠i} P(V_j < v).
func (q *netIntegrand) others(v float64) float64 {
	p := 1.0
	each := func(j int) {
		a := q.arms[j]
		switch {
		case a.SD > 0:
			p *= normCDF((v - a.Mean) / a.SD)
		case a.Mean >= v:
			p = 0
		}
	}
	if q.active == nil {
		for j := range q.arms {
			if j != q.chosen {
				each(j)
			}
		}
		return p
	}
	for _, j := range q.active {
		each(int(j))
		if p == 0 {
			break
		}
	}
	return p
}

func (q *netIntegrand) at(t float64) float64 {
	c := q.arms[q.chosen]
	return math.Exp(-t*t/2) / math.Sqrt(2*math.Pi) * q.others(c.Mean+c.SD*t)
}

// CenterWeight moves the prior mean of weight i of a model that has learnt nothing to
// mean, leaving its precision: the prior becomes N(m₀·1 + (mean − m₀)·eᵢ, λ⁻¹I). It
// centres an intercept on a known base rate, logit(rate), so that a rare outcome is not
// taken for an even chance before the first labels arrive. It returns ErrInvalidArgument
// for an index out of range, a mean that is not finite, or a model that has learnt.
func (m *Model) CenterWeight(i int, mean float64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i < 0 || i >= m.cfg.Dim || !finite(mean) {
		return fmt.Errorf("%w: center weight %d of %d at %v", ErrInvalidArgument, i, m.cfg.Dim, mean)
	}
	if m.responses > 0 || m.evidence > 0 {
		return fmt.Errorf("%w: center weight %d of a model that has learnt", ErrInvalidArgument, i)
	}
	m.w.mean[i] = mean
	return nil
}

// NoneAboveNet is the probability that no net-value arm's draw reaches floor, so that
// the decision offers nothing: the draws are independent normals, so
//
//	P(max_j V_j < floor) = Π_j Φ((floor − m_j)/s_j),
//
// with an arm of SD 0 a step at its mean. It is the logging propensity of a "no action"
// for off-policy evaluation. It returns NaN if a parameter is NaN or infinite.
func NoneAboveNet(arms []NetArm, floor float64) float64 {
	p := 1.0
	for _, a := range arms {
		if !finite(a.Mean) || !finite(a.SD) || a.SD < 0 {
			return math.NaN()
		}
		switch {
		case a.SD > 0:
			p *= normCDF((floor - a.Mean) / a.SD)
		case a.Mean >= floor:
			return 0
		}
	}
	return p
}

// NoneAbove is NoneAboveNet for the arms of Sample: the probability that no arm's sampled
// priority w_a·σ(Z_a), Z_a ~ N(Mean_a, SD_a²), reaches threshold > 0,
//
//	Π_a P(w_a σ(Z_a) < t),  P = Φ((logit(t/w_a) − Mean_a)/SD_a) for w_a > t, else 1,
//
// since σ < 1 (an arm whose weight is at most t never reaches it). With threshold ≤ 0
// some arm always reaches it, and it returns 0 for a non-empty set of arms.
func NoneAbove(arms []Arm, threshold float64) float64 {
	if len(arms) == 0 {
		return 1
	}
	if threshold <= 0 {
		return 0
	}
	p := 1.0
	for _, a := range arms {
		if !finite(a.Mean) || !finite(a.SD) || !finite(a.Weight) {
			return math.NaN()
		}
		if a.Weight <= threshold {
			continue
		}
		z := logit(threshold / a.Weight)
		switch {
		case a.SD > 0:
			p *= normCDF((z - a.Mean) / a.SD)
		case a.Mean >= z:
			return 0
		}
	}
	return p
}
