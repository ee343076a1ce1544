package experiments

import (
	"math"
	"sort"
)

// Holm returns Holm–Bonferroni adjusted p-values, in the order of p. With
// the m finite p-values sorted ascending, p₍₁₎ ≤ … ≤ p₍ₘ₎:
//
//	p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1)·p₍ⱼ₎)
//
// Rejecting every hypothesis with p̃ < α controls the family-wise error
// rate at α under any dependence between the tests. Source: Holm (1979),
// "A simple sequentially rejective multiple test procedure"; the adjusted
// form is R's p.adjust(method = "holm"). GrowthBook offers Holm over goal
// metrics × variations (docs/statistics/multiple-corrections.mdx). NaN
// entries are left out of the family and stay NaN.
func Holm(p []float64) []float64 {
	out := make([]float64, len(p))
	idx := make([]int, 0, len(p))
	for i, v := range p {
		out[i] = math.NaN()
		if !math.IsNaN(v) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	m := len(idx)
	running := 0.0
	for j, i := range idx {
		adj := math.Min(1, float64(m-j)*p[i])
		running = math.Max(running, adj)
		out[i] = running
	}
	return out
}
