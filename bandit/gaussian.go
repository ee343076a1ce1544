package bandit

import "math"

// gaussian is a multivariate normal N(mean, P⁻¹) over dim weights, stored in
// one of two forms. Both the logistic posterior and the value model use it.
//
//   - Diagonal: prec holds P's diagonal q_i and vari its reciprocal 1/q_i
//     (kept so that predictions multiply instead of divide).
//   - Full: l holds the lower-triangular Cholesky factor L of P = LLᵀ in
//     column-major order, l[k*dim+i] = L_ik for i ≥ k (zero above the
//     diagonal), so each column is contiguous; rdiag holds 1/L_kk.
//
// The derived slices (vari, rdiag) are always recomputed as 1/x from their
// source so that an encoded and decoded gaussian is bitwise identical.
type gaussian struct {
	form  Form
	dim   int
	mean  []float64
	prec  []float64
	vari  []float64
	l     []float64
	rdiag []float64
}

// newGaussian returns the prior N(m0·1, λ⁻¹I).
func newGaussian(form Form, dim int, m0, lambda float64) gaussian {
	g := gaussian{form: form, dim: dim, mean: make([]float64, dim)}
	for i := range g.mean {
		g.mean[i] = m0
	}
	switch form {
	case Diagonal:
		g.prec = make([]float64, dim)
		g.vari = make([]float64, dim)
		for i := range g.prec {
			g.prec[i] = lambda
			g.vari[i] = 1 / lambda
		}
	case Full:
		g.l = make([]float64, dim*dim)
		g.rdiag = make([]float64, dim)
		s := math.Sqrt(lambda)
		for k := range dim {
			g.l[k*dim+k] = s
			g.rdiag[k] = 1 / s
		}
	}
	return g
}

// clone returns a deep copy.
func (g *gaussian) clone() gaussian {
	c := *g
	c.mean = cloneFloats(g.mean)
	c.prec = cloneFloats(g.prec)
	c.vari = cloneFloats(g.vari)
	c.l = cloneFloats(g.l)
	c.rdiag = cloneFloats(g.rdiag)
	return c
}

func cloneFloats(s []float64) []float64 {
	if s == nil {
		return nil
	}
	return append([]float64(nil), s...)
}

// predict returns μ = xᵀm and s² = xᵀSx. For the full form work (length
// ≥ dim) receives L⁻¹x from index k0 on, which absorb reuses; for the
// diagonal form work is not touched and k0 is 0.
func (g *gaussian) predict(x Vector, work []float64) (mu, s2 float64, k0 int) {
	if g.form == Diagonal {
		mu, s2 = g.predictDiag(x)
		return mu, s2, 0
	}
	return g.predictFull(x, work)
}

// absorb applies the rank-one Gaussian update
//
//	m ← m + step · S x,   P ← P + c · x xᵀ,
//
// where S = P⁻¹ is the covariance before the update. It is the shared last
// step of the logistic Laplace update (step = (z*−μ)/s², c = p(1−p)) and of
// the linear-Gaussian update (step = e/(1+s²), c = 1). work and k0 come from
// the predict call that preceded it; work is overwritten.
func (g *gaussian) absorb(x Vector, step, c float64, work []float64, k0 int) {
	if g.form == Diagonal {
		g.absorbDiag(x, step, c)
		return
	}
	g.absorbFull(x, step, c, work, k0)
}

// scalePrecision multiplies P by s > 0, keeping the mean.
func (g *gaussian) scalePrecision(s float64) {
	switch g.form {
	case Diagonal:
		for i, q := range g.prec {
			q *= s
			g.prec[i] = q
			g.vari[i] = 1 / q
		}
	case Full:
		r := math.Sqrt(s)
		for i := range g.l {
			g.l[i] *= r
		}
		for k := range g.dim {
			g.rdiag[k] = 1 / g.l[k*g.dim+k]
		}
	}
}

// variances writes the marginal posterior variance S_ii of every weight into
// dst (length dim); work is scratch of length dim.
func (g *gaussian) variances(dst, work []float64) {
	if g.form == Diagonal {
		copy(dst, g.vari)
		return
	}
	// S_ii = ‖L⁻¹ e_i‖², one forward substitution per unit vector.
	for i := range g.dim {
		clear(work[i:])
		work[i] = 1
		dst[i] = g.forward(work, i)
	}
}

// convert returns the same distribution in another form. Full → Diagonal
// keeps P's diagonal (the diagonal-precision projection of Chapelle & Li
// 2011); Diagonal → Full is exact.
func (g *gaussian) convert(form Form) gaussian {
	if form == g.form {
		return g.clone()
	}
	c := gaussian{form: form, dim: g.dim, mean: cloneFloats(g.mean)}
	d := g.dim
	switch form {
	case Diagonal:
		c.prec = make([]float64, d)
		c.vari = make([]float64, d)
		for i := range d {
			var q float64 // P_ii = Σ_k L_ik²
			for k := 0; k <= i; k++ {
				v := g.l[k*d+i]
				q += v * v
			}
			c.prec[i] = q
			c.vari[i] = 1 / q
		}
	case Full:
		c.l = make([]float64, d*d)
		c.rdiag = make([]float64, d)
		for k, q := range g.prec {
			s := math.Sqrt(q)
			c.l[k*d+k] = s
			c.rdiag[k] = 1 / s
		}
	}
	return c
}
