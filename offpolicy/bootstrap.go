package offpolicy

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// poissonCDF is P(K ≤ k) for K ~ Poisson(1), k = 0, 1, …: Σ_{j≤k} e⁻¹/j!.
// Beyond k = 17 the remaining mass is below 10⁻¹⁶ and rounds away.
var poissonCDF = func() [20]float64 {
	var cdf [20]float64
	p, s := math.Exp(-1), 0.0
	for k := range cdf {
		s += p
		cdf[k] = s
		p /= float64(k + 1)
	}
	cdf[len(cdf)-1] = 1
	return cdf
}()

// Resampler draws the Poisson(1) bootstrap counts of one logged decision for
// B replicates (Hanley & MacGibbon 2006; Chamandy et al. 2012). Draw the
// counts once per decision and pass them to every target policy's Summary,
// so that all policies are resampled alike and their differences have a
// bootstrap too. A Resampler is not safe for concurrent use; give each
// goroutine, and each store whose summaries will be merged, its own
// independently seeded source.
type Resampler struct {
	rng *rand.Rand
	b   int
}

// NewResampler returns a Resampler of b replicates drawing from src.
func NewResampler(b int, src rand.Source) *Resampler {
	if b < 0 {
		panic(fmt.Sprintf("offpolicy: %d bootstrap replicates", b))
	}
	return &Resampler{rng: rand.New(src), b: b}
}

// Replicates is B.
func (r *Resampler) Replicates() int { return r.b }

// Counts fills dst (grown to length B if needed) with B independent
// Poisson(1) counts by inversion of the CDF, and returns it.
func (r *Resampler) Counts(dst []float64) []float64 {
	if cap(dst) < r.b {
		dst = make([]float64, r.b)
	}
	dst = dst[:r.b]
	for i := range dst {
		u := r.rng.Float64()
		k := 0
		for k < len(poissonCDF)-1 && u >= poissonCDF[k] {
			k++
		}
		dst[i] = float64(k)
	}
	return dst
}

// Replicate sums kept per bootstrap replicate, at these offsets; the
// switch-DR and DRos grids follow.
const (
	bN      = iota // Σ c
	bReward        // Σ c r
	bWR            // Σ c w r
	bW             // Σ c w
	bER            // Σ c e r
	bE             // Σ c e
	bDM            // Σ c q̂π
	bDR            // Σ c (q̂π + w (r − q̂))
	bSwitch        // Σ c φ_τ, GridSize values, then Σ c φ_λ, GridSize values
	bStride = bSwitch + 2*GridSize
)

// replicates is B rows of bStride replicate sums.
type replicates []float64

func (rs replicates) add(counts []float64, r Record, w, dr float64, sw, sh *terms) {
	vals := [bSwitch]float64{
		bN:      1,
		bReward: r.Reward,
		bWR:     w * r.Reward,
		bW:      w,
		bER:     r.Target * r.Reward,
		bE:      r.Target,
		bDM:     r.ModelTarget,
		bDR:     dr,
	}
	for b, c := range counts {
		if c == 0 {
			continue
		}
		row := rs[b*bStride : (b+1)*bStride : (b+1)*bStride]
		for j, v := range vals {
			row[j] += c * v
		}
		tail := row[bSwitch:]
		for g := range GridSize {
			tail[g] += c * sw.phi[g]
			tail[GridSize+g] += c * sh.phi[g]
		}
	}
}

// estimates writes replicate b's estimate of method m (grid point g for the
// tuned ones) into dst[b]: Σ c φ / Σ c for means, Σ c y / Σ c x for ratios.
// A replicate whose denominator is 0 gives NaN.
func (rs replicates) estimates(m Method, g int, dst []float64) []float64 {
	num, den := -1, bN
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
		num = bDM
	case MethodDR:
		num = bDR
	case MethodSwitchDR:
		num = bSwitch + g
	case MethodDRos:
		num = bSwitch + GridSize + g
	default:
		panic(fmt.Sprintf("offpolicy: unknown method %q", m))
	}
	dst = dst[:0]
	for b := 0; b < len(rs)/bStride; b++ {
		row := rs[b*bStride:]
		if row[den] == 0 {
			dst = append(dst, math.NaN())
			continue
		}
		dst = append(dst, row[num]/row[den])
	}
	return dst
}
