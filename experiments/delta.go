package experiments

import "math"

// RelativeLift returns the relative lift of the treatment over the control
// and its delta-method standard error. Inputs are the two arm means μ̂_T and
// μ̂_C, and the variances of those means, V_T = s²_T/n_T and V_C = s²_C/n_C:
//
//	lift = (μ̂_T − μ̂_C)/|μ̂_C|                 (= μ̂_T/μ̂_C − 1 when μ̂_C > 0)
//	Var  = V_T/μ̂_C² + V_C·μ̂_T²/μ̂_C⁴
//
// The variance is the first-order Taylor (delta-method) expansion of
// g(a, b) = a/b around the two independent means: ∇g = (1/b, −a/b²).
// Sources: Deng, Knoblich & Lu (2018); GrowthBook
// docs/statistics/details.mdx, written there as
// σ²_C·μ_T²/(μ_C⁴·n_C) + σ²_T/(μ_C²·n_T), with the same |μ_C| convention.
// Eppo writes the same quantity as (μ_T²/μ_C²)(V_C/μ_C² + V_T/μ_T²).
//
// The interval lift ± z·SE is what GrowthBook and Eppo report. It is
// accurate when μ̂_C is many standard errors from 0. Both results are NaN
// when μ̂_C is 0.
func RelativeLift(meanT, varMeanT, meanC, varMeanC float64) (lift, se float64) {
	if meanC == 0 {
		return math.NaN(), math.NaN()
	}
	c2 := meanC * meanC
	lift = (meanT - meanC) / math.Abs(meanC)
	v := varMeanT/c2 + varMeanC*meanT*meanT/(c2*c2)
	return lift, math.Sqrt(v)
}
