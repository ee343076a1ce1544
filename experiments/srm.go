package experiments

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// SRMThreshold is the p-value below which SRM reports a sample ratio
// mismatch. 0.001 is the threshold of GrowthBook (utils.check_srm) and Eppo
// (docs/statistics/sample-ratio-mismatch.md). It is strict because the check runs on every experiment
// and every refresh, and a false alarm stops a good experiment.
const SRMThreshold = 0.001

// SRMResult is the outcome of a sample-ratio-mismatch test.
type SRMResult struct {
	ChiSq    float64   `json:"chi_sq"`
	DF       int       `json:"df"`
	PValue   float64   `json:"p_value"`
	Expected []float64 `json:"expected"` // expected count per arm, in input order
	// Mismatch is PValue < SRMThreshold. When it is true, the assignment or
	// the data pipeline is broken, and the experiment's other results
	// should not be trusted.
	Mismatch bool `json:"mismatch"`
}

// SRM runs Pearson's chi-square goodness-of-fit test of the observed
// customers per arm against the designed weights:
//
//	Eᵢ = N·wᵢ/Σw,   χ² = Σᵢ (Oᵢ − Eᵢ)²/Eᵢ,   p = P(χ²_{K−1} > χ²)
//
// K is the number of arms with positive weight. Sources: Pearson (1900);
// Kohavi, Tang & Xu (2020, ch. 21) on why SRM invalidates results;
// GrowthBook utils.check_srm. Weights are
// normalised by their sum. An arm with weight 0 is left out, as in
// GrowthBook. If such an arm has customers, the design cannot produce the
// data: χ² is +Inf and p is 0.
//
// An error wrapping ErrInvalidConfig is returned for these inputs: slices of
// different lengths, fewer than two positive weights, a negative or
// non-finite weight, a negative count, or no customers at all.
func SRM(observed []int, weights []float64) (SRMResult, error) {
	if len(observed) != len(weights) {
		return SRMResult{}, fmt.Errorf("%w: srm: %d counts for %d weights", ErrInvalidConfig, len(observed), len(weights))
	}
	total, wsum, k := 0, 0.0, 0
	for i, w := range weights {
		if !finite(w) || w < 0 {
			return SRMResult{}, fmt.Errorf("%w: srm: weight %d is %v", ErrInvalidConfig, i, w)
		}
		if observed[i] < 0 {
			return SRMResult{}, fmt.Errorf("%w: srm: count %d is %d", ErrInvalidConfig, i, observed[i])
		}
		total += observed[i]
		wsum += w
		if w > 0 {
			k++
		}
	}
	if k < 2 {
		return SRMResult{}, fmt.Errorf("%w: srm: need at least two arms with positive weight, have %d", ErrInvalidConfig, k)
	}
	if total == 0 {
		return SRMResult{}, fmt.Errorf("%w: srm: no customers", ErrInvalidConfig)
	}
	r := SRMResult{DF: k - 1, Expected: make([]float64, len(weights))}
	for i, w := range weights {
		e := float64(total) * w / wsum
		r.Expected[i] = e
		if w == 0 {
			if observed[i] > 0 {
				r.ChiSq = math.Inf(1)
			}
			continue
		}
		d := float64(observed[i]) - e
		r.ChiSq += d * d / e
	}
	if math.IsInf(r.ChiSq, 1) {
		r.PValue = 0
	} else {
		r.PValue = distuv.ChiSquared{K: float64(r.DF)}.Survival(r.ChiSq)
	}
	r.Mismatch = r.PValue < SRMThreshold
	return r, nil
}
