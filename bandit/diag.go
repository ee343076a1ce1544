package bandit

// predictDiag returns μ = Σ x_i m_i and s² = Σ x_i² / q_i, the mean and
// variance of the logit xᵀw under the diagonal posterior (Chapelle & Li
// 2011, Section 4 and Algorithm 3). O(nnz(x)).
func (g *gaussian) predictDiag(x Vector) (mu, s2 float64) {
	mean := g.mean
	vari := g.vari[:len(mean)] // equal lengths let the compiler drop vari's bounds check
	val := x.Value[:len(x.Index)]
	for k, i := range x.Index {
		v := val[k]
		mu += v * mean[i]
		s2 += v * v * vari[i]
	}
	return mu, s2
}

// absorbDiag is absorb for the diagonal form:
//
//	m_i ← m_i + step · x_i / q_i,   q_i ← q_i + c · x_i²,
//
// which with step = (z*−μ)/s² and c = p(1−p) is Chapelle & Li (2011),
// Algorithm 3, for a batch of one event: the mean is the exact MAP under the
// diagonal prior and q gains the diagonal of the likelihood's Hessian. O(nnz(x)).
func (g *gaussian) absorbDiag(x Vector, step, c float64) {
	mean := g.mean
	prec, vari := g.prec[:len(mean)], g.vari[:len(mean)]
	val := x.Value[:len(x.Index)]
	for k, i := range x.Index {
		v := val[k]
		mean[i] += step * v * vari[i]
		q := prec[i] + c*v*v
		prec[i] = q
		vari[i] = 1 / q
	}
}
