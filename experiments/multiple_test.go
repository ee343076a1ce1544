package experiments

import (
	"math"
	"math/rand/v2"
	"testing"
)

// holmClosedTesting is Holm's procedure from its definition as the closed
// testing procedure over Bonferroni tests (Holm 1979; Marcus, Peritz &
// Gabriel 1976). The adjusted p-value of Hᵢ is the largest Bonferroni
// p-value, min(1, |S|·min_{j∈S} p_j), over all subsets S that contain i.
// It enumerates all 2^m subsets, so it is a brute-force reference.
func holmClosedTesting(p []float64) []float64 {
	m := len(p)
	out := make([]float64, m)
	for mask := 1; mask < 1<<m; mask++ {
		minP, size := math.Inf(1), 0
		for j := 0; j < m; j++ {
			if mask&(1<<j) != 0 {
				minP = math.Min(minP, p[j])
				size++
			}
		}
		b := math.Min(1, float64(size)*minP)
		for j := 0; j < m; j++ {
			if mask&(1<<j) != 0 && b > out[j] {
				out[j] = b
			}
		}
	}
	return out
}

func TestHolmHand(t *testing.T) {
	// Worked by hand. Sorted: 0.005, 0.01, 0.03, 0.04; multipliers 4, 3, 2, 1
	// give 0.02, 0.03, 0.06, 0.04; the running maximum gives 0.02, 0.03,
	// 0.06, 0.06. (This is the formula of R's p.adjust(method = "holm").)
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-15 {
			t.Fatalf("Holm = %v, want %v", got, want)
		}
	}
}

func TestHolmClosedTesting(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 300; trial++ {
		m := 1 + rng.IntN(8)
		p := make([]float64, m)
		for i := range p {
			p[i] = math.Pow(rng.Float64(), 3) // skewed towards 0, where adjustment matters
			if rng.IntN(10) == 0 && i > 0 {
				p[i] = p[rng.IntN(i)] // ties
			}
		}
		got, want := Holm(p), holmClosedTesting(p)
		for i := range p {
			if math.Abs(got[i]-want[i]) > 1e-15 {
				t.Fatalf("Holm(%v) = %v, closed testing %v", p, got, want)
			}
		}
	}
}

func TestHolmNaN(t *testing.T) {
	got := Holm([]float64{0.01, math.NaN(), 0.02})
	// Family of two: 2·0.01 = 0.02, then max(0.02, 1·0.02) = 0.02.
	if got[0] != 0.02 || !math.IsNaN(got[1]) || got[2] != 0.02 {
		t.Errorf("Holm with NaN = %v, want [0.02 NaN 0.02]", got)
	}
}
