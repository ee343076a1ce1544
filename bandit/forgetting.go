package bandit

import (
	"math"
	"time"

	"gonum.org/v1/gonum/floats"
)

// Forgetting (non-stationarity, off unless Config.HalfLife > 0).
//
// Before each event the posterior is pulled toward the prior by exponential
// forgetting in natural parameters with factor γ = 2^(−Δ/h):
//
//	P ← γ P + (1−γ) P₀,    P m ← γ P m + (1−γ) P₀ m₀,
//
// with P₀ = λI, m₀ = PriorMean·1, h = HalfLife and Δ the time since the
// clock last moved, in the unit of Config.HalfLifeUnit: the model's own
// learnt events (Events), seconds of event time (Seconds), or the events
// of the caller's stream counted by Forget (StreamEvents). The data part
// P − P₀ thus halves every h. This is stabilised exponential forgetting
// (Kulhavý & Zarrop 1993, "On a general concept of forgetting", Int. J.
// Control 58(4)), the Gaussian analogue of discounted Thompson sampling's
// γ-discounted counts (Raj & Kalyani 2017, arXiv:1707.09727). Decays
// compose: γ₁ then γ₂ is one decay by γ₁γ₂.
//
// Applying the decay costs O(Dim) for the Diagonal form and O(Dim³) for the
// Full form (see forgetFull), so it is applied lazily: the factors γ
// accumulate in clock.pending and the posterior is decayed once 1 − pending
// reaches forgetThreshold. Until then the stored posterior keeps up to 1%
// more data precision than exact forgetting would (events learnt meanwhile
// are decayed from the time the pending decay is applied rather than from
// their own time). The amortised cost per event is the decay cost divided
// by the number of events per 1% of decay (about h/70 events for the Events
// and StreamEvents units). A single step with Δ ≥ 0.0145 h (γ ≤ 0.99) is
// applied at once and exactly.
const forgetThreshold = 0.01

// clock is the forgetting state of a model.
type clock struct {
	pending float64   // product of the γ not yet applied to the posterior; 1 = none
	last    time.Time // newest event time seen (Seconds unit); zero = none
}

// Forget advances m's forgetting clock without learning anything, so that a
// model decays while other models learn:
//
//	Events, StreamEvents:  Δ = n events (t is ignored),
//	Seconds:               Δ = t − the newest time seen (n is ignored),
//
// and then decays the posterior and Evidence by γ = 2^(−Δ/h) as documented
// on forgetThreshold, lazily. n ≤ 0, a zero t, or a t not after the newest
// time seen adds no decay; Forget does nothing when HalfLife is 0.
//
// Forget is the stream clock of discounted Thompson sampling, which decays
// every arm in every round, chosen or not (Raj & Kalyani 2017,
// arXiv:1707.09727). Use it with the StreamEvents unit and call Forget(1, t)
// on every model once per event of the decision stream; Update and
// UpdateBatch then do not move the clock, so the chosen model's event is
// not counted twice. With the Seconds unit Update moves the clock
// to its event time as well and Forget(0, now) lets models that are not
// chosen decay too. With the Events unit Forget(n) adds n events to those
// the model learns.
//
// Forget is safe for concurrent use with every other method (it takes the
// write lock) and does not allocate. Decays commute, so concurrent calls
// give the same posterior, up to rounding, in any order.
func (m *Model) Forget(n int, t time.Time) {
	m.mu.Lock()
	m.advance(n, t, false)
	m.mu.Unlock()
}

// advance moves the model's clock by n events at time t, for an update
// (learn) or for Forget, and returns true if it decayed the posterior.
// Evidence decays eagerly. With the Seconds unit a zero t, or a t not after
// the newest time seen, adds no decay; with the StreamEvents unit an update
// adds none.
func (m *Model) advance(n int, t time.Time, learn bool) bool {
	h := m.cfg.HalfLife
	if h == 0 {
		return false
	}
	var delta float64
	switch m.cfg.HalfLifeUnit {
	case Events:
		delta = float64(n)
	case StreamEvents:
		if learn {
			return false
		}
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
	m.w.forget(m.clock.pending, m.cfg.PriorMean, m.cfg.PriorPrecision, m.work)
	m.clock.pending = 1
	return true
}

// forget applies P ← γP + (1−γ)λI and P m ← γ P m + (1−γ)λ m₀·1 (see the
// comment on forgetThreshold). work (length ≥ dim) is scratch for the Full
// form.
func (g *gaussian) forget(gamma, m0, lambda float64, work []float64) {
	switch g.form {
	case Diagonal:
		for i, q := range g.prec {
			qn := gamma*q + (1-gamma)*lambda
			g.mean[i] = (gamma*q*g.mean[i] + (1-gamma)*lambda*m0) / qn
			g.prec[i] = qn
			g.vari[i] = 1 / qn
		}
	case Full:
		g.forgetFull(gamma, m0, lambda, work)
	}
}

// forgetFull is forget for the full form, in place on L and the mean and
// without allocating:
//
//  1. η = P m = L(Lᵀm), two triangular products overwriting the mean;
//  2. η ← γη + (1−γ)λ m₀·1;
//  3. L ← √γ L, the factor of γP, then Dim rank-one updates by
//     √((1−γ)λ) e_i (cholUpdate), giving the factor of γP + (1−γ)λI;
//  4. m = L⁻ᵀL⁻¹η by a forward and a back substitution.
//
// Step 3 adds positive terms to a factor, the numerically stable direction
// (Gill, Golub, Murray & Saunders 1974), and costs Σ_i (Dim−i)²/2 ≈ Dim³/6
// rotated entries, of the order of one Cholesky factorisation.
func (g *gaussian) forgetFull(gamma, m0, lambda float64, work []float64) {
	d, l, m := g.dim, g.l, g.mean
	if gamma == 0 { // a decay below the smallest float: the prior, exactly
		clear(l)
		for k := range d {
			l[k*d+k] = math.Sqrt(lambda)
			g.rdiag[k] = 1 / l[k*d+k]
			m[k] = m0
		}
		return
	}
	for i := range d { // y = Lᵀm; y_i needs m_j for j ≥ i only
		m[i] = floats.Dot(l[i*d+i:i*d+d], m[i:])
	}
	for i := d - 1; i >= 0; i-- { // η = L y; η_i needs y_j for j ≤ i only
		var s float64
		for j := 0; j <= i; j++ {
			s += l[j*d+i] * m[j]
		}
		m[i] = gamma*s + (1-gamma)*lambda*m0
	}
	g.scalePrecision(gamma)
	w := work[:d]
	r := math.Sqrt((1 - gamma) * lambda)
	for i := range d {
		clear(w[i:])
		w[i] = r
		g.cholUpdate(w, i)
	}
	g.forward(m, 0)
	g.backward(m)
}
