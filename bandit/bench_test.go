package bandit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

// Benchmarks of the hot paths. Speed targets on the 2-core reference
// machine (from the bandit design brief; docs/benchmarks.md records them):
// Select K=100, d=64 ≤ 10 µs diagonal and ≤ 150 µs full; Update d=64 ≤ 1 µs
// diagonal and ≤ 10 µs full; 0 allocs/op for both.

// denseVector returns a dense d-dimensional vector: intercept 1 and d−1
// standard-normal values, like standardised numeric features.
func denseVector(rng *rand.Rand, d int) Vector {
	x := Vector{Index: make([]int32, d), Value: make([]float64, d)}
	for i := range d {
		x.Index[i] = int32(i)
		x.Value[i] = rng.NormFloat64()
	}
	x.Value[0] = 1
	return x
}

// benchModels returns k models of dimension d, each trained on 50 events
// (5% positive, a typical conversion rate) so posteriors are non-trivial.
func benchModels(b *testing.B, k, d int, form Form) []*Model {
	rng := rand.New(rand.NewPCG(1, 2))
	pool := make([]Vector, 64)
	for i := range pool {
		pool[i] = denseVector(rng, d)
	}
	ms := make([]*Model, k)
	for a := range ms {
		ms[a] = mustNew(b, Config{Dim: d, Form: form})
		for j := range 50 {
			ms[a].Update(pool[(a+j)%len(pool)], rng.Float64() < 0.05, time.Time{})
		}
	}
	return ms
}

func BenchmarkSelect(b *testing.B) {
	for _, bc := range []struct {
		name string
		k, d int
		form Form
	}{
		{"K=100/d=64/diag", 100, 64, Diagonal},
		{"K=100/d=64/full", 100, 64, Full},
		{"K=1000/d=64/diag", 1000, 64, Diagonal},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ms := benchModels(b, bc.k, bc.d, bc.form)
			x := denseVector(rand.New(rand.NewPCG(3, 4)), bc.d)
			rng := rand.New(rand.NewPCG(5, 6))
			arms := make([]Arm, 0, bc.k)
			dst := make([]float64, bc.k)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				Select(ms, x, 0.5, nil, rng, arms, dst)
			}
		})
	}
}

func BenchmarkUpdate(b *testing.B) {
	for _, bc := range []struct {
		name string
		d    int
		form Form
	}{
		{"d=64/diag", 64, Diagonal},
		{"d=64/full", 64, Full},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := benchModels(b, 1, bc.d, bc.form)[0]
			rng := rand.New(rand.NewPCG(7, 8))
			xs := make([]Vector, 256)
			ys := make([]bool, len(xs))
			for i := range xs {
				xs[i] = denseVector(rng, bc.d)
				ys[i] = rng.Float64() < 0.05
			}
			t0 := time.Unix(1_700_000_000, 0)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				m.Update(xs[i], ys[i], t0)
				i = (i + 1) % len(xs)
			}
		})
	}
}

func BenchmarkUpdateBatch(b *testing.B) {
	for _, bc := range []struct {
		name string
		form Form
	}{
		{"n=100/d=64/diag", Diagonal},
		{"n=100/d=64/full", Full},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := benchModels(b, 1, 64, bc.form)[0]
			rng := rand.New(rand.NewPCG(9, 10))
			xs := make([]Vector, 100)
			ys := make([]bool, len(xs))
			for i := range xs {
				xs[i] = denseVector(rng, 64)
				ys[i] = rng.Float64() < 0.05
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := m.UpdateBatch(xs, ys, time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPredict(b *testing.B) {
	for _, bc := range []struct {
		name string
		form Form
	}{
		{"d=64/diag", Diagonal},
		{"d=64/full", Full},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := benchModels(b, 1, 64, bc.form)[0]
			x := denseVector(rand.New(rand.NewPCG(3, 4)), 64)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m.Predict(x)
			}
		})
	}
}

func BenchmarkSelectionProbability(b *testing.B) {
	ms := benchModels(b, 100, 64, Diagonal)
	x := denseVector(rand.New(rand.NewPCG(3, 4)), 64)
	arms := Prepare(ms, x, 0.5, nil, nil)
	rng := rand.New(rand.NewPCG(5, 6))
	b.Run("K=100/draws=1000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			SelectionProbability(arms, 3, 1000, rng)
		}
	})
}

// BenchmarkSelectionProbabilityNet is the uplift arbitration's quadrature
// (engine.netSelection) for each arm of TestSelectionProbabilityNet's "mixed" case:
// five arms of mixed widths, one far behind, no floor.
func BenchmarkSelectionProbabilityNet(b *testing.B) {
	arms := []NetArm{{10, 4}, {12, 1}, {5, 9}, {11, 0.2}, {-50, 3}}
	b.ReportAllocs()
	for b.Loop() {
		for i := range arms {
			SelectionProbabilityNet(arms, i, math.Inf(-1), SelectionTolerance)
		}
	}
}

// BenchmarkRankOne compares the in-place rank-one Cholesky update used by
// the full form with gonum's mat.Cholesky.SymRankOne on the same d = 64
// factor; it is the evidence for hand-writing cholUpdate.
func BenchmarkRankOne(b *testing.B) {
	const d = 64
	m := benchModels(b, 1, d, Full)[0]
	x := denseVector(rand.New(rand.NewPCG(1, 1)), d)
	w := make([]float64, d)
	b.Run(fmt.Sprintf("d=%d/own", d), func(b *testing.B) {
		g := m.w.clone()
		b.ReportAllocs()
		for b.Loop() {
			k0 := x.scatter(w, 1e-3)
			g.cholUpdate(w, k0)
		}
	})
	b.Run(fmt.Sprintf("d=%d/gonum", d), func(b *testing.B) {
		ch := m.w.cholesky()
		v := mat.NewVecDense(d, dense(x, d))
		v.ScaleVec(1e-3, v)
		b.ReportAllocs()
		for b.Loop() {
			ch.SymRankOne(ch, 1, v)
		}
	})
}

// BenchmarkForget times Forget(1) on one d = 64 model with the StreamEvents
// unit, as a policy calls it on every model for every event. With h = 1,000
// stream events the posterior is decayed once every 15 calls (the lazy
// threshold), so ns/op is the amortised cost. "every" uses h = 50
// (γ = 0.986 < 0.99), so that each call decays: the cost of one decay, O(d)
// diagonal and O(d³) full (in place, by rank-one updates; the gonum
// refactorisation it replaced took about 220 µs, 22 allocations and 199 KB
// at d = 64). Every h calls the trained posterior is copied back, so the
// state stays that of a model with data instead of sliding toward the prior
// and subnormal numbers; the copy, O(d) or O(d²) once per h calls, is
// negligible next to the h calls.
func BenchmarkForget(b *testing.B) {
	for _, bc := range []struct {
		name string
		form Form
		h    int
	}{
		{"d=64/diag", Diagonal, 1000},
		{"d=64/full", Full, 1000},
		{"d=64/diag/every", Diagonal, 50},
		{"d=64/full/every", Full, 50},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := benchModels(b, 1, 64, bc.form)[0]
			m.cfg.HalfLife, m.cfg.HalfLifeUnit = float64(bc.h), StreamEvents
			snap := m.w.clone()
			restore := func() {
				for _, p := range [][2][]float64{{m.w.mean, snap.mean}, {m.w.prec, snap.prec},
					{m.w.vari, snap.vari}, {m.w.l, snap.l}, {m.w.rdiag, snap.rdiag}} {
					copy(p[0], p[1])
				}
				m.clock.pending, m.evidence = 1, 50
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				m.Forget(1, time.Time{})
				if i++; i == bc.h {
					restore()
					i = 0
				}
			}
		})
	}
}

// BenchmarkSelectionQuadCatalog times SelectionProbabilityQuad at the engine's setting
// (K = 20 actions, the default tolerance SelectionTolerance) on three catalogs:
//
//   - untrained/identical: every model at the prior and every action of equal value, so
//     the 20 arms are identical: Mean 0 (the prior mean), SD 2.5, Weight 1. SD is an
//     untrained model's α‖x‖ with α = 0.5 and prior precision 1 for an assumed
//     ‖x‖² = 25 (a few dozen active features of size about 1); any wide SD behaves
//     alike.
//   - untrained/values: the catalog of the load test (cmd/nextbest loadtest.go) and of
//     engine.BenchmarkDecide: the same posteriors with the actions' values 50 + 15i as
//     weights, so no two arms are identical and grouping does not apply.
//   - trained: 20 distinct posteriors from a seeded source: means uniform in logit
//     [−3, −1] (conversion rates of 5% to 27%), SDs in [0.05, 0.5], weights in [1, 10].
//
// The chosen arm of each call is drawn as the engine draws it, by Sample, in a seeded
// sequence of 256 chosen arms that the loop cycles through, so the time is the mean over
// the arms in proportion to their selection probability.
func BenchmarkSelectionQuadCatalog(b *testing.B) {
	const k = 20
	rng := rand.New(rand.NewPCG(21, 22))
	identical, values, trained := make([]Arm, k), make([]Arm, k), make([]Arm, k)
	for i := range k {
		identical[i] = Arm{Mean: 0, SD: 2.5, Weight: 1, Var: 25}
		values[i] = Arm{Mean: 0, SD: 2.5, Weight: float64(50 + 15*i), Var: 25}
		sd := 0.05 + 0.45*rng.Float64()
		trained[i] = Arm{Mean: -3 + 2*rng.Float64(), SD: sd, Weight: 1 + 9*rng.Float64(), Var: sd * sd / 0.25}
	}
	for _, bc := range []struct {
		name string
		arms []Arm
	}{{"untrained/identical", identical}, {"untrained/values", values}, {"trained", trained}} {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(23, 24))
			chosen := make([]int, 256)
			scores := make([]float64, k)
			for n := range chosen {
				chosen[n] = Sample(bc.arms, rng, scores)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				SelectionProbabilityQuad(bc.arms, chosen[n%len(chosen)], SelectionTolerance)
				n++
			}
		})
	}
}

// BenchmarkSelectionQuadAlikeIntegral is the untrained/identical catalog of
// BenchmarkSelectionQuadCatalog integrated (one group of 19 arms) rather than answered
// by SelectionProbabilityQuad's exact 1/K: the cost of a catalog of alike arms whose
// chosen arm differs from them, or of a mix of a few groups.
func BenchmarkSelectionQuadAlikeIntegral(b *testing.B) {
	arms := make([]Arm, 20)
	for i := range arms {
		arms[i] = Arm{Mean: 0, SD: 2.5, Weight: 1, Var: 25}
	}
	b.ReportAllocs()
	for b.Loop() {
		selectionQuad(arms, 7, SelectionTolerance, true)
	}
}
