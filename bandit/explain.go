package bandit

import (
	"cmp"
	"math"
	"slices"
)

// Contribution is one weight's share of a logit: Value = x_i · m_i.
type Contribution struct {
	Index int
	Value float64
}

// Explain appends to dst[:0] the contribution x_i·m_i of every stored entry
// of x to the posterior mean logit xᵀm = Σ_i x_i m_i, sorted by |Value|
// descending (ties by Index ascending), and returns it. With enough capacity
// in dst it does not allocate.
func (m *Model) Explain(x Vector, dst []Contribution) []Contribution {
	m.mu.RLock()
	defer m.mu.RUnlock()
	dst = dst[:0]
	mean := m.w.mean
	for k, i := range x.Index {
		dst = append(dst, Contribution{Index: int(i), Value: x.Value[k] * mean[i]})
	}
	slices.SortFunc(dst, func(a, b Contribution) int {
		if c := cmp.Compare(math.Abs(b.Value), math.Abs(a.Value)); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
	return dst
}
