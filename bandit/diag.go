package bandit

// predictDiag returns μ = Σ x_i m_i and s² = Σ x_i² / q_i, the mean and
// variance of the logit xᵀw under the diagonal posterior (Chapelle & Li
// 2011, Section 4 and Algorithm 3). O(nnz(x)).
//
// It is most of Select's time, and a single accumulator per sum makes the
// loop wait on floating-point add latency, so even and odd entries go to
// separate accumulators (BenchmarkSelect/K=100/d=64/diag: about 11 µs → 8 µs).
func (g *gaussian) predictDiag(x Vector) (mu, s2 float64) {
	mean := g.mean
	vari := g.vari[:len(mean)] // equal lengths let the compiler drop vari's bounds check
	idx := x.Index
	val := x.Value[:len(idx)]
	var mu1, s21 float64
	k := 0
	for ; k+1 < len(idx); k += 2 {
		i0, i1 := idx[k], idx[k+1]
		v0, v1 := val[k], val[k+1]
		mu += v0 * mean[i0]
		s2 += v0 * v0 * vari[i0]
		mu1 += v1 * mean[i1]
		s21 += v1 * v1 * vari[i1]
	}
	if k < len(idx) {
		i, v := idx[k], val[k]
		mu += v * mean[i]
		s2 += v * v * vari[i]
	}
	return mu + mu1, s2 + s21
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
