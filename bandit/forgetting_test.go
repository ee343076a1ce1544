package bandit

import (
	"math"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

// forgetTol: decay is a handful of flops per entry (plus, for Full, one
// Cholesky refactorisation of a well-conditioned 4×4 matrix), so it matches
// the formula to rounding; 1e-12 relative is far below any real error.
const forgetTol = 1e-12

// expectDecayed checks P = γP₀ + (1−γ)λI and Pm = γP₀m₀ + (1−γ)λ·m0 against
// the state (P0, m0v) saved before the decay.
func expectDecayed(t *testing.T, label string, g *gaussian, P0 *mat.Dense, m0v []float64, gamma, lambda, priorMean float64) {
	t.Helper()
	d := g.dim
	want := mat.NewDense(d, d, nil)
	want.Scale(gamma, P0)
	for i := range d {
		want.Set(i, i, want.At(i, i)+(1-gamma)*lambda)
	}
	var eta mat.VecDense
	eta.MulVec(P0, mat.NewVecDense(d, m0v))
	for i := range d {
		eta.SetVec(i, gamma*eta.AtVec(i)+(1-gamma)*lambda*priorMean)
	}
	var wantMean mat.VecDense
	if err := wantMean.SolveVec(want, &eta); err != nil {
		t.Fatal(err)
	}
	got := modelPrecision(g)
	for a := range d {
		for b := range d {
			if !near(got.At(a, b), want.At(a, b), forgetTol) {
				t.Fatalf("%s: P[%d,%d] = %.17g, want %.17g", label, a, b, got.At(a, b), want.At(a, b))
			}
		}
		if !near(g.mean[a], wantMean.AtVec(a), forgetTol) {
			t.Fatalf("%s: m[%d] = %.17g, want %.17g", label, a, g.mean[a], wantMean.AtVec(a))
		}
	}
}

var empty = Vector{} // learns nothing, but advances the forgetting clock

// TestForgettingHalfLife: one update whose Δ equals the half-life halves the
// data part of the precision (and of the natural mean) exactly.
func TestForgettingHalfLife(t *testing.T) {
	const d, lambda, priorMean = 4, 2.0, 0.3
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, form := range []Form{Diagonal, Full} {
		t.Run(form.String()+"/seconds", func(t *testing.T) {
			m := mustNew(t, Config{Dim: d, Form: form, PriorPrecision: lambda, PriorMean: priorMean, HalfLife: 3600, HalfLifeUnit: Seconds})
			xs, ys := events(1, 30, d, 1)
			for j := range xs {
				m.Update(xs[j], ys[j], t0) // same time: no decay between them
			}
			if m.clock.pending != 1 {
				t.Fatalf("decay pending after events at one instant: %v", m.clock.pending)
			}
			P0, m0v := modelPrecision(&m.w), cloneFloats(m.w.mean)
			m.Update(empty, false, t0.Add(time.Hour))
			expectDecayed(t, "after one half-life", &m.w, P0, m0v, 0.5, lambda, priorMean)
		})
		t.Run(form.String()+"/events", func(t *testing.T) {
			// h = 4 events: γ = 2^(−1/4) per event crosses the 1% threshold at
			// once, so every event decays; four of them halve the data part.
			m := mustNew(t, Config{Dim: d, Form: form, PriorPrecision: lambda, PriorMean: priorMean, HalfLife: 4})
			xs, ys := events(2, 30, d, 1)
			for j := range xs {
				m.Update(xs[j], ys[j], time.Time{})
			}
			P0, m0v := modelPrecision(&m.w), cloneFloats(m.w.mean)
			for range 4 {
				m.Update(empty, false, time.Time{})
			}
			expectDecayed(t, "after four events", &m.w, P0, m0v, 0.5, lambda, priorMean)
		})
	}
}

// TestForgettingApproachesPrior: with no informative data the posterior
// returns to the prior; after 40 half-lives the data part is 2⁻⁴⁰ ≈ 1e-12
// of what it was.
func TestForgettingApproachesPrior(t *testing.T) {
	const d, lambda, priorMean = 3, 1.5, -0.2
	for _, form := range []Form{Diagonal, Full} {
		m := mustNew(t, Config{Dim: d, Form: form, PriorPrecision: lambda, PriorMean: priorMean, HalfLife: 5})
		xs, ys := events(3, 50, d, 1)
		for j := range xs {
			m.Update(xs[j], ys[j], time.Time{})
		}
		for range 40 * 5 {
			m.Update(empty, false, time.Time{})
		}
		P := modelPrecision(&m.w)
		for a := range d {
			for b := range d {
				want := 0.0
				if a == b {
					want = lambda
				}
				// Data precision was O(10), so 2⁻⁴⁰·10 ≈ 1e-11 remains; 1e-9 bounds it.
				if math.Abs(P.At(a, b)-want) > 1e-9 {
					t.Errorf("%v: P[%d,%d] = %v, want prior %v", form, a, b, P.At(a, b), want)
				}
			}
			if math.Abs(m.w.mean[a]-priorMean) > 1e-9 {
				t.Errorf("%v: m[%d] = %v, want prior %v", form, a, m.w.mean[a], priorMean)
			}
		}
	}
}

// TestForgettingLazy: with h = 1000 events each event decays by
// γ = 2^(−1/1000); the posterior is only decayed once the accumulated factor
// falls to 0.99, i.e. at event ⌈log(0.99)/log γ⌉ = ⌈14.50⌉ = 15, and then by
// exactly γ¹⁵.
func TestForgettingLazy(t *testing.T) {
	const d, h = 3, 1000.0
	for _, form := range []Form{Diagonal, Full} {
		m := mustNew(t, Config{Dim: d, Form: form, HalfLife: h})
		// Learn without forgetting first: a model with the same posterior.
		src := mustNew(t, Config{Dim: d, Form: form})
		xs, ys := events(4, 20, d, 1)
		for j := range xs {
			src.Update(xs[j], ys[j], time.Time{})
		}
		m.w = src.w.clone()
		P0, m0v := modelPrecision(&m.w), cloneFloats(m.w.mean)
		for k := 1; k <= 14; k++ {
			m.Update(empty, false, time.Time{})
			got := modelPrecision(&m.w)
			if !mat.Equal(got, P0) {
				t.Fatalf("%v: posterior decayed after %d events, before the threshold", form, k)
			}
		}
		m.Update(empty, false, time.Time{})
		if m.clock.pending != 1 {
			t.Fatalf("%v: pending %v after the threshold, want 1", form, m.clock.pending)
		}
		expectDecayed(t, form.String(), &m.w, P0, m0v, math.Exp2(-15/h), 1, 0)
	}
}

// TestForgettingClock: the Seconds unit ignores zero and backward times, and
// Evidence decays like the posterior.
func TestForgettingClock(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	m := mustNew(t, Config{Dim: 2, HalfLife: 10, HalfLifeUnit: Seconds})
	x := Vector{Index: []int32{0, 1}, Value: []float64{1, 0.5}}
	steps := []struct {
		t            time.Time
		wantEvidence float64
	}{
		{t0, 1},                           // first time seen: no decay
		{time.Time{}, 2},                  // zero time: no decay
		{t0.Add(-time.Hour), 3},           // backwards: no decay
		{t0.Add(10 * time.Second), 2.5},   // one half-life: 3/2 + 1
		{t0.Add(5 * time.Second), 3.5},    // backwards again: no decay
		{t0.Add(30 * time.Second), 1.875}, // 20 s after the newest time (t0+10s): 3.5/4 + 1
	}
	for i, s := range steps {
		m.Update(x, true, s.t)
		if got := m.Health().Evidence; !near(got, s.wantEvidence, 1e-12) {
			t.Errorf("step %d: Evidence = %v, want %v", i, got, s.wantEvidence)
		}
	}
	// Events unit: Evidence after n events is Σ_{k<n} γᵏ = (1−γⁿ)/(1−γ).
	me := mustNew(t, Config{Dim: 2, HalfLife: 7})
	const n = 25
	for range n {
		me.Update(x, false, time.Time{})
	}
	g := math.Exp2(-1.0 / 7)
	if got, want := me.Health().Evidence, (1-math.Pow(g, n))/(1-g); !near(got, want, 1e-12) {
		t.Errorf("Evidence = %v, want %v", got, want)
	}
}
