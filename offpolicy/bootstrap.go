package offpolicy

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
)

// poissonThresholds[k] is ⌊2³²·P(K ≤ k)⌋ for K ~ Poisson(1), P(K ≤ k) =
// Σ_{j≤k} e⁻¹/j!, for as long as it is below 2³²; a 32-bit uniform u gives
// the count k = #{thresholds ≤ u}. Beyond k = 12 the remaining mass,
// about 10⁻¹⁰, is below one step of u.
var poissonThresholds = func() []uint32 {
	var th []uint32
	p, s := math.Exp(-1), 0.0
	for k := 0; ; k++ {
		s += p
		v := math.Floor(s * (1 << 32))
		if v >= 1<<32 {
			return th
		}
		th = append(th, uint32(v))
		p /= float64(k + 1)
	}
}()

// Resampler draws the Poisson(1) bootstrap counts of one logged decision for
// B replicates (Hanley & MacGibbon 2006; Chamandy et al. 2012). Draw the
// counts once per decision and pass them to every target policy's Summary,
// so that all policies are resampled alike and their differences have a
// bootstrap too. A Resampler is not safe for concurrent use; give each
// goroutine, and each store whose summaries will be merged, its own
// independently seeded source.
type Resampler struct {
	rng rand.Source
	b   int
}

// NewResampler returns a Resampler of b replicates drawing from src.
func NewResampler(b int, src rand.Source) *Resampler {
	if b < 0 {
		panic(fmt.Sprintf("offpolicy: %d bootstrap replicates", b))
	}
	return &Resampler{rng: src, b: b}
}

// Replicates is B.
func (r *Resampler) Replicates() int { return r.b }

// Counts fills dst (grown to length B if needed) with B independent
// Poisson(1) counts and returns it. Each count inverts the Poisson CDF at a
// 32-bit uniform (two per 64-bit draw), so the probabilities are exact to
// 2⁻³² ≈ 2.3·10⁻¹⁰.
func (r *Resampler) Counts(dst []float64) []float64 {
	if cap(dst) < r.b {
		dst = make([]float64, r.b)
	}
	dst = dst[:r.b]
	var bits uint64
	for i := range dst {
		if i%2 == 0 {
			bits = r.rng.Uint64()
		} else {
			bits >>= 32
		}
		u := uint32(bits)
		k := 0
		for k < len(poissonThresholds) && u >= poissonThresholds[k] {
			k++
		}
		dst[i] = float64(k)
	}
	return dst
}

// Replicate sums kept per bootstrap replicate, at these offsets.
//
// For one record, switch-DR's term takes two values only: the DM term q̂π
// where τ < w and the DR term q̂π + w(r − q̂) where τ ≥ w. So a replicate
// keeps Σ c q̂π and, in the column of the record's bucket g*(w) (the first
// grid point with w ≤ τ), Σ c w(r − q̂); its switch-DR sum at τ_g is the DM
// sum plus the buckets up to g, and DR is the sum over every bucket. Each
// record then touches one switch column instead of GridSize. DRos's shrunk
// weight changes with every λ, so its grid interior has a column per point
// (its ends are DM and DR).
const (
	bN      = iota                   // Σ c
	bReward                          // Σ c r
	bWR                              // Σ c w r
	bW                               // Σ c w
	bER                              // Σ c e r
	bE                               // Σ c e
	bDM                              // Σ c q̂π
	bShrink                          // Σ c φ_λ for λ = shrinkGrid[1 : GridSize−1]
	bDense  = bShrink + GridSize - 2 // the columns every record touches
	bBucket = bDense                 // Σ c w(r − q̂) over the records of bucket g, g = 1 … GridSize−1
	bStride = bBucket + GridSize - 1 // the number of sums (columns)
)

// switchBucket is g*(w), the first grid index with w ≤ τ_g; records with
// w = 0 have the same DM and DR terms and need no bucket (0).
func switchBucket(w float64) int {
	g := 0
	for g < GridSize-1 && w > switchGrid[g] {
		g++
	}
	return g
}

// replicates is the replicate sums of B replicates, column by column: column k (one of
// the bStride sums above) of replicate b is at k·B + b. A record adds its value times
// every replicate's count to each column at once, c ↦ col_k + v_k·c, a vector update
// (gonum's floats.AddScaled, in assembly) instead of B scattered rows.
type replicates []float64

func (rs replicates) add(counts []float64, r Record, w float64, sh *terms) {
	var vals [bDense]float64
	vals[bN] = 1
	vals[bReward] = r.Reward
	vals[bWR] = w * r.Reward
	vals[bW] = w
	vals[bER] = r.Target * r.Reward
	vals[bE] = r.Target
	vals[bDM] = r.ModelTarget
	copy(vals[bShrink:], sh.phi[1:GridSize-1])
	b := len(counts)
	for j, v := range vals {
		if v != 0 {
			floats.AddScaled(rs[j*b:(j+1)*b:(j+1)*b], v, counts)
		}
	}
	if g := switchBucket(w); g > 0 {
		if inc := w * (r.Reward - r.Model); inc != 0 {
			k := bBucket + g - 1
			floats.AddScaled(rs[k*b:(k+1)*b:(k+1)*b], inc, counts)
		}
	}
}

// estimates writes replicate b's estimate of method m (grid point g for the
// tuned ones) into dst[b]: Σ c φ / Σ c for means, Σ c y / Σ c x for ratios.
// A replicate whose denominator is 0 gives NaN.
func (rs replicates) estimates(m Method, g int, dst []float64) []float64 {
	num, den := -1, bN
	switchAt := -1 // the switch-DR grid index to read, if any
	switch m {
	case MethodObserved:
		num = bReward
	case MethodReplay:
		num, den = bER, bE
	case MethodIPS:
		num = bWR
	case MethodSNIPS:
		num, den = bWR, bW
	case MethodDM:
		switchAt = 0
	case MethodDR:
		switchAt = GridSize - 1
	case MethodSwitchDR:
		switchAt = g
	case MethodDRos:
		switch g {
		case 0, GridSize - 1: // λ = 0 is DM and λ = ∞ is DR
			switchAt = g
		default:
			num = bShrink + g - 1
		}
	default:
		panic(fmt.Sprintf("offpolicy: unknown method %q", m))
	}
	dst = dst[:0]
	nb := len(rs) / bStride
	at := func(k, b int) float64 { return rs[k*nb+b] }
	for b := range nb {
		if at(den, b) == 0 {
			dst = append(dst, math.NaN())
			continue
		}
		var v float64
		if switchAt >= 0 {
			v = at(bDM, b)
			for k := 1; k <= switchAt; k++ {
				v += at(bBucket+k-1, b)
			}
		} else {
			v = at(num, b)
		}
		dst = append(dst, v/at(den, b))
	}
	return dst
}
