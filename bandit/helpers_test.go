package bandit

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// This file holds the tests' independent reference implementations. They
// share no code with the package: dense matrices, gonum's LU solver and
// explicit inverses, and σ written through tanh.

// refSigmoid is σ(z) = (1 + tanh(z/2))/2, an identity independent of the
// package's 1/(1+e⁻ᶻ).
func refSigmoid(z float64) float64 { return 0.5 * (1 + math.Tanh(z/2)) }

// refLogLoss is −[y log σ(z) + (1−y) log(1−σ(z))] = log(1+e^z) − y z.
func refLogLoss(z float64, y bool) float64 {
	var t float64
	if y {
		t = 1
	}
	// log(1+e^z) = max(z,0) + log(1+e^{−|z|})
	return math.Max(z, 0) + math.Log(1+math.Exp(-math.Abs(z))) - t*z
}

// dense returns x as a dense slice of length d.
func dense(x Vector, d int) []float64 {
	out := make([]float64, d)
	for k, i := range x.Index {
		out[i] = x.Value[k]
	}
	return out
}

func dotDense(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// refMAP minimises ½(w−m)ᵀA(w−m) + Σ_j logloss(x_jᵀw, y_j) over all d
// coordinates by Newton's method with step halving, solving each Newton
// system with gonum's LU (mat.Dense.Solve), and returns the minimiser and
// the curvatures p_j(1−p_j) at it.
func refMAP(t *testing.T, m []float64, A *mat.Dense, xs [][]float64, ys []bool) (w, curv []float64) {
	t.Helper()
	d := len(m)
	w = append([]float64(nil), m...)
	f := func(w []float64) float64 {
		diff := mat.NewVecDense(d, nil)
		for i := range d {
			diff.SetVec(i, w[i]-m[i])
		}
		var ad mat.VecDense
		ad.MulVec(A, diff)
		v := 0.5 * mat.Dot(diff, &ad)
		for j, x := range xs {
			v += refLogLoss(dotDense(x, w), ys[j])
		}
		return v
	}
	for it := 0; it < 200; it++ {
		g := mat.NewVecDense(d, nil)
		H := mat.NewDense(d, d, nil)
		H.Copy(A)
		diff := mat.NewVecDense(d, nil)
		for i := range d {
			diff.SetVec(i, w[i]-m[i])
		}
		g.MulVec(A, diff)
		for j, x := range xs {
			p := refSigmoid(dotDense(x, w))
			y := 0.0
			if ys[j] {
				y = 1
			}
			for a := range d {
				g.SetVec(a, g.AtVec(a)+(p-y)*x[a])
				for b := range d {
					H.Set(a, b, H.At(a, b)+p*(1-p)*x[a]*x[b])
				}
			}
		}
		var step mat.VecDense
		if err := step.SolveVec(H, g); err != nil {
			t.Fatalf("reference Newton solve: %v", err)
		}
		var smax, wmax float64
		for a := range d {
			smax = math.Max(smax, math.Abs(step.AtVec(a)))
			wmax = math.Max(wmax, math.Abs(w[a]))
		}
		if smax < 1e-14*(1+wmax) {
			break
		}
		f0 := f(w)
		tr := make([]float64, d)
		for s := 1.0; ; s /= 2 {
			for a := range d {
				tr[a] = w[a] - s*step.AtVec(a)
			}
			if f(tr) <= f0+1e-15*(1+math.Abs(f0)) || s < 1e-9 {
				break
			}
		}
		copy(w, tr)
	}
	curv = make([]float64, len(xs))
	for j, x := range xs {
		p := refSigmoid(dotDense(x, w))
		curv[j] = p * (1 - p)
	}
	return w, curv
}

// randVector returns a vector of dimension d with each index present with
// probability density (index 0, the intercept, always, with value 1) and
// standard-normal values.
func randVector(rng *rand.Rand, d int, density float64) Vector {
	var x Vector
	for i := range d {
		if i == 0 {
			x.Index = append(x.Index, 0)
			x.Value = append(x.Value, 1)
			continue
		}
		if rng.Float64() < density {
			x.Index = append(x.Index, int32(i))
			x.Value = append(x.Value, rng.NormFloat64())
		}
	}
	return x
}

// modelPrecision returns the model's precision matrix as a dense gonum
// matrix, rebuilt from its raw state (diagonal q, or L·Lᵀ by gonum's Mul).
func modelPrecision(g *gaussian) *mat.Dense {
	d := g.dim
	P := mat.NewDense(d, d, nil)
	if g.form == Diagonal {
		for i, q := range g.prec {
			P.Set(i, i, q)
		}
		return P
	}
	L := mat.NewDense(d, d, nil)
	for k := range d {
		for i := k; i < d; i++ {
			L.Set(i, k, g.l[k*d+i])
		}
	}
	P.Mul(L, L.T())
	return P
}

// near reports |got − want| ≤ tol·max(1, |want|): absolute near zero,
// relative for large values.
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func mustNew(t testing.TB, cfg Config) *Model {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
