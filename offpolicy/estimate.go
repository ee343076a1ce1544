package offpolicy

import "math"

// Method names an estimator.
type Method string

// The estimators, in the order a Report lists them.
const (
	MethodObserved Method = "observed" // mean observed reward (the logging policy's value)
	MethodReplay   Method = "replay"   // Li et al. 2011
	MethodIPS      Method = "ips"      // inverse propensity scoring
	MethodSNIPS    Method = "snips"    // self-normalised IPS, Swaminathan & Joachims 2015
	MethodDM       Method = "dm"       // direct method
	MethodDR       Method = "dr"       // doubly robust, Dudík, Langford & Li 2011
	MethodSwitchDR Method = "switch-dr"
	MethodDRos     Method = "dr-os" // DR with optimistic shrinkage, Su et al. 2020
)

// Methods lists every estimator in report order.
var Methods = [...]Method{MethodObserved, MethodReplay, MethodIPS, MethodSNIPS, MethodDM, MethodDR, MethodSwitchDR, MethodDRos}

// Estimate is one estimator's value of the target policy with its
// intervals. Intervals that were not computed have NaN ends.
type Estimate struct {
	Method Method
	// N is the number of records.
	N int
	// Value is the point estimate; NaN when undefined (no records, or a
	// ratio whose denominator is 0).
	Value float64
	// SE is the normal-theory standard error (delta method for the ratios).
	SE float64
	// Normal is Value ± z·SE.
	Normal Interval
	// Bootstrap is the Poisson-bootstrap percentile interval, and
	// BootstrapSE the standard deviation of the replicates (NaN without a
	// bootstrap).
	Bootstrap   Interval
	BootstrapSE float64
	// Bernstein is the empirical-Bernstein interval (valid for every n ≥ 2),
	// given for observed, IPS, DM and DR when Bounds are set.
	Bernstein Interval
	// Param is the chosen τ (switch-DR) or λ (DRos); NaN for the others.
	Param float64
}

// newEstimate fills the fields every estimator shares.
func newEstimate(m Method, n float64, v, se, level float64) Estimate {
	return Estimate{
		Method:      m,
		N:           int(n),
		Value:       v,
		SE:          se,
		Normal:      normalInterval(v, se, level),
		Bootstrap:   noInterval,
		BootstrapSE: math.NaN(),
		Bernstein:   noInterval,
		Param:       math.NaN(),
	}
}

// meanEstimate is the estimate of a mean of per-record terms.
func meanEstimate(method Method, m moments, level float64) Estimate {
	if m.n == 0 {
		return newEstimate(method, 0, math.NaN(), math.NaN(), level)
	}
	return newEstimate(method, m.n, m.mean, m.se(), level)
}
