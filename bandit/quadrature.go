package bandit

import (
	"math"
)

// SelectionTolerance is the default absolute error bound of
// SelectionProbabilityQuad, as measured by TestSelectionQuadTolerance against a fine
// grid on random arms with narrow, ordinary and wide posteriors (largest error seen:
// 0.0063). Monte Carlo with 100 draws has a standard error of up to 0.05.
const SelectionTolerance = 1e-2

// logit is σ⁻¹(p) = log(p/(1−p)).
func logit(p float64) float64 { return math.Log(p / (1 - p)) }

// SelectionProbabilityQuad integrates over t ∈ [−quadRange, quadRange] (the mass
// outside, 2Φ(−7) ≈ 2.6e−12, is dropped) in quadPanels panels, each refined by adaptive
// Simpson at most maxQuadDepth times. quadSafety divides tol before it is shared out
// among the panels: Simpson's Richardson estimate |S₂ − S₁|/15 assumes a smooth
// integrand and understates the error where a sigmoid or an arm's Φ turns sharply
// (with no safety factor the measured error reached 7 times tol).
const (
	quadSafety   = 10.0
	quadSat      = 1e-4 // a sigmoid within this of 0 or 1 counts as saturated
	quadRange    = 7.0
	quadPanels   = 6
	maxQuadDepth = 12
)

// SelectionProbabilityQuad computes π(chosen | x), the probability that the
// Thompson sampling rule of Sample picks chosen, by numerical integration
// instead of Monte Carlo. Arm a's sampled priority is S_a = w_a σ(Z_a) with
// independent Z_a ~ N(μ_a, s_a²), so conditioning on the chosen arm's draw
// (the order-statistics identity P(S_i > max_{j≠i} S_j) = ∫ Π_{j≠i} F_j dF_i;
// David & Nagaraja, "Order Statistics", 3rd ed., 2003, §2.1) gives
//
//	π_i = ∫ φ(t) Π_{j≠i} G_j(w_i σ(μ_i + s_i t)) dt,
//	G_j(c) = P(S_j < c) = Φ((logit(c/w_j) − μ_j)/s_j)  for 0 < c < w_j,
//
// with G_j(c) = 1 for c ≥ w_j and for w_j ≤ 0 < c. Each other arm's G_j is taken as 0
// below and 1 above its logit's mean ± cut standard deviations, where it is within
// Φ(−cut) of 0 or 1 (see selCut); the integral is narrowed to where the product is
// then neither 0 nor 1, the part above in closed form, and split into panels, each
// integrated by adaptive Simpson quadrature (Lyness 1969, "Notes on the adaptive
// Simpson quadrature routine", JACM 16(3)), which halves an interval until its
// Richardson error estimate is within its share of tol/quadSafety. Within a panel,
// the arms whose G_j is 1 over the whole panel are left out of the product. Ties
// between sampled priorities have probability zero and are ignored.
//
// Other arms with the same mean, SD and weight (the parameters G_j reads) have the
// same G_j, so the product is taken over the distinct parameter sets g, each to the
// power of its count: Π_{j≠i} G_j(c) = Π_g G_g(c)^{n_g}. A catalog of new actions at
// the prior with equal values, whose arms are all alike, then costs one G per
// integrand evaluation instead of K−1. When every arm, the chosen one included, has
// the same mean, SD > 0 and weight, every G_j is the chosen arm's own distribution
// function F, continuous, and the identity above gives π_i = ∫ F^{K−1} dF = 1/K
// exactly (every arm is first with the same probability, as K independent and
// identically distributed continuous variables must be): that case returns 1/K
// without integrating.
//
// Its error is within tol where Monte Carlo with n draws has standard error
// √(π(1−π)/n); tol is a target the tests check on random arms, not a proven bound.
// It costs one Φ and one log per distinct other arm and integrand evaluation (at least
// 25 evaluations; more where the integrand bends sharply), with the arms whose G_j is
// 0 or 1 at the evaluation's priority skipped. It returns NaN if chosen is
// out of range, if the chosen arm's weight is not positive, or if an arm has a NaN or
// infinite parameter: there Sample's tie and NaN rules matter, and callers use the
// Monte Carlo SelectionProbability instead. It does not allocate.
func SelectionProbabilityQuad(arms []Arm, chosen int, tol float64) float64 {
	if chosen < 0 || chosen >= len(arms) {
		return math.NaN()
	}
	if !quadrable(arms, chosen) {
		return math.NaN()
	}
	if arms[chosen].SD > 0 && allAlike(arms, chosen) {
		return 1 / float64(len(arms))
	}
	return selectionQuad(arms, chosen, tol, true)
}

// allAlike reports whether every arm has the chosen arm's mean, SD and weight.
func allAlike(arms []Arm, chosen int) bool {
	ci := &arms[chosen]
	for j := range arms {
		if a := &arms[j]; a.Mean != ci.Mean || a.SD != ci.SD || a.Weight != ci.Weight {
			return false
		}
	}
	return true
}

// selectionQuad is SelectionProbabilityQuad after its checks and the all-alike case,
// with the other arms grouped by their parameters if group is set (each arm its own
// group otherwise; the tests compare the two).
func selectionQuad(arms []Arm, chosen int, tol float64, group bool) float64 {
	if !(tol > 0) {
		tol = SelectionTolerance
	}
	ci := arms[chosen]
	var q selIntegrand
	if ci.SD == 0 {
		// One product, at the chosen arm's fixed priority: arm by arm, with no groups
		// or bounds to set up.
		q.arms, q.i = arms, chosen
		return q.others(ci.Weight * sigmoid(ci.Mean))
	}
	q.init(arms, chosen, group, selCut(tol, len(arms)-1))
	// Narrow [−7, 7] to where the integrand is neither 0 nor φ(t): below lo the chosen
	// arm's priority is under another arm's floor (lo[j]); above hi it is over every
	// other arm's ceiling (hi[j]), where the integral is Φ(−hi) in closed form.
	lo, hi, tail := -quadRange, quadRange, 0.0
	if q.rest == len(arms) {
		maxLo, maxHi := 0.0, 0.0
		for g := range q.groups[:q.n] {
			if t := &q.groups[g]; t.weight > 0 {
				maxLo, maxHi = max(maxLo, t.lo), max(maxHi, t.hi)
			}
		}
		if maxLo >= ci.Weight {
			return 0
		}
		if maxLo > 0 {
			lo = min(max(lo, (logit(maxLo/ci.Weight)-ci.Mean)/ci.SD), quadRange)
		}
		if maxHi < ci.Weight {
			top := math.Inf(-1) // where the chosen arm's priority passes every ceiling
			if maxHi > 0 {
				top = (logit(maxHi/ci.Weight) - ci.Mean) / ci.SD
			}
			if top < hi {
				hi = max(top, lo)
				tail = 0.5 * math.Erfc(hi/math.Sqrt2) // Φ(−hi)
			}
		}
		if hi-lo < 1e-12 {
			return math.Min(1, tail)
		}
	}
	// Where the chosen arm's sigmoid has saturated, its priority c(t) is within a factor
	// sat of 0 (left) or of its weight (right), so Π G_j(c) is bracketed by its values at
	// the ends of that range (it increases with c) and the part is φ's mass times the
	// bracket's middle, with half the bracket's width times that mass as its largest
	// error. A wide posterior (an untrained model) saturates within a short stretch of
	// t; the quadrature then covers only the stretch between. A part is cut off only if
	// its bracket fits within tol/quadSafety/4.
	p := tail
	budget := tol / quadSafety / 4
	if tr := (logit(1-quadSat) - ci.Mean) / ci.SD; tr > lo && tr < hi {
		g0, g1 := q.others(ci.Weight*(1-quadSat)), q.others(ci.Weight)
		mass := normCDF(hi) - normCDF(tr)
		if (g1-g0)*mass/2 <= budget {
			p += (g0 + g1) / 2 * mass
			hi = tr
		}
	}
	if tl := (logit(quadSat) - ci.Mean) / ci.SD; tl > lo && tl < hi {
		g0, g1 := q.others(0), q.others(ci.Weight*quadSat)
		mass := normCDF(tl) - normCDF(lo)
		if (g1-g0)*mass/2 <= budget {
			p += (g0 + g1) / 2 * mass
			lo = tl
		}
	}
	// On [a, b] the chosen arm's priority runs from c(a) to c(b) (it increases with t),
	// so a group whose ceiling is at most c(a) has G = 1 on the whole panel: restrict
	// leaves it out of the panel's products, which it would only multiply by 1.
	h := (hi - lo) / quadPanels
	a, fa := lo, q.at(lo)
	ca := q.priority(lo)
	for k := 1; k <= quadPanels; k++ {
		b := lo + float64(k)*h
		cb := q.priority(b)
		q.restrict(ca)
		m := (a + b) / 2
		fm, fb := q.at(m), q.at(b)
		p += simpson(q.at, a, b, fa, fm, fb, h*(fa+4*fm+fb)/6, tol/quadSafety/quadPanels, maxQuadDepth)
		a, fa, ca = b, fb, cb
	}
	return math.Min(1, math.Max(0, p))
}

// quadrable reports whether SelectionProbabilityQuad integrates rather than
// returning NaN for this chosen arm: its weight is positive and every arm's
// parameters are finite with SD ≥ 0.
func quadrable(arms []Arm, chosen int) bool {
	if !(arms[chosen].Weight > 0) {
		return false
	}
	for _, a := range arms {
		if !finite(a.Mean) || !finite(a.SD) || !finite(a.Weight) || a.SD < 0 {
			return false
		}
	}
	return true
}

// selIntegrand is the integrand of SelectionProbabilityQuad. It lives on the
// caller's stack: nothing in it is allocated.
type selIntegrand struct {
	// mean, sd and weight are the chosen arm's.
	mean, sd, weight float64
	// groups[:n] are the distinct parameter sets of the other arms in arms[:rest];
	// the other arms in arms[rest:] (there when arms[:rest] held quadBounded distinct
	// sets, and all of them when the chosen arm's SD is 0) are evaluated one by one,
	// without bounds.
	groups [quadBounded]selGroup
	n      int
	// active[:na] are the indices of the groups others multiplies in, in order: all of
	// them, or those restrict leaves for a panel.
	active [quadBounded]uint8
	na     int
	arms   []Arm
	i      int
	rest   int
}

// selGroup is one parameter set (mean, SD, weight) shared by count of the other
// arms, with what G reads precomputed.
type selGroup struct {
	mean, sd, weight float64
	// invSD is 1/sd (0 when sd is 0; read only where lo < hi, so never where 1/sd
	// overflows).
	invSD float64
	// lo and hi bound the sampled priority to within ±cut standard deviations of its
	// logit (see selCut): outside them G is taken as 0 or 1, and no logarithm or Φ is
	// needed.
	lo, hi float64
	count  int
}

// quadBounded is how many distinct parameter sets of the other arms get a group (on
// the stack: no allocation); the arms after the one that finds the groups full are
// evaluated in full. quadCut is the widest the bounds get, in standard deviations:
// Φ(−8.3) ≈ 5e−17, below the rounding of a product near 1.
const (
	quadBounded = 64
	quadCut     = 8.3
)

// quadSlotBits sizes init's hash table: 1<<quadSlotBits slots, at least twice
// quadBounded (the array below fails to compile otherwise), hold group indices + 1 in
// a uint8.
const quadSlotBits = 7

var _ [1<<quadSlotBits - 2*quadBounded]struct{}

// selCut is the width, in standard deviations, of the bounds outside which
// SelectionProbabilityQuad takes an arm's G as 0 or 1, for tolerance tol and n other
// arms: the cut with Φ(−cut) = ε = tol/(4·quadSafety·n), Φ(−cut) = erfc(cut/√2)/2,
// within [1, quadCut]. G is then within ε of what it is taken for: for c at or below
// the floor, G(c) ≤ G(floor) = Φ(−cut), and above the ceiling 1 − G(c) ≤ Φ(−cut).
// Since |Π a_j − Π b_j| ≤ Σ |a_j − b_j| for factors in [0, 1] (telescoping), the
// product is within n·ε of its exact value, and the integral, against φ of mass ≤ 1,
// within tol/quadSafety/4: the same share as each of the saturated ends'. At the
// default tolerance and 19 other arms the cut is 4.2 standard deviations instead of
// 8.3, which leaves out nearly half of a trained catalog's Φ evaluations.
func selCut(tol float64, n int) float64 {
	eps := tol / (4 * quadSafety * float64(max(n, 1)))
	return min(quadCut, max(1, math.Sqrt2*math.Erfcinv(2*eps)))
}

// init fills q for the chosen arm of arms: the groups of the other arms (with group
// unset, one group per arm) with their bounds at ±cut standard deviations.
//
// Arms are matched through a multiplicative hash of their parameters' bits into a
// table of 1<<quadSlotBits slots, at most half full, probed linearly (open
// addressing; Knuth, TAOCP vol. 3, 2nd ed., §6.4, Algorithm L), so grouping costs O(K)
// rather than O(K²) comparisons. Parameter sets that compare equal but differ in their
// bits (0 and −0) land in separate groups, which only forgoes the saving.
func (q *selIntegrand) init(arms []Arm, chosen int, group bool, cut float64) {
	ci := &arms[chosen]
	q.mean, q.sd, q.weight = ci.Mean, ci.SD, ci.Weight
	q.arms, q.i, q.n, q.rest = arms, chosen, 0, len(arms)
	var slots [1 << quadSlotBits]uint8 // group index + 1; 0 is empty
	prev := -1                         // the group of the previous other arm: runs of like arms skip the hash
	for j := range arms {
		if j == chosen {
			continue
		}
		a := &arms[j]
		if group {
			if prev >= 0 {
				if g := &q.groups[prev]; g.mean == a.Mean && g.sd == a.SD && g.weight == a.Weight {
					g.count++
					continue
				}
			}
			h := (math.Float64bits(a.Mean)*0x9e3779b97f4a7c15 ^ math.Float64bits(a.SD)*0xc2b2ae3d27d4eb4f ^
				math.Float64bits(a.Weight)*0x165667b19e3779f9) >> (64 - quadSlotBits)
			found := false
			for ; slots[h] != 0; h = (h + 1) % (1 << quadSlotBits) {
				g := &q.groups[slots[h]-1]
				if g.mean == a.Mean && g.sd == a.SD && g.weight == a.Weight {
					g.count++
					prev, found = int(slots[h]-1), true
					break
				}
			}
			if found {
				continue
			}
			if q.n < quadBounded {
				slots[h] = uint8(q.n + 1)
			}
		}
		if q.n == quadBounded {
			q.rest = j
			return
		}
		g := &q.groups[q.n]
		*g = selGroup{mean: a.Mean, sd: a.SD, weight: a.Weight, count: 1}
		if a.SD > 0 {
			g.invSD = 1 / a.SD
		}
		if a.Weight > 0 {
			g.lo = a.Weight * sigmoid(a.Mean-cut*a.SD)
			g.hi = a.Weight * sigmoid(a.Mean+cut*a.SD)
		}
		prev = q.n
		q.active[q.n] = uint8(q.n)
		q.n++
		q.na = q.n
	}
}

// restrict sets active to all groups but those others passes over (G = 1) at every
// priority c ≥ ca > 0: the groups with a weight of 0 or less, and those with a
// ceiling at or below ca. others(c) is unchanged for every such c.
func (q *selIntegrand) restrict(ca float64) {
	q.na = 0
	for k := range q.groups[:q.n] {
		if g := &q.groups[k]; ca > 0 && (g.weight <= 0 || ca >= g.hi) {
			continue
		}
		q.active[q.na] = uint8(k)
		q.na++
	}
}

// priority is the chosen arm's priority c(t) = w σ(μ + s t).
func (q *selIntegrand) priority(t float64) float64 { return q.weight * sigmoid(q.mean+q.sd*t) }

// at is the integrand at t: the standard normal density times the
// probability that every other arm scores below the chosen one's priority
// when its logit is μ + s t.
func (q *selIntegrand) at(t float64) float64 {
	return math.Exp(-t*t/2) * invSqrt2Pi * q.others(q.priority(t))
}

// invSqrt2Pi is 1/√(2π), the standard normal density's constant.
const invSqrt2Pi = 0.398942280401432677939946059934381868475858631164934657665925829670657925

// others returns Π_{j≠i} G_j(c) = Π_g G_g(c)^{n_g}: the probability that every
// other arm's sampled priority is below c. logit(c/w) is computed as
// log c − log(w − c), with log c taken once for all arms and no division, and
// (logit − μ)/s as (logit − μ)·(1/s).
func (q *selIntegrand) others(c float64) float64 {
	p := 1.0
	logC, logged := 0.0, false // log c, taken when a group first needs it
	for _, k := range q.active[:q.na] {
		g := &q.groups[k]
		if g.weight <= 0 {
			if c > 0 {
				continue
			}
			return 0
		}
		if c >= g.weight {
			continue
		}
		if c <= 0 {
			return 0
		}
		if c >= g.hi {
			continue
		}
		if c <= g.lo {
			return 0
		}
		// 0 ≤ lo < c < hi ≤ w, and sd > 0 (for sd = 0, lo = hi).
		if !logged {
			logC, logged = fastLog(c), true
		}
		f := normCDF((logC - fastLog(g.weight-c) - g.mean) * g.invSD)
		if g.count > 1 {
			f = powInt(f, g.count)
		}
		if p *= f; p == 0 {
			return 0
		}
	}
	for j := q.rest; j < len(q.arms); j++ {
		if j == q.i {
			continue
		}
		a := &q.arms[j]
		if a.Weight <= 0 {
			if c > 0 {
				continue
			}
			return 0
		}
		if c >= a.Weight {
			continue
		}
		if c <= 0 {
			return 0
		}
		if a.SD == 0 {
			if c >= a.Weight*sigmoid(a.Mean) { // as with a group's bounds, lo = hi = w σ(μ)
				continue
			}
			return 0
		}
		if !logged {
			logC, logged = fastLog(c), true
		}
		if p *= normCDF((logC - fastLog(a.Weight-c) - a.Mean) / a.SD); p == 0 {
			return 0
		}
	}
	return p
}

// powInt is x^n for n ≥ 1 by the right-to-left binary method (Knuth, TAOCP vol. 2,
// 3rd ed., §4.6.3, Algorithm A): at most 2⌊log₂ n⌋ multiplications instead of n − 1.
// Each rounding is carried into the later squares, so the relative error is bounded
// as for a product of n factors, γ_{n−1} = (n−1)u/(1−(n−1)u) with u = 2⁻⁵³ (Higham,
// "Accuracy and Stability of Numerical Algorithms", 2nd ed., 2002, Lemma 3.1): the bound of
// the n − 1 multiplications it replaces. 0 and 1 are returned exactly.
func powInt(x float64, n int) float64 {
	r := 1.0
	for {
		if n&1 != 0 {
			r *= x
		}
		if n >>= 1; n == 0 {
			return r
		}
		x *= x
	}
}

// simpson is one step of adaptive Simpson quadrature of f on [a, b] with f's
// values fa, fm, fb at a, (a+b)/2, b and whole the Simpson estimate over [a, b]
// (Lyness 1969): it halves [a, b] until the two halves' estimates differ from
// whole by at most 15·tol, or depth runs out, and adds Richardson's correction
// (left + right − whole)/15. f is selIntegrand's or netIntegrand's at.
func simpson(f func(float64) float64, a, b, fa, fm, fb, whole, tol float64, depth int) float64 {
	m := (a + b) / 2
	flm, frm := f((a+m)/2), f((m+b)/2)
	left := (m - a) * (fa + 4*flm + fm) / 6
	right := (b - m) * (fm + 4*frm + fb) / 6
	diff := left + right - whole
	if depth <= 0 || math.Abs(diff) <= 15*tol {
		return left + right + diff/15
	}
	return simpson(f, a, m, fa, flm, fm, left, tol/2, depth-1) +
		simpson(f, m, b, fm, frm, fb, right, tol/2, depth-1)
}

// normCDF is the standard normal distribution function Φ(x), interpolated linearly
// in a table of Φ at steps of 1/256 over [−8.5, 8.5] (computed once from math.Erfc).
// Linear interpolation errs by at most h²/8 · max |d²Φ/dx²| = h²/8 · φ(1) = 4.62e−7 with
// h = 1/256 (the standard bound for piecewise-linear interpolation, e.g. Süli & Mayers,
// "An Introduction to Numerical Analysis", 2003, Theorem 11.1); outside the table Φ is
// within 1e−17 of 0 or 1. It costs a multiply and a load, a fifth of math.Erfc, and
// its error is far inside SelectionProbabilityQuad's tolerance (TestNormCDF checks it
// against math.Erfc).
func normCDF(x float64) float64 {
	u := (x + normRange) * normSteps
	switch {
	case u <= 0:
		return 0
	case u >= float64(len(normTable)-1):
		return 1
	case u != u:
		return math.NaN()
	}
	k := int(u)
	f := u - float64(k)
	return normTable[k] + f*(normTable[k+1]-normTable[k])
}

const (
	normRange = 8.5
	normSteps = 256
)

// normTable holds Φ(−normRange + k/normSteps).
var normTable = func() []float64 {
	t := make([]float64, 2*normRange*normSteps+1)
	for k := range t {
		x := -normRange + float64(k)/normSteps
		t[k] = 0.5 * math.Erfc(-x/math.Sqrt2)
	}
	return t
}()

// logTable holds, for k = 0 … logSteps−1 and the midpoint m_k = 1 + (k + ½)/logSteps of
// the k-th of logSteps equal parts of [1, 2), log m_k and 1/m_k (computed once from
// math.Log).
var logTable = func() (t [logSteps][2]float64) {
	for k := range t {
		m := 1 + (float64(k)+0.5)/logSteps
		t[k] = [2]float64{math.Log(m), 1 / m}
	}
	return t
}()

const logSteps = 128 // 7 bits of the mantissa pick the table entry

// fastLog is the natural logarithm by table lookup and a short series (Tang 1990,
// "Table-driven implementation of the logarithm function in IEEE floating-point
// arithmetic", ACM TOMS 16(4)): for x = 2^e·m with m ∈ [1, 2) in the k-th part,
//
//	log x = e·ln 2 + log m_k + log(1 + d),  d = m/m_k − 1,  |d| ≤ 1/(2·logSteps),
//
// with log(1 + d) ≈ d − d²/2 + d³/3 − d⁴/4, whose truncation error is below
// |d|⁵/5 ≤ 1.9e−13 (alternating series with terms decreasing in size). With the
// rounding of the table and of e·ln 2 the absolute error stays below 1e−12 (TestFastLog
// checks it against math.Log). It costs no division and no call, against math.Log's
// division and call; zero, subnormal, infinite and NaN arguments go to math.Log.
func fastLog(x float64) float64 {
	b := math.Float64bits(x)
	e := int(b>>52) - 1023 // x > 0 has no sign bit
	if e == -1023 || e == 1024 {
		return math.Log(x)
	}
	t := &logTable[(b>>(52-7))&(logSteps-1)]
	d := math.Float64frombits(b&(1<<52-1)|1023<<52)*t[1] - 1
	return float64(e)*math.Ln2 + t[0] + d*(1-d*(1.0/2-d*(1.0/3-d*(1.0/4))))
}
