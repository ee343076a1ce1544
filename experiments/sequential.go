package experiments

import (
	"fmt"
	"math"
)

// DefaultTuning is the default tuning parameter N* of the confidence
// sequence: the total sample size (both arms) at which the sequence is
// narrowest. 5,000 is GrowthBook's default
// (SequentialTwoSidedTTest.DEFAULT_TUNING_PARAMETER). Set it near the
// total sample size at which you expect to decide.
const DefaultTuning = 5000.0

// Sequence is an always-valid (anytime) two-sided confidence sequence for a
// difference of means. It is the asymptotic confidence sequence of
// Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas (2023), "Time-uniform
// central limit theory and asymptotic confidence sequences",
// arXiv:2103.06476v7, eq. 9, with the mixing parameter ρ of eq. 161.
// GrowthBook implements the same construction (gbstats sequential_rho and
// sequential_interval_halfwidth; docs/statistics/sequential.mdx).
//
// The probability that the interval ever fails to cover the true lift is at
// most α = 1 − Level, asymptotically. That holds over every n at which it
// is looked at, so a dashboard may recompute it daily. The fixed-horizon
// interval covers only at the single planned n: looked at 30 times it
// rejects a true null far more often than α (see the A/A tests). The price
// is width. With α = 0.05 and N* = 5,000 the sequence is about 1.55 times
// the fixed 95% interval at n = N*, and wider elsewhere.
//
// The result is asymptotic (it rests on the central limit theorem), so
// early looks at rare binary events are approximate.
type Sequence struct {
	// Level is the two-sided confidence level 1 − α; 0 means 0.95.
	Level float64
	// Tuning is N* > 0; 0 means DefaultTuning.
	Tuning float64
}

func (s Sequence) params() (alpha, tuning float64) {
	alpha = 1 - resolveLevel(s.Level)
	tuning = s.Tuning
	if tuning == 0 {
		tuning = DefaultTuning
	}
	if !(tuning > 0) || math.IsInf(tuning, 1) {
		panic(fmt.Sprintf("experiments: confidence sequence tuning %v is not a positive number", s.Tuning))
	}
	return alpha, tuning
}

// Rho returns the mixing parameter that makes the sequence tightest at
// n = N* (Waudby-Smith et al. 2023, eq. 161, two-sided):
//
//	ρ = sqrt((−2·ln α + ln(−2·ln α + 1)) / N*)
//
// For α = 0.05 and N* = 5,000, ρ ≈ 0.03984.
func (s Sequence) Rho() float64 {
	alpha, tuning := s.params()
	l := -2 * math.Log(alpha)
	return math.Sqrt((l + math.Log(l+1)) / tuning)
}

// HalfWidth returns the half-width of the sequence after n observations in
// total (both arms), where se is the standard error of the estimated
// difference (Waudby-Smith et al. 2023, eq. 9):
//
//	σ̂² = n·se²   (the per-observation variance)
//	hw  = σ̂ · sqrt( 2(nρ² + 1) / (n²ρ²) · ln( sqrt(nρ² + 1) / α ) )
//
// The interval is diff ± hw. It is NaN for n ≤ 0.
func (s Sequence) HalfWidth(se float64, n int) float64 {
	alpha, _ := s.params()
	if n <= 0 {
		return math.NaN()
	}
	rho := s.Rho()
	nf := float64(n)
	r2 := nf*rho*rho + 1
	sigma := math.Sqrt(nf) * se
	return sigma * math.Sqrt(2*r2/(nf*nf*rho*rho)*math.Log(math.Sqrt(r2)/alpha))
}

// PValue returns the always-valid p-value matching HalfWidth: it is below α
// exactly when diff ± HalfWidth(se, n) excludes 0 (Waudby-Smith et al. 2023,
// eq. 155; GrowthBook SequentialTwoSidedTTest.p_value):
//
//	z = diff/se
//	e = exp( ρ²·n·z² / (2(nρ² + 1)) ) / sqrt(nρ² + 1)     (an e-value)
//	p = min(1, 1/e)
//
// It is valid at every look. The running minimum over looks is also valid,
// and the engine should report that. If se is 0, p is 1 for diff = 0 and 0
// otherwise. It is NaN for n ≤ 0.
func (s Sequence) PValue(diff, se float64, n int) float64 {
	s.params()
	if n <= 0 || math.IsNaN(diff) || math.IsNaN(se) {
		return math.NaN()
	}
	if se == 0 {
		if diff == 0 {
			return 1
		}
		return 0
	}
	rho := s.Rho()
	nf := float64(n)
	r2 := nf*rho*rho + 1
	z := diff / se
	// 1/e computed in log space so that large z cannot overflow exp.
	logInvE := 0.5*math.Log(r2) - rho*rho*nf*z*z/(2*r2)
	return math.Min(1, math.Exp(logInvE))
}
