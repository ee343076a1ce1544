package experiments

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultLevel is the confidence level used when a level of 0 is passed:
// two-sided 95%, the default of GrowthBook, Eppo and Statsig.
const DefaultLevel = 0.95

// resolveLevel returns l, or DefaultLevel when l is 0. It panics on a level outside
// (0, 1): validating user input is the caller's job (Analyze and PowerPlan do
// it), so a bad level here is a programmer error.
func resolveLevel(l float64) float64 {
	if l == 0 {
		return DefaultLevel
	}
	if !(l > 0 && l < 1) {
		panic(fmt.Sprintf("experiments: confidence level %v outside (0, 1)", l))
	}
	return l
}

// checkLevel is the error-returning form of resolveLevel, for user input.
func checkLevel(l float64) (float64, error) {
	if l == 0 {
		return DefaultLevel, nil
	}
	if !(l > 0 && l < 1) {
		return 0, fmt.Errorf("%w: confidence level %v outside (0, 1)", ErrInvalidConfig, l)
	}
	return l, nil
}

// zCrit is the two-sided standard-normal critical value z_{1-α/2} for a
// confidence level 1-α, e.g. 1.959964 for 0.95.
func zCrit(l float64) float64 {
	return distuv.UnitNormal.Quantile(1 - (1-l)/2)
}

// normSF is the standard-normal survival function 1-Φ(x), computed as
// erfc(x/√2)/2 so that it keeps its relative accuracy in the far tail.
func normSF(x float64) float64 {
	return 0.5 * math.Erfc(x/math.Sqrt2)
}

// normCDF is Φ(x).
func normCDF(x float64) float64 {
	return 0.5 * math.Erfc(-x/math.Sqrt2)
}

// normPDF is the standard-normal density φ(x).
func normPDF(x float64) float64 {
	return math.Exp(-0.5*x*x) / math.Sqrt(2*math.Pi)
}

// normalDF is the degrees of freedom above which Student's t is replaced by
// the normal. At ν = 1e7 the two critical values differ by about
// (z³+z)/(4ν) ≈ 2.4e-7 relative, the first term of the Cornish–Fisher
// expansion of the t quantile. Beyond about
// ν = 1e9, gonum's incomplete beta function loses accuracy: at ν = 1e12 its
// 97.5% quantile is off by 2e-5.
const normalDF = 1e7

// tTwoSidedP is the two-sided p-value 2·P(T_ν > |t|) of Student's t with ν
// degrees of freedom. ν above normalDF, including +Inf, gives the normal
// p-value. It returns NaN for a NaN t or a ν that is not positive, rather
// than letting gonum's incomplete beta function panic.
func tTwoSidedP(t, nu float64) float64 {
	switch {
	case math.IsNaN(t) || math.IsNaN(nu) || nu <= 0:
		return math.NaN()
	case math.IsInf(t, 0):
		return 0
	case nu > normalDF:
		return 2 * normSF(math.Abs(t))
	}
	return 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: nu}.Survival(math.Abs(t))
}

// tCrit is the two-sided critical value t_{ν,1-α/2}. ν above normalDF,
// including +Inf, gives z. It returns NaN for a ν that is not positive.
//
// gonum's StudentsT.Quantile inverts the incomplete beta function and takes
// 10–50 µs at the ν of real experiments, most of a Compare call. tCrit
// instead starts from the two-term Cornish–Fisher expansion
//
//	t ≈ z + (z³ + z)/(4ν) + (5z⁵ + 16z³ + 3z)/(96ν²)
//
// (Abramowitz & Stegun 1964, 26.7.5) and applies Newton's method to
// gonum's survival function, S(t) = α/2, with S′ = −density. In the upper
// tail S is convex, so once an iterate is below the root the iterates rise
// to it monotonically. It stops when a step is below 1e-10 relative, about
// the rounding noise of the survival function at ν = 1e6. If the iteration
// leaves the upper half-line or does not converge, tCrit falls back to
// Quantile. The two agree to 1e-9 relative (TestTCritAgreesWithGonum).
func tCrit(l, nu float64) float64 {
	switch {
	case math.IsNaN(nu) || nu <= 0:
		return math.NaN()
	case nu > normalDF:
		return zCrit(l)
	}
	a := (1 - l) / 2
	dist := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: nu}
	z := zCrit(l)
	z3 := z * z * z
	q := z + (z3+z)/(4*nu) + (5*z3*z*z+16*z3+3*z)/(96*nu*nu)
	for range 50 {
		step := (dist.Survival(q) - a) / dist.Prob(q)
		q += step
		if !(q > 0) || math.IsInf(q, 0) {
			break
		}
		if math.Abs(step) <= 1e-10*q { // below the noise of Survival at large ν
			return q
		}
	}
	return dist.Quantile(1 - a)
}

// finite reports whether x is neither NaN nor ±Inf.
func finite(x float64) bool {
	return !math.IsNaN(x) && !math.IsInf(x, 0)
}
