package bandit

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// closedFormNIG is the batch Normal–Inverse-Gamma posterior computed from
// (X, y) with gonum (Bishop PRML §3.3, Murphy 2012 §7.6.3), prior mean 0:
// Λn = λI + XᵀX, μn = Λn⁻¹ Xᵀy, an = a0 + n/2, bn = b0 + ½(yᵀy − μnᵀΛnμn).
func closedFormNIG(t *testing.T, X *mat.Dense, y []float64, lambda, a0, b0 float64) (mu []float64, Lam *mat.Dense, a, b float64) {
	t.Helper()
	n, d := X.Dims()
	Lam = mat.NewDense(d, d, nil)
	Lam.Mul(X.T(), X)
	for i := range d {
		Lam.Set(i, i, Lam.At(i, i)+lambda)
	}
	yv := mat.NewVecDense(n, y)
	var xty, muv mat.VecDense
	xty.MulVec(X.T(), yv)
	if err := muv.SolveVec(Lam, &xty); err != nil {
		t.Fatal(err)
	}
	var lmu mat.VecDense
	lmu.MulVec(Lam, &muv)
	a = a0 + float64(n)/2
	b = b0 + 0.5*(mat.Dot(yv, yv)-mat.Dot(&muv, &lmu))
	return muv.RawVector().Data, Lam, a, b
}

func TestValueMatchesClosedForm(t *testing.T) {
	const d, n = 4, 30
	tests := []struct {
		name   string
		form   Form
		oneHot bool // features of different events never co-occur
	}{
		// Full: exact for any data.
		{"full/dense", Full, false},
		// Diagonal: exact only when XᵀX is diagonal, i.e. one-hot rows.
		{"diag/one-hot", Diagonal, true},
		{"full/one-hot", Full, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const lambda, a0, b0 = 0.5, 3, 2 // arbitrary non-default prior
			m := mustNew(t, Config{Dim: d, Form: tc.form, Value: true, PriorPrecision: lambda, ValueShape: a0, ValueScale: b0})
			rng := rand.New(rand.NewPCG(3, 4))
			truth := []float64{2, -1, 0.5, 3}
			X := mat.NewDense(n, d, nil)
			var ys []float64
			for j := range n {
				var x Vector
				if tc.oneHot {
					i := rng.IntN(d)
					x = Vector{Index: []int32{int32(i)}, Value: []float64{1 + rng.Float64()}}
				} else {
					x = randVector(rng, d, 1)
				}
				xd := dense(x, d)
				r := dotDense(xd, truth) + 0.7*rng.NormFloat64()
				m.UpdateValue(x, r)
				X.SetRow(j, xd)
				ys = append(ys, r)

				mu, Lam, a, b := closedFormNIG(t, X.Slice(0, j+1, 0, d).(*mat.Dense), ys, lambda, a0, b0)
				v := m.value
				for i := range d {
					if !near(v.w.mean[i], mu[i], laplaceTol) {
						t.Fatalf("event %d: mu[%d] = %.12g, closed form %.12g", j, i, v.w.mean[i], mu[i])
					}
				}
				P := modelPrecision(&v.w)
				for a := range d {
					for b := range d {
						if !near(P.At(a, b), Lam.At(a, b), laplaceTol) {
							t.Fatalf("event %d: Lambda[%d,%d] = %.12g, closed form %.12g", j, a, b, P.At(a, b), Lam.At(a, b))
						}
					}
				}
				if !near(v.a, a, laplaceTol) || !near(v.b, b, laplaceTol) {
					t.Fatalf("event %d: a, b = %.12g, %.12g; closed form %.12g, %.12g", j, v.a, v.b, a, b)
				}
				// PredictValue: xᵀμ and b/(a−1)·xᵀΛ⁻¹x.
				q := randVector(rng, d, 1)
				qd := mat.NewVecDense(d, dense(q, d))
				var sol mat.VecDense
				if err := sol.SolveVec(Lam, qd); err != nil {
					t.Fatal(err)
				}
				gm, gv := m.PredictValue(q)
				wm, wv := mat.Dot(qd, mat.NewVecDense(d, mu)), b/(a-1)*mat.Dot(qd, &sol)
				if !near(gm, wm, laplaceTol) || !near(gv, wv, laplaceTol) {
					t.Fatalf("event %d: PredictValue = %.12g, %.12g; closed form %.12g, %.12g", j, gm, gv, wm, wv)
				}
			}
		})
	}
}

// TestValueDiagonalStep: for correlated features the diagonal value model is
// an approximation, but each single step is exact given its diagonal prior.
func TestValueDiagonalStep(t *testing.T) {
	const d = 3
	m := mustNew(t, Config{Dim: d, Value: true})
	rng := rand.New(rand.NewPCG(5, 6))
	for j := range 20 {
		x := randVector(rng, d, 1)
		r := 1 + rng.NormFloat64()
		v := m.value
		// Closed form of one observation under N(μ, σ²D⁻¹) with D diagonal:
		// Λ' = D + xxᵀ, μ' = Λ'⁻¹(Dμ + x r), b' = b + ½(r² + μᵀDμ − μ'ᵀΛ'μ').
		D := mat.NewDense(d, d, nil)
		for i := range d {
			D.Set(i, i, v.w.prec[i])
		}
		xd := mat.NewVecDense(d, dense(x, d))
		var lam mat.Dense
		lam.Outer(1, xd, xd)
		lam.Add(&lam, D)
		var rhs, dmu, mu1, lmu1 mat.VecDense
		mu0 := mat.NewVecDense(d, cloneFloats(v.w.mean))
		dmu.MulVec(D, mu0)
		rhs.AddScaledVec(&dmu, r, xd)
		if err := mu1.SolveVec(&lam, &rhs); err != nil {
			t.Fatal(err)
		}
		lmu1.MulVec(&lam, &mu1)
		wantB := v.b + 0.5*(r*r+mat.Dot(mu0, &dmu)-mat.Dot(&mu1, &lmu1))
		m.UpdateValue(x, r)
		for i := range d {
			if !near(v.w.mean[i], mu1.AtVec(i), laplaceTol) {
				t.Fatalf("step %d: mu[%d] = %v, want %v", j, i, v.w.mean[i], mu1.AtVec(i))
			}
			if !near(v.w.prec[i], lam.At(i, i), laplaceTol) {
				t.Fatalf("step %d: Lambda[%d] = %v, want %v", j, i, v.w.prec[i], lam.At(i, i))
			}
		}
		if !near(v.b, wantB, laplaceTol) {
			t.Fatalf("step %d: b = %v, want %v", j, v.b, wantB)
		}
	}
}

func TestValueDisabled(t *testing.T) {
	m := mustNew(t, Config{Dim: 2})
	x := Vector{Index: []int32{0}, Value: []float64{1}}
	m.UpdateValue(x, 3) // no-op
	if mean, v := m.PredictValue(x); !math.IsNaN(mean) || !math.IsNaN(v) {
		t.Errorf("PredictValue without value model = %v, %v; want NaN, NaN", mean, v)
	}
	mv := mustNew(t, Config{Dim: 2, Value: true, ValueShape: 1})
	if _, v := mv.PredictValue(x); !math.IsInf(v, 1) {
		t.Errorf("variance with a = 1 is %v, want +Inf", v)
	}
}
