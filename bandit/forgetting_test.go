package bandit

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
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

// expectLazyDecay checks a posterior after a total decay of γ = 2^(−k/h)
// whose last factors may still be pending, against the state (P0, m0v)
// saved before the decay. The applied part, γ/pending, must be exact
// (expectDecayed, to rounding); and pending must lie in (1 − forgetThreshold,
// 1], so that the data part of the stored precision is within 1% of exact
// forgetting by γ, the documented cost of laziness.
func expectLazyDecay(t *testing.T, label string, m *Model, P0 *mat.Dense, m0v []float64, gamma float64) {
	t.Helper()
	pending := m.clock.pending
	if !(pending > 1-forgetThreshold && pending <= 1) {
		t.Fatalf("%s: pending decay %v outside (%v, 1]", label, pending, 1-forgetThreshold)
	}
	cfg := m.cfg
	expectDecayed(t, label, &m.w, P0, m0v, gamma/pending, cfg.PriorPrecision, cfg.PriorMean)
	// The data part P − λI against exact forgetting's γ(P₀ − λI): at most
	// 1/0.99 − 1 ≈ 1% more in magnitude, never less (up to rounding).
	got := modelPrecision(&m.w)
	for a := range cfg.Dim {
		for b := range cfg.Dim {
			want, data := gamma*P0.At(a, b), got.At(a, b)
			if a == b {
				want -= gamma * cfg.PriorPrecision
				data -= cfg.PriorPrecision
			}
			slack := forgetTol * math.Max(1, math.Abs(P0.At(a, b))) // rounding, relative to the undecayed entry
			d := data - want                                        // the excess of the stored data precision, in the direction of want
			if want < 0 {
				d = -d
			}
			if d > (1/(1-forgetThreshold)-1)*math.Abs(want)+slack || d < -slack {
				t.Fatalf("%s: data precision [%d,%d] = %.17g, exact forgetting gives %.17g", label, a, b, data, want)
			}
		}
	}
}

// TestForgetStream: with the StreamEvents unit, k calls of Forget(1) decay
// the posterior like one exact decay by 2^(−k/h) (computed independently by
// expectDecayed with gonum's dense solve), within the lazy threshold;
// Update does not move the clock; Evidence decays exactly.
func TestForgetStream(t *testing.T) {
	const d, lambda, priorMean = 4, 1.5, -0.4
	for _, form := range []Form{Diagonal, Full} {
		for _, h := range []float64{3, 40, 1000} {
			t.Run(fmt.Sprintf("%v/h=%v", form, h), func(t *testing.T) {
				m := mustNew(t, Config{Dim: d, Form: form, PriorPrecision: lambda, PriorMean: priorMean, HalfLife: h, HalfLifeUnit: StreamEvents})
				xs, ys := events(5, 40, d, 1)
				for j := range xs {
					m.Update(xs[j], ys[j], time.Time{})
				}
				if m.clock.pending != 1 || m.Health().Evidence != float64(len(xs)) {
					t.Fatalf("Update moved the stream clock: pending %v, Evidence %v", m.clock.pending, m.Health().Evidence)
				}
				P0, m0v := modelPrecision(&m.w), cloneFloats(m.w.mean)
				k := 0
				// Checkpoints before the first threshold crossing (for h = 1000
				// at k = 15), at it, and far past it.
				for _, until := range []int{1, 7, 14, 15, 16, 100, 333} {
					for ; k < until; k++ {
						m.Forget(1, time.Time{})
					}
					gamma := math.Exp2(-float64(k) / h)
					label := fmt.Sprintf("after %d Forget(1)", k)
					expectLazyDecay(t, label, m, P0, m0v, gamma)
					if got, want := m.Health().Evidence, float64(len(xs))*gamma; !near(got, want, 1e-12) {
						t.Fatalf("%s: Evidence %v, want %v", label, got, want)
					}
				}
			})
		}
	}
}

// TestForgetUnits: what Forget counts in each unit, and when it does nothing.
func TestForgetUnits(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	x := Vector{Index: []int32{0, 1}, Value: []float64{1, -0.5}}
	tests := []struct {
		name string
		cfg  Config
		// run learns and forgets; the model starts with Evidence 0.
		run          func(m *Model)
		wantEvidence float64
	}{
		// Events: Forget(n) adds n events to the model's own, and each update
		// decays before it learns: 2 updates, Forget(3), 1 update give
		// 2^(−5/h) + 2^(−4/h) + 1 with h = 2.
		{"events", Config{HalfLife: 2}, func(m *Model) {
			m.Update(x, true, time.Time{})
			m.Update(x, false, time.Time{})
			m.Forget(3, time.Time{})
			m.Update(x, true, time.Time{})
		}, math.Exp2(-5.0/2) + math.Exp2(-4.0/2) + 1},
		// StreamEvents: only Forget counts: 3 updates, Forget(2): 3·2^(−2/2).
		{"stream events", Config{HalfLife: 2, HalfLifeUnit: StreamEvents}, func(m *Model) {
			for range 3 {
				m.Update(x, true, time.Time{})
			}
			m.Forget(2, time.Time{})
		}, 3 * 0.5},
		// Seconds: Forget moves the clock to t and ignores n; the update at
		// the same t adds no decay: (2·2^(−1) + 1)·2^(−1/2).
		{"seconds", Config{HalfLife: 10, HalfLifeUnit: Seconds}, func(m *Model) {
			m.Update(x, true, t0)
			m.Update(x, true, t0)
			m.Forget(1000, t0.Add(10*time.Second))
			m.Update(x, false, t0.Add(10*time.Second))
			m.Forget(0, time.Time{})            // zero time: nothing
			m.Forget(0, t0)                     // backwards: nothing
			m.Forget(0, t0.Add(15*time.Second)) // half a half-life
			m.Forget(0, t0.Add(15*time.Second)) // same time again: nothing
		}, 2 * math.Sqrt(0.5)},
		{"n <= 0", Config{HalfLife: 2, HalfLifeUnit: StreamEvents}, func(m *Model) {
			m.Update(x, true, time.Time{})
			m.Forget(0, t0)
			m.Forget(-5, t0)
		}, 1},
		{"forgetting off", Config{}, func(m *Model) {
			m.Update(x, true, time.Time{})
			m.Forget(100, t0)
		}, 1},
	}
	for _, tc := range tests {
		tc.cfg.Dim = 2
		m := mustNew(t, tc.cfg)
		tc.run(m)
		if got := m.Health().Evidence; !near(got, tc.wantEvidence, 1e-12) {
			t.Errorf("%s: Evidence %.15g, want %.15g", tc.name, got, tc.wantEvidence)
		}
	}
	// With forgetting off Forget leaves the posterior bitwise unchanged.
	m := mustNew(t, Config{Dim: 2, Form: Full})
	m.Update(x, true, time.Time{})
	before, _ := m.MarshalBinary()
	m.Forget(1e6, t0)
	if after, _ := m.MarshalBinary(); !bytes.Equal(before, after) {
		t.Error("Forget changed a model without forgetting")
	}
}

// TestForgetExtreme: a decay too large for a float (2^(−2000)) restores the
// prior exactly; a tiny but representable one (2^(−900)) comes within
// rounding of it; neither produces a NaN in the full form.
func TestForgetExtreme(t *testing.T) {
	const d, lambda, priorMean = 3, 2.0, 0.25
	for _, form := range []Form{Diagonal, Full} {
		for _, halfLives := range []int{900, 2000} {
			m := mustNew(t, Config{Dim: d, Form: form, PriorPrecision: lambda, PriorMean: priorMean, HalfLife: 1, HalfLifeUnit: StreamEvents})
			xs, ys := events(6, 30, d, 1)
			for j := range xs {
				m.Update(xs[j], ys[j], time.Time{})
			}
			m.Forget(halfLives, time.Time{})
			P := modelPrecision(&m.w)
			for a := range d {
				for b := range d {
					want := 0.0
					if a == b {
						want = lambda
					}
					if !near(P.At(a, b), want, 1e-12) {
						t.Errorf("%v, %d half-lives: P[%d,%d] = %v, want the prior's %v", form, halfLives, a, b, P.At(a, b), want)
					}
				}
				if !near(m.w.mean[a], priorMean, 1e-12) {
					t.Errorf("%v, %d half-lives: m[%d] = %v, want the prior's %v", form, halfLives, a, m.w.mean[a], priorMean)
				}
			}
		}
	}
}

// TestForgetConcurrent runs Forget from several goroutines against readers
// (Select, Predict, MarshalBinary) and, on a second model, against Update;
// run it with -race. Decays commute, so the first model ends where
// sequential forgetting by 2^(−total/h) would, within the lazy threshold.
func TestForgetConcurrent(t *testing.T) {
	const d, h, goroutines, perG = 5, 60.0, 4, 150
	for _, form := range []Form{Diagonal, Full} {
		t.Run(form.String(), func(t *testing.T) {
			cfg := Config{Dim: d, Form: form, HalfLife: h, HalfLifeUnit: StreamEvents}
			m, learner := mustNew(t, cfg), mustNew(t, cfg)
			xs, ys := events(7, 50, d, 1)
			for j := range xs {
				m.Update(xs[j], ys[j], time.Time{})
			}
			P0, m0v := modelPrecision(&m.w), cloneFloats(m.w.mean)
			models := []*Model{m, learner}
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range perG {
						m.Forget(1, time.Time{})
						learner.Forget(1, time.Time{})
					}
				}()
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 9))
					arms, dst := make([]Arm, 0, 2), make([]float64, 2)
					for j := range perG {
						x := xs[j%len(xs)]
						Select(models, x, 1, nil, rng, arms, dst)
						m.Predict(x)
						if _, err := m.MarshalBinary(); err != nil {
							t.Error(err)
							return
						}
						learner.Update(x, ys[j%len(ys)], time.Time{})
					}
				}()
			}
			wg.Wait()
			expectLazyDecay(t, "after concurrent Forget", m, P0, m0v, math.Exp2(-goroutines*perG/h))
			mu, v := learner.Predict(xs[0])
			if !finite(mu) || !(v > 0) {
				t.Errorf("learner predicts %v, %v after concurrent Forget and Update", mu, v)
			}
		})
	}
}

// TestForgetAllocs: Forget does not allocate, neither on the lazy path nor
// when it decays (h = 1: every call halves the data part).
func TestForgetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	for _, form := range []Form{Diagonal, Full} {
		for _, h := range []float64{1, 1000} {
			m := mustNew(t, Config{Dim: 16, Form: form, HalfLife: h, HalfLifeUnit: StreamEvents})
			xs, ys := events(8, 20, 16, 1)
			for j := range xs {
				m.Update(xs[j], ys[j], time.Time{})
			}
			if n := testing.AllocsPerRun(200, func() { m.Forget(1, time.Time{}) }); n != 0 {
				t.Errorf("%v, h = %v: Forget allocates %v times per call", form, h, n)
			}
		}
	}
}
