package experiments

import "math"

// Wilson returns the Wilson score interval for a binomial proportion, with
// successes out of trials at the given two-sided level (0 means 0.95):
//
//	(2n·p̂ + z² ± z·sqrt(z² + 4n·p̂(1−p̂))) / (2(n + z²)),   p̂ = x/n, z = z_{1−α/2}
//
// Source: Wilson (1927); Newcombe (1998a), method 3. Unlike the Wald interval
// p̂ ± z·sqrt(p̂(1−p̂)/n), it stays inside [0, 1] and keeps close to nominal
// coverage for rare events and small n. Newcombe (1998a) Table I gives
// 0.2553 to 0.3662 for 81/263. With no trials the interval is [0, 1]. For
// counts that are negative or exceed trials it is [NaN, NaN].
func Wilson(successes, trials int, level float64) Interval {
	z := zCrit(resolveLevel(level))
	switch {
	case successes < 0 || trials < 0 || successes > trials:
		return Interval{math.NaN(), math.NaN()}
	case trials == 0:
		return Interval{0, 1}
	}
	return wilson(float64(successes)/float64(trials), float64(trials), z)
}

// wilson is Wilson's interval for an observed proportion p over n > 0 trials
// with critical value z. The bounds are clamped to [0, 1]: they are in
// exact arithmetic, but rounding can leave them a few ulps outside.
func wilson(p, n, z float64) Interval {
	z2 := z * z
	center := 2*n*p + z2
	half := z * math.Sqrt(z2+4*n*p*(1-p))
	den := 2 * (n + z2)
	return Interval{
		Lo: math.Max(0, (center-half)/den),
		Hi: math.Min(1, (center+half)/den),
	}
}

// Newcombe returns Newcombe's hybrid score interval for the difference of
// two independent proportions p₁ − p₂ (x1 of n1 minus x2 of n2), at the
// given two-sided level (0 means 0.95):
//
//	d = p̂₁ − p̂₂
//	L = d − sqrt((p̂₁ − l₁)² + (u₂ − p̂₂)²)
//	U = d + sqrt((u₁ − p̂₁)² + (p̂₂ − l₂)²)
//
// where [lᵢ, uᵢ] is the Wilson interval of p̂ᵢ. Source: Newcombe (1998b),
// method 10. Table II there gives 0.0524 to 0.3339 for 56/70 − 48/80. The
// interval is [NaN, NaN] if either n is 0 or a count is out of range.
func Newcombe(x1, n1, x2, n2 int, level float64) Interval {
	if x1 < 0 || x2 < 0 || n1 <= 0 || n2 <= 0 || x1 > n1 || x2 > n2 {
		return Interval{math.NaN(), math.NaN()}
	}
	z := zCrit(resolveLevel(level))
	return newcombe(float64(x1)/float64(n1), float64(n1), float64(x2)/float64(n2), float64(n2), z)
}

// newcombe is Newcombe's method 10 for proportions p1 over n1 and p2 over n2.
func newcombe(p1, n1, p2, n2, z float64) Interval {
	w1, w2 := wilson(p1, n1, z), wilson(p2, n2, z)
	d := p1 - p2
	return Interval{
		Lo: d - math.Hypot(p1-w1.Lo, w2.Hi-p2),
		Hi: d + math.Hypot(w1.Hi-p1, p2-w2.Lo),
	}
}

// ProportionTest is the two-sided two-proportion z test with the unpooled
// variance, for H₀: p₁ = p₂:
//
//	z = (p̂₁ − p̂₂) / sqrt(p̂₁(1−p̂₁)/n₁ + p̂₂(1−p̂₂)/n₂),   p = 2(1 − Φ(|z|))
//
// Source: the Wald test for a difference of proportions (Newcombe 1998b,
// method 1, inverted). Its variance is the same unpooled variance that
// Compare uses for the relative lift and the confidence sequence. GrowthBook
// also uses it, in gbstats frequentist/tests.py, where a proportion is a
// mean with variance p(1−p). If both arms are constant (the standard error
// is 0), p is 1 for equal proportions and 0 otherwise. z and p are NaN for
// an empty arm or out-of-range counts.
func ProportionTest(x1, n1, x2, n2 int) (z, p float64) {
	if x1 < 0 || x2 < 0 || n1 <= 0 || n2 <= 0 || x1 > n1 || x2 > n2 {
		return math.NaN(), math.NaN()
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	se := math.Sqrt(p1*(1-p1)/float64(n1) + p2*(1-p2)/float64(n2))
	d := p1 - p2
	if se == 0 {
		if d == 0 {
			return 0, 1
		}
		return math.Copysign(math.Inf(1), d), 0
	}
	z = d / se
	return z, 2 * normSF(math.Abs(z))
}
