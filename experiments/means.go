package experiments

import "math"

// WelchResult is the outcome of Welch's unequal-variance t test of
// treatment minus control.
type WelchResult struct {
	Diff   float64  // x̄_T − x̄_C
	SE     float64  // sqrt(s²_T/n_T + s²_C/n_C)
	DF     float64  // Welch–Satterthwaite degrees of freedom
	T      float64  // Diff/SE
	PValue float64  // two-sided
	CI     Interval // Diff ± t_{DF,1−α/2}·SE
}

// Welch runs Welch's t test for a difference of means, two-sided at the given
// level (0 means 0.95):
//
//	SE = sqrt(s²_T/n_T + s²_C/n_C)
//	t  = (x̄_T − x̄_C)/SE
//	ν  = (s²_T/n_T + s²_C/n_C)² / ((s²_T/n_T)²/(n_T−1) + (s²_C/n_C)²/(n_C−1))
//	p  = 2·P(T_ν > |t|),   CI = (x̄_T − x̄_C) ± t_{ν,1−α/2}·SE
//
// s² is the sample variance (n−1 denominator). Sources: Welch (1947) for the
// test and Satterthwaite (1946) for ν. This is R's t.test(var.equal = FALSE)
// and GrowthBook's TwoSidedTTest (gbstats frequentist/tests.py). If both arms
// are constant, SE is 0 and p is 1 for equal means, 0 otherwise. Every field
// except Diff is NaN when an arm has fewer than two values.
func Welch(treatment, control Summary, level float64) WelchResult {
	lv := resolveLevel(level)
	nan := math.NaN()
	r := WelchResult{Diff: treatment.Mean() - control.Mean(), SE: nan, DF: nan, T: nan, PValue: nan, CI: Interval{nan, nan}}
	if treatment.N < 2 || control.N < 2 {
		return r
	}
	vT, vC := treatment.Variance(), control.Variance()
	r.SE = math.Sqrt(vT/float64(treatment.N) + vC/float64(control.N))
	r.DF = welchDF(vT, treatment.N, vC, control.N)
	if !finite(r.Diff) || !finite(r.SE) {
		return r
	}
	if r.SE == 0 {
		r.T = math.Copysign(math.Inf(1), r.Diff)
		r.PValue = 0
		if r.Diff == 0 {
			r.T, r.PValue = 0, 1
		}
		r.CI = Interval{r.Diff, r.Diff}
		return r
	}
	r.T = r.Diff / r.SE
	r.PValue = tTwoSidedP(r.T, r.DF)
	q := tCrit(lv, r.DF)
	r.CI = Interval{r.Diff - q*r.SE, r.Diff + q*r.SE}
	return r
}

// welchDF is the Welch–Satterthwaite degrees of freedom for per-customer
// variances v1, v2 over n1, n2 ≥ 2 customers (formula in Welch). When both
// variances are 0 the formula is 0/0; it then returns the pooled
// n1 + n2 − 2, which only matters as a placeholder because SE is 0.
func welchDF(v1 float64, n1 int, v2 float64, n2 int) float64 {
	a := v1 / float64(n1)
	b := v2 / float64(n2)
	den := a*a/float64(n1-1) + b*b/float64(n2-1)
	if den == 0 {
		return float64(n1 + n2 - 2)
	}
	return (a + b) * (a + b) / den
}
