package offpolicy

import "math"

// moments is a running count, mean and sum of squared deviations from the
// mean, updated one value at a time (Welford 1962) and merged pairwise (Chan,
// Golub & LeVeque 1979):
//
//	add:   n ← n+1,  d = x − mean,  mean ← mean + d/n,  m2 ← m2 + d·(x − mean)
//	merge: n = nₐ+n_b,  d = mean_b − meanₐ,  mean = meanₐ + d·n_b/n,
//	       m2 = m2ₐ + m2_b + d²·nₐ·n_b/n
//
// It avoids the cancellation of Σx² − (Σx)²/n when weights are large.
type moments struct {
	n, mean, m2 float64
}

func (m *moments) add(x float64) {
	m.n++
	d := x - m.mean
	m.mean += d / m.n
	m.m2 += d * (x - m.mean)
}

func (m *moments) merge(o moments) {
	if o.n == 0 {
		return
	}
	if m.n == 0 {
		*m = o
		return
	}
	n := m.n + o.n
	d := o.mean - m.mean
	m.mean += d * o.n / n
	m.m2 += o.m2 + d*d*m.n*o.n/n
	m.n = n
}

// variance is the unbiased sample variance m2/(n−1); NaN for n < 2.
func (m moments) variance() float64 {
	if m.n < 2 {
		return math.NaN()
	}
	return m.m2 / (m.n - 1)
}

// se is the standard error of the mean, sqrt(variance/n).
func (m moments) se() float64 { return math.Sqrt(m.variance() / m.n) }

// comoments is the bivariate version of moments for a ratio ȳ/x̄: the means
// of y and x and the centred sums of squares and cross-products, with the
// same one-pass update (Welford 1962) and pairwise merge (Chan et al. 1979):
//
//	add:   dx = x − x̄_old, dy = y − ȳ_old, update the means, then
//	       cxx += dx·(x − x̄), cyy += dy·(y − ȳ), cxy += dx·(y − ȳ)
//	merge: c·· = c··ₐ + c··_b + d·d·nₐ·n_b/n with d the differences of means
type comoments struct {
	n, my, mx, cyy, cxx, cxy float64
}

func (c *comoments) add(y, x float64) {
	c.n++
	dx := x - c.mx
	dy := y - c.my
	c.mx += dx / c.n
	c.my += dy / c.n
	c.cxx += dx * (x - c.mx)
	c.cyy += dy * (y - c.my)
	c.cxy += dx * (y - c.my)
}

func (c *comoments) merge(o comoments) {
	if o.n == 0 {
		return
	}
	if c.n == 0 {
		*c = o
		return
	}
	n := c.n + o.n
	dx := o.mx - c.mx
	dy := o.my - c.my
	f := c.n * o.n / n
	c.mx += dx * o.n / n
	c.my += dy * o.n / n
	c.cxx += o.cxx + dx*dx*f
	c.cyy += o.cyy + dy*dy*f
	c.cxy += o.cxy + dx*dy*f
	c.n = n
}

// ratio is ȳ/x̄; NaN when x̄ = 0.
func (c comoments) ratio() float64 {
	if c.mx == 0 {
		return math.NaN()
	}
	return c.my / c.mx
}

// ratioSE is the delta-method standard error of ȳ/x̄ (Owen 2013, Section 9.2;
// Deng, Knoblich & Lu 2018): with R = ȳ/x̄ and s the unbiased (co)variances,
//
//	SE² = (s_yy − 2R·s_xy + R²·s_xx) / (n·x̄²).
//
// It is NaN for n < 2 or x̄ = 0.
func (c comoments) ratioSE() float64 {
	if c.n < 2 || c.mx == 0 {
		return math.NaN()
	}
	r := c.my / c.mx
	v := (c.cyy - 2*r*c.cxy + r*r*c.cxx) / (c.n - 1)
	return math.Sqrt(math.Max(v, 0) / (c.n * c.mx * c.mx))
}
