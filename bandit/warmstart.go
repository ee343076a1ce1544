package bandit

import "fmt"

// WarmStart replaces m's posterior by src's, tempered: m's mean becomes src's
// mean and m's precision src's precision times scale,
//
//	m ← m_src,   P ← scale · P_src,   0 < scale ≤ 1,
//
// so a new action starts from a sibling's knowledge with its variances
// inflated by 1/scale: precision discounting as with the discount factors of
// West & Harrison, Bayesian Forecasting and Dynamic Models, 2nd ed., 1997,
// Chapter 6. src's pending forgetting is applied first. Forms may differ:
// Full → Diagonal keeps the diagonal of the precision, Diagonal → Full is
// exact. If both models have a value model it is warm-started the same way,
// with the noise evidence tempered as a ← a₀ + scale(a_src − a₀,src) and
// b ← b₀ + scale(b_src − b₀,src). Counters, the health window and the
// forgetting clock are reset. Dims must match (ErrDimMismatch); other errors
// wrap ErrInvalidArgument.
func (m *Model) WarmStart(src *Model, scale float64) error {
	if src == nil {
		return fmt.Errorf("%w: warm start from a nil model", ErrInvalidArgument)
	}
	if src == m {
		return fmt.Errorf("%w: warm start from itself", ErrInvalidArgument)
	}
	if !(scale > 0 && scale <= 1) {
		return fmt.Errorf("%w: warm start scale %v outside (0, 1]", ErrInvalidArgument, scale)
	}
	// Snapshot src under its own lock, so two models warm-starting from each
	// other cannot deadlock.
	src.mu.RLock()
	scfg := src.cfg
	w := src.w.clone()
	pending := src.clock.pending
	value := src.value.clone()
	src.mu.RUnlock()

	m.mu.Lock()
	defer m.mu.Unlock()
	if scfg.Dim != m.cfg.Dim {
		return fmt.Errorf("%w: warm start of dim %d from dim %d", ErrDimMismatch, m.cfg.Dim, scfg.Dim)
	}
	if pending != 1 {
		w.forget(pending, scfg.PriorMean, scfg.PriorPrecision, make([]float64, scfg.Dim))
	}
	w = w.convert(m.cfg.Form)
	w.scalePrecision(scale)
	m.w = w
	if m.value != nil {
		if value != nil {
			vw := value.w.convert(m.cfg.Form)
			vw.scalePrecision(scale)
			m.value = &valueModel{
				w: vw,
				a: m.cfg.ValueShape + scale*(value.a-scfg.ValueShape),
				b: m.cfg.ValueScale + scale*(value.b-scfg.ValueScale),
			}
		} else {
			m.value = newValueModel(m.cfg)
		}
	}
	m.resetCounters()
	return nil
}
