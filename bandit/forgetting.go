package bandit

import (
	"math"
	"time"

	"gonum.org/v1/gonum/mat"
)

// Forgetting (non-stationarity, off unless Config.HalfLife > 0).
//
// Before each event the posterior is pulled toward the prior by exponential
// forgetting in natural parameters with factor γ = 2^(−Δ/h):
//
//	P ← γ P + (1−γ) P₀,    P m ← γ P m + (1−γ) P₀ m₀,
//
// with P₀ = λI, m₀ = PriorMean·1, h = HalfLife and Δ the events (Events) or
// seconds (Seconds) since the previous update. The data part P − P₀ thus
// halves every h. This is stabilised exponential forgetting (Kulhavý &
// Zarrop 1993, "On a general concept of forgetting", Int. J. Control
// 58(4)), the Gaussian analogue of discounted Thompson
// sampling's γ-discounted counts (Raj & Kalyani 2017, arXiv:1707.09727).
//
// Applying the decay costs O(Dim) for the Diagonal form and a
// refactorisation, O(Dim³), for the Full form, so it is applied lazily: the
// factors γ accumulate in clock.pending and the posterior is decayed once
// 1 − pending reaches forgetThreshold. Until then the stored posterior keeps
// up to 1% more data precision than exact forgetting would (events learnt
// meanwhile are decayed from the time the pending decay is applied rather
// than from their own time). The amortised cost per event is the decay cost
// divided by the number of events per 1% of decay (about h/70 events for
// the Events unit). A single step with Δ ≥ 0.0145 h (γ ≤ 0.99) is applied at
// once and exactly.
const forgetThreshold = 0.01

// clock is the forgetting state of a model.
type clock struct {
	pending float64   // product of the γ not yet applied to the posterior; 1 = none
	last    time.Time // newest event time seen (Seconds unit); zero = none
}

// advance moves the model's clock by one update of n events at time t and
// returns true if it decayed the posterior. Evidence decays eagerly. With the
// Seconds unit a zero t, or a t not after the newest time seen, adds no
// decay.
func (m *Model) advance(n int, t time.Time) bool {
	h := m.cfg.HalfLife
	if h == 0 {
		return false
	}
	var delta float64
	switch m.cfg.HalfLifeUnit {
	case Events:
		delta = float64(n)
	case Seconds:
		if t.IsZero() {
			return false
		}
		if !m.clock.last.IsZero() && t.After(m.clock.last) {
			delta = t.Sub(m.clock.last).Seconds()
		}
		if m.clock.last.IsZero() || t.After(m.clock.last) {
			m.clock.last = time.Unix(t.Unix(), int64(t.Nanosecond()))
		}
	}
	if !(delta > 0) {
		return false
	}
	gamma := math.Exp2(-delta / h)
	m.evidence *= gamma
	m.clock.pending *= gamma
	if 1-m.clock.pending < forgetThreshold {
		return false
	}
	m.w.forget(m.clock.pending, m.cfg.PriorMean, m.cfg.PriorPrecision)
	m.clock.pending = 1
	return true
}

// forget applies P ← γP + (1−γ)λI and P m ← γ P m + (1−γ)λ m₀·1 (see the
// comment on forgetThreshold). For the Full form it rebuilds P from L,
// refactorises with gonum and solves for the new mean.
func (g *gaussian) forget(gamma, m0, lambda float64) {
	switch g.form {
	case Diagonal:
		for i, q := range g.prec {
			qn := gamma*q + (1-gamma)*lambda
			g.mean[i] = (gamma*q*g.mean[i] + (1-gamma)*lambda*m0) / qn
			g.prec[i] = qn
			g.vari[i] = 1 / qn
		}
	case Full:
		d := g.dim
		p := g.precisionDense()
		eta := mat.NewVecDense(d, nil) // natural mean P m
		eta.MulVec(p, mat.NewVecDense(d, cloneFloats(g.mean)))
		pn := mat.NewSymDense(d, nil)
		for i := range d {
			eta.SetVec(i, gamma*eta.AtVec(i)+(1-gamma)*lambda*m0)
			for j := i; j < d; j++ {
				v := gamma * p.At(i, j)
				if i == j {
					v += (1 - gamma) * lambda
				}
				pn.SetSym(i, j, v)
			}
		}
		var ch mat.Cholesky
		if !ch.Factorize(pn) {
			// γP + (1−γ)λI is positive definite; failure means P was already
			// numerically broken. Keep the old posterior rather than corrupt it.
			return
		}
		var mn mat.VecDense
		if err := ch.SolveVecTo(&mn, eta); err != nil {
			return
		}
		g.setCholesky(&ch)
		copy(g.mean, mn.RawVector().Data)
	}
}
