package bandit

import (
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// The full form keeps the Cholesky factor L of the precision P = LLᵀ and
// never inverts a matrix on the per-event path: predictions use one forward
// substitution, updates a forward and a back substitution plus a rank-one
// update of L, all in place on g.l (O(dim²), no allocation). gonum's
// mat.Cholesky.SymRankOne implements the same update but takes a mat.Vector
// and a pooled work slice on every call; BenchmarkRankOne compares the two.
// The batch path builds P with gonum for its Newton solve; forgetting
// (forgetFull) works in place by rank-one updates.

// predictFull returns μ = xᵀm and s² = xᵀSx = ‖L⁻¹x‖². work (length ≥ dim)
// receives y = L⁻¹x from k0, the first index of x, on; entries below k0 are
// not written (y is zero there).
func (g *gaussian) predictFull(x Vector, work []float64) (mu, s2 float64, k0 int) {
	mu = x.dot(g.mean)
	y := work[:g.dim]
	k0 = x.scatter(y, 1)
	s2 = g.forward(y, k0)
	return mu, s2, k0
}

// forward solves L y = b in place (b given in y, zero below k0) by
// column-oriented forward substitution and returns ‖y‖². Columns below k0
// are skipped because y is zero there. Golub & Van Loan, Matrix
// Computations, 4th ed., Section 3.1 (triangular systems, column version).
func (g *gaussian) forward(y []float64, k0 int) (ss float64) {
	d, l, rd := g.dim, g.l, g.rdiag
	y = y[:d]
	for j := k0; j < d; j++ {
		yj := y[j] * rd[j]
		y[j] = yj
		if yj == 0 {
			continue
		}
		ss += yj * yj
		if j+1 < d {
			floats.AddScaled(y[j+1:], -yj, l[j*d+j+1:j*d+d])
		}
	}
	return ss
}

// backward solves Lᵀ s = y in place by row-oriented back substitution: row
// i of Lᵀ is column i of L, contiguous in g.l. Golub & Van Loan, Section 3.1.
func (g *gaussian) backward(y []float64) {
	d, l, rd := g.dim, g.l, g.rdiag
	y = y[:d]
	for i := d - 1; i >= 0; i-- {
		v := y[i]
		if i+1 < d {
			v -= floats.Dot(l[i*d+i+1:i*d+d], y[i+1:])
		}
		y[i] = v * rd[i]
	}
}

// absorbFull is absorb for the full form. With y = L⁻¹x in work it computes
// S x = L⁻ᵀ y by back substitution, moves the mean along it,
//
//	m ← m + step · S x,
//
// and then adds c·x xᵀ to P by a rank-one update of L (cholUpdate). This is
// the online Laplace / assumed-density-filtering step for a full Gaussian
// (Opper 1998): for one logistic event the MAP of prior × likelihood is
// exactly m + S x (z*−μ)/s², and P + p(1−p) x xᵀ is the Hessian there.
func (g *gaussian) absorbFull(x Vector, step, c float64, work []float64, k0 int) {
	d := g.dim
	y := work[:d]
	if k0 > d {
		k0 = d
	}
	clear(y[:k0])
	g.backward(y)
	floats.AddScaled(g.mean, step, y)
	if c > 0 {
		k0 = x.scatter(y, math.Sqrt(c))
		g.cholUpdate(y, k0)
	}
}

// cholUpdate replaces L by the Cholesky factor of LLᵀ + w wᵀ, in place and
// without allocating; w (dense, zero below k0) is destroyed. This is the
// classic rank-one update by a sequence of rotations: LINPACK dchud
// (Dongarra, Bunch, Moler & Stewart, LINPACK Users' Guide, SIAM 1979,
// pp. 10.10–10.14); Gill, Golub, Murray & Saunders, "Methods for modifying
// matrix factorizations", Math. Comp. 28 (1974); Seeger (2004), "Low rank
// updates for the Cholesky decomposition", EPFL. For each column k:
//
//	r = √(L_kk² + w_k²),  c = r/L_kk,  s = w_k/L_kk,  L_kk ← r,
//	L_ik ← (L_ik + s·w_i)/c,  w_i ← c·w_i − s·L_ik   (i > k).
//
// A column with w_k = 0 is unchanged (c = 1, s = 0), so the loop starts at
// the first non-zero of w. O((dim−k0)²).
func (g *gaussian) cholUpdate(w []float64, k0 int) {
	d, l, rd := g.dim, g.l, g.rdiag
	w = w[:d]
	for k := k0; k < d; k++ {
		wk := w[k]
		if wk == 0 {
			continue
		}
		lkk := l[k*d+k]
		r := math.Sqrt(lkk*lkk + wk*wk)
		c := r / lkk
		s := wk / lkk
		ic := 1 / c
		l[k*d+k] = r
		rd[k] = 1 / r
		col := l[k*d+k+1 : k*d+d]
		wr := w[k+1 : k+1+len(col)]
		for i, li := range col {
			li = (li + s*wr[i]) * ic
			col[i] = li
			wr[i] = c*wr[i] - s*li
		}
	}
}

// cholesky returns L as a gonum Cholesky factorisation (gonum stores
// U = Lᵀ row-major, which is exactly g.l read row by row).
func (g *gaussian) cholesky() *mat.Cholesky {
	var ch mat.Cholesky
	ch.SetFromU(mat.NewTriDense(g.dim, mat.Upper, cloneFloats(g.l)))
	return &ch
}

// precisionDense returns P = LLᵀ as a gonum symmetric matrix.
func (g *gaussian) precisionDense() *mat.SymDense {
	var p mat.SymDense
	g.cholesky().ToSym(&p)
	return &p
}
