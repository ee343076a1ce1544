package experiments

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultPower is the power used when PowerPlan.Power is 0. 80% is the
// power behind Kohavi, Tang & Xu's (2020) rule n ≈ 16σ²/δ², and GrowthBook's
// default.
const DefaultPower = 0.8

// PowerPlan plans the size of a two-arm comparison under the two-sided z
// approximation, for the fixed-horizon test (not the confidence sequence,
// which needs more data for the same power). All effects are absolute,
// treatment minus control: percentage points as a fraction for Binary, the
// metric's units otherwise.
//
// With nT treatment and nC = k·nT control customers, the standard error of
// the lift δ is
//
//	SE(δ) = sqrt(σ_T²/nT + σ_C²/nC)
//
// where σ² = p(1−p) for Binary (p = Baseline for control, Baseline + δ for
// treatment), and σ² = SD² in both arms otherwise. Sources: Chow, Shao &
// Wang (2008), ch. 3 (means) and ch. 4 (proportions, unpooled variance),
// two-sample parallel design, test for equality; GrowthBook
// docs/statistics/power-technical.mdx. With k = 1, α = 0.05 and 80% power,
// nT = 15.7·σ²/δ², which is Kohavi et al.'s (2020) rule n ≈ 16σ²/δ².
type PowerPlan struct {
	// Kind is Binary, Mean, Count or NPS.
	Kind Kind
	// Baseline is the control rate, in (0, 1), for Binary.
	Baseline float64
	// SD is the per-customer standard deviation, > 0, for Mean, Count and
	// NPS. It is assumed equal in both arms. For NPS,
	// sqrt(NPSVariance(pPro, pDet, 1)) gives it from the expected shares.
	SD float64
	// Level is the two-sided confidence level; 0 means 0.95.
	Level float64
	// Power is the target power 1 − β, in (0, 1); 0 means DefaultPower.
	Power float64
	// Ratio is k = control size / treatment size, > 0; 0 means 1. For an
	// NBA arm of 45% against a 10% holdout, k = 10/45.
	Ratio float64
}

type planParams struct {
	za, zb, k, base, sd float64
	binary              bool
}

func (p PowerPlan) params() (planParams, error) {
	var q planParams
	lv, err := checkLevel(p.Level)
	if err != nil {
		return q, err
	}
	pw := p.Power
	if pw == 0 {
		pw = DefaultPower
	}
	if !(pw > 0 && pw < 1) {
		return q, fmt.Errorf("%w: power %v outside (0, 1)", ErrInvalidConfig, p.Power)
	}
	q.k = p.Ratio
	if q.k == 0 {
		q.k = 1
	}
	if !(q.k > 0) || math.IsInf(q.k, 1) {
		return q, fmt.Errorf("%w: ratio %v is not a positive number", ErrInvalidConfig, p.Ratio)
	}
	q.za = zCrit(lv)
	q.zb = distuv.UnitNormal.Quantile(pw)
	switch p.Kind {
	case Binary:
		if !(p.Baseline > 0 && p.Baseline < 1) {
			return q, fmt.Errorf("%w: baseline rate %v outside (0, 1)", ErrInvalidConfig, p.Baseline)
		}
		q.binary, q.base = true, p.Baseline
	case Mean, Count, NPS:
		if !(p.SD > 0) || math.IsInf(p.SD, 1) {
			return q, fmt.Errorf("%w: standard deviation %v is not a positive number", ErrInvalidConfig, p.SD)
		}
		q.sd = p.SD
	default:
		return q, fmt.Errorf("%w: power plan needs a metric kind", ErrInvalidConfig)
	}
	return q, nil
}

// variances returns σ_T² and σ_C² per customer for lift d.
func (q planParams) variances(d float64) (vT, vC float64) {
	if q.binary {
		pt := q.base + d
		return pt * (1 - pt), q.base * (1 - q.base)
	}
	return q.sd * q.sd, q.sd * q.sd
}

func (q planParams) checkLift(mde float64) error {
	if mde == 0 || !finite(mde) {
		return fmt.Errorf("%w: effect %v is not a non-zero number", ErrInvalidConfig, mde)
	}
	if q.binary && !(q.base+mde > 0 && q.base+mde < 1) {
		return fmt.Errorf("%w: baseline %v plus effect %v leaves (0, 1)", ErrInvalidConfig, q.base, mde)
	}
	return nil
}

// SampleSize returns the customers needed in each arm to detect the absolute
// lift mde (which may be negative) with the plan's power:
//
//	nT = ⌈(z_{1−α/2} + z_{1−β})²·(σ_T² + σ_C²/k)/δ²⌉,   nC = ⌈k·nT⌉
//
// The formula ignores the far rejection tail, whose probability is below α/2.
// So PowerAt(mde, nT) is at least the target power.
func (p PowerPlan) SampleSize(mde float64) (treatment, control int, err error) {
	q, err := p.params()
	if err != nil {
		return 0, 0, err
	}
	if err := q.checkLift(mde); err != nil {
		return 0, 0, err
	}
	vT, vC := q.variances(mde)
	c := q.za + q.zb
	n := math.Ceil(c * c * (vT + vC/q.k) / (mde * mde))
	if n > math.MaxInt32 {
		return 0, 0, fmt.Errorf("%w: effect %v needs more than %d customers per arm", ErrInvalidConfig, mde, math.MaxInt32)
	}
	return int(n), int(math.Ceil(q.k * n)), nil
}

// MDE returns the minimum detectable effect: the smallest positive absolute
// lift that treatment customers (and k times as many control customers)
// detect with the plan's power. It solves
//
//	δ = (z_{1−α/2} + z_{1−β})·SE(δ)
//
// In closed form for means this is δ = (z_{1−α/2} + z_{1−β})·SD·sqrt((1 + 1/k)/nT).
// For Binary, σ_T² depends on δ, so the equation is solved by bisection on
// (0, 1 − Baseline). It has exactly one root, because the right side grows
// more slowly than δ at any solution. The MDE of a decrease in a rate is
// the MDE of an increase from baseline 1 − Baseline. It returns an error if
// no lift up to 1 − Baseline is detectable.
func (p PowerPlan) MDE(treatment int) (float64, error) {
	q, err := p.params()
	if err != nil {
		return 0, err
	}
	if treatment <= 0 {
		return 0, fmt.Errorf("%w: sample size %d is not positive", ErrInvalidConfig, treatment)
	}
	n := float64(treatment)
	c := q.za + q.zb
	f := func(d float64) float64 { // δ − c·SE(δ); increasing through its root
		vT, vC := q.variances(d)
		return d - c*math.Sqrt(vT/n+vC/(q.k*n))
	}
	if !q.binary {
		return c * q.sd * math.Sqrt((1+1/q.k)/n), nil
	}
	lo, hi := 0.0, 1-q.base
	if f(hi) < 0 {
		return 0, fmt.Errorf("%w: no lift from baseline %v is detectable with %d customers", ErrInvalidConfig, q.base, treatment)
	}
	for range 200 { // 200 halvings of an interval below 1 reach float64 resolution
		mid := (lo + hi) / 2
		if f(mid) < 0 {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo <= 1e-15 {
			break
		}
	}
	return hi, nil
}

// PowerAt returns the probability that the two-sided fixed-horizon test
// rejects when the true lift is mde, with nT treatment customers:
//
//	π = Φ(|δ|/SE − z_{1−α/2}) + Φ(−|δ|/SE − z_{1−α/2})
//
// Source: GrowthBook docs/statistics/power-technical.mdx. The second term is
// the far tail that SampleSize ignores.
func (p PowerPlan) PowerAt(mde float64, treatment int) (float64, error) {
	q, err := p.params()
	if err != nil {
		return 0, err
	}
	if err := q.checkLift(mde); err != nil {
		return 0, err
	}
	if treatment <= 0 {
		return 0, fmt.Errorf("%w: sample size %d is not positive", ErrInvalidConfig, treatment)
	}
	n := float64(treatment)
	vT, vC := q.variances(mde)
	r := math.Abs(mde) / math.Sqrt(vT/n+vC/(q.k*n))
	return normCDF(r-q.za) + normCDF(-r-q.za), nil
}
