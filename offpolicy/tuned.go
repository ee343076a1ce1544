package offpolicy

import "math"

// GridSize is the number of τ values that SwitchDR keeps and of λ values
// that DRos keeps.
const GridSize = 13

// TuningDelta is δ in the bias bound of the MSE used to choose τ and λ
// (Su et al. 2020, Section 5); 0.1 is Open Bandit Pipeline's default
// (BaseOffPolicyEstimatorTuning.delta).
const TuningDelta = 0.1

var (
	// switchGrid is τ ∈ {0, 4⁰, …, 4¹⁰, ∞}: 0 is DM, ∞ is DR.
	switchGrid = [GridSize]float64{0, 1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, math.Inf(1)}
	// shrinkGrid is λ = τ²: {0, 16⁰, …, 16¹⁰, ∞}; 0 is DM, ∞ is DR.
	shrinkGrid = [GridSize]float64{0, 1, 16, 256, 4096, 65536, 1048576, 16777216, 268435456, 4294967296, 68719476736, 1099511627776, math.Inf(1)}
)

// SwitchGrid returns the τ values SwitchDR evaluates, in increasing order.
func SwitchGrid() [GridSize]float64 { return switchGrid }

// ShrinkageGrid returns the λ values DRos evaluates, in increasing order.
func ShrinkageGrid() [GridSize]float64 { return shrinkGrid }

// switchWeight is the switch-DR weight 1(w ≤ τ)·w (Wang, Agarwal & Dudík
// 2017, Section 4.1).
func switchWeight(w, tau float64) float64 {
	if w <= tau {
		return w
	}
	return 0
}

// shrinkWeight is the optimistic shrinkage λw/(w² + λ) (Su et al. 2020,
// Section 3), with the limits 0 at λ = 0 and w at λ = ∞.
func shrinkWeight(w, lambda float64) float64 {
	switch {
	case lambda == 0:
		return 0
	case math.IsInf(lambda, 1):
		return w
	}
	return lambda * w / (w*w + lambda)
}

// terms holds, for one record, the estimator's term φ_g and the bias term
// (w − ŵ_g)(r − q̂) at every grid point.
type terms struct {
	phi, gap [GridSize]float64
}

// switchTerms fills t for switch-DR: φ_g = q̂π + 1(w ≤ τ_g) w (r − q̂).
func (t *terms) switchTerms(r Record, w float64) {
	res := r.Reward - r.Model
	for g, tau := range switchGrid {
		v := switchWeight(w, tau)
		t.phi[g] = r.ModelTarget + v*res
		t.gap[g] = (w - v) * res
	}
}

// shrinkTerms fills t for DRos: φ_g = q̂π + ŵ_λg (r − q̂).
func (t *terms) shrinkTerms(r Record, w float64) {
	res := r.Reward - r.Model
	for g, lambda := range shrinkGrid {
		v := shrinkWeight(w, lambda)
		t.phi[g] = r.ModelTarget + v*res
		t.gap[g] = (w - v) * res
	}
}

// tuned is the sufficient statistics of a DR estimator with a modified
// weight, at every point of a grid: the count, the means and centred sums of
// squares of φ_g (Welford's update with one shared 1/n, Chan et al.'s
// merge, as in moments), Σ (w − ŵ_g)(r − q̂), Σ w² and max w.
type tuned struct {
	n        float64
	mean, m2 [GridSize]float64
	gap      [GridSize]float64
	sumW2    float64
	maxW     float64
}

func (t *tuned) add(x *terms, w float64) {
	t.n++
	inv := 1 / t.n
	for g, v := range x.phi {
		d := v - t.mean[g]
		t.mean[g] += d * inv
		t.m2[g] += d * (v - t.mean[g])
		t.gap[g] += x.gap[g]
	}
	t.sumW2 += w * w
	t.maxW = math.Max(t.maxW, w)
}

func (t *tuned) merge(o *tuned) {
	for g := range t.mean {
		m := t.moments(g)
		m.merge(o.moments(g))
		t.mean[g], t.m2[g] = m.mean, m.m2
		t.gap[g] += o.gap[g]
	}
	t.n += o.n
	t.sumW2 += o.sumW2
	t.maxW = math.Max(t.maxW, o.maxW)
}

// moments returns grid point g's moments.
func (t *tuned) moments(g int) moments { return moments{t.n, t.mean[g], t.m2[g]} }

// GridPoint is one value of the tuning parameter with its estimate and the
// terms of its estimated MSE.
type GridPoint struct {
	// Param is τ (switch-DR) or λ (DRos).
	Param float64
	// Value is the estimate at Param, SE its standard error s/√n.
	Value, SE float64
	// Bias is the direct bias estimate B = (1/n) Σ (w − ŵ)(r − q̂).
	Bias float64
	// MSE is s²/n + (|B| + c)² with the population variance s² and the
	// high-probability margin c (see the package documentation).
	MSE float64
}

// grid evaluates every grid point (Su et al. 2020, Section 5; OBP's "mse"
// tuning with use_bias_upper_bound):
//
//	MSE_g = s²_g/n + (|B_g| + c)²,  s²_g = m2_g/n (population variance),
//	B_g = gap_g/n,  c = sqrt(2 (Σw²/n) ln(2/δ)/n) + 2 max w ln(2/δ)/(3n).
func (t *tuned) grid(params *[GridSize]float64) []GridPoint {
	n := t.n
	if n == 0 {
		return nil
	}
	l := math.Log(2 / TuningDelta)
	c := math.Sqrt(2*(t.sumW2/n)*l/n) + 2*t.maxW*l/(3*n)
	pts := make([]GridPoint, GridSize)
	for g := range pts {
		m := t.moments(g)
		b := t.gap[g] / n
		pts[g] = GridPoint{
			Param: params[g],
			Value: m.mean,
			SE:    m.se(),
			Bias:  b,
			MSE:   m.m2/n/n + (math.Abs(b)+c)*(math.Abs(b)+c),
		}
	}
	return pts
}

// choose returns the index of the grid point with the smallest MSE (the
// first on ties), or −1 without records.
func (t *tuned) choose() int {
	pts := t.grid(&switchGrid) // the parameters do not affect the choice
	best := -1
	for g, p := range pts {
		if best < 0 || p.MSE < pts[best].MSE {
			best = g
		}
	}
	return best
}

func (t *tuned) estimate(method Method, params *[GridSize]float64, level float64) Estimate {
	g := t.choose()
	if g < 0 {
		return meanEstimate(method, moments{}, level)
	}
	e := meanEstimate(method, t.moments(g), level)
	e.Param = params[g]
	return e
}

// SwitchDR is switch-DR (Wang, Agarwal & Dudík 2017) over the fixed τ grid
// SwitchGrid, reported at the τ with the smallest estimated MSE. The zero
// value is empty.
type SwitchDR struct{ t tuned }

// Add adds one record; it assumes r is valid.
func (s *SwitchDR) Add(r Record) {
	var x terms
	w := r.Weight()
	x.switchTerms(r, w)
	s.t.add(&x, w)
}

// Merge adds the records of o.
func (s *SwitchDR) Merge(o SwitchDR) { s.t.merge(&o.t) }

// Grid returns every τ with its estimate and estimated MSE.
func (s SwitchDR) Grid() []GridPoint { return s.t.grid(&switchGrid) }

// Estimate returns the estimate at the chosen τ (in Param). Its interval
// ignores the choice and the bias.
func (s SwitchDR) Estimate(level float64) Estimate {
	return s.t.estimate(MethodSwitchDR, &switchGrid, level)
}

// DRos is DR with optimistic shrinkage (Su et al. 2020) over the fixed λ
// grid ShrinkageGrid, reported at the λ with the smallest estimated MSE. The
// zero value is empty.
type DRos struct{ t tuned }

// Add adds one record; it assumes r is valid.
func (s *DRos) Add(r Record) {
	var x terms
	w := r.Weight()
	x.shrinkTerms(r, w)
	s.t.add(&x, w)
}

// Merge adds the records of o.
func (s *DRos) Merge(o DRos) { s.t.merge(&o.t) }

// Grid returns every λ with its estimate and estimated MSE.
func (s DRos) Grid() []GridPoint { return s.t.grid(&shrinkGrid) }

// Estimate returns the estimate at the chosen λ (in Param). Its interval
// ignores the choice and the bias.
func (s DRos) Estimate(level float64) Estimate {
	return s.t.estimate(MethodDRos, &shrinkGrid, level)
}
