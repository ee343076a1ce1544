package experiments

import (
	"math"
	"testing"
)

// z975 is qnorm(0.975), the two-sided 95% normal critical value, typed in
// from R (format(qnorm(0.975), digits = 16)) so that the reference
// computations below do not share the package's quantile code.
const z975 = 1.959963984540054

// wilsonByBisection is an independent route to the Wilson interval. It
// solves the score equation (p̂ − π)² = z²·π(1−π)/n for its two roots by
// bisection, with no closed form. The lower root lies in [0, p̂] and the
// upper in [p̂, 1], because the left side minus the right is ≤ 0 at π = p̂
// and ≥ 0 at 0 and 1.
func wilsonByBisection(x, n int, z float64) Interval {
	p := float64(x) / float64(n)
	g := func(pi float64) float64 { return (p-pi)*(p-pi) - z*z*pi*(1-pi)/float64(n) }
	root := func(lo, hi float64, rising bool) float64 {
		for range 200 {
			mid := (lo + hi) / 2
			if (g(mid) > 0) == rising {
				hi = mid
			} else {
				lo = mid
			}
		}
		return (lo + hi) / 2
	}
	lo, hi := 0.0, 1.0
	if x > 0 {
		lo = root(0, p, false) // g falls from g(0) ≥ 0 to g(p̂) ≤ 0
	}
	if x < n {
		hi = root(p, 1, true) // g rises from g(p̂) ≤ 0 to g(1) ≥ 0
	}
	return Interval{lo, hi}
}

func TestWilsonPublished(t *testing.T) {
	// Newcombe (1998a), Stat Med 17:857–872, Table I, method 3 (Wilson score
	// without continuity correction), 95%, published to 4 decimals. The
	// tolerance is half a unit in the 4th decimal.
	const tol = 0.5e-4
	tests := []struct {
		x, n   int
		lo, hi float64
	}{
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0.0000, 0.1611},
		{1, 29, 0.0061, 0.1718},
	}
	for _, tt := range tests {
		got := Wilson(tt.x, tt.n, 0.95)
		if math.Abs(got.Lo-tt.lo) > tol || math.Abs(got.Hi-tt.hi) > tol {
			t.Errorf("Wilson(%d, %d) = [%.6f, %.6f], published [%.4f, %.4f]", tt.x, tt.n, got.Lo, got.Hi, tt.lo, tt.hi)
		}
	}
}

func TestWilsonIndependent(t *testing.T) {
	// Reference: wilsonByBisection, which solves the score equation
	// numerically. Agreement to 1e-9 checks the closed form, including its
	// clamping at 0 and 1. The 90% and 99% critical values are qnorm(0.95)
	// and qnorm(0.995) from R.
	const tol = 1e-9
	levels := []struct{ level, z float64 }{{0.90, 1.644853626951472}, {0.95, z975}, {0.99, 2.575829303548901}}
	cases := [][2]int{{81, 263}, {15, 148}, {0, 20}, {1, 29}, {29, 29}, {0, 1}, {1, 1}, {5, 10}, {3, 1000}, {999, 1000}, {40000, 100000}}
	for _, lv := range levels {
		for _, c := range cases {
			got := Wilson(c[0], c[1], lv.level)
			want := wilsonByBisection(c[0], c[1], lv.z)
			if math.Abs(got.Lo-want.Lo) > tol || math.Abs(got.Hi-want.Hi) > tol {
				t.Errorf("Wilson(%d, %d, %v) = %+v, bisection %+v", c[0], c[1], lv.level, got, want)
			}
		}
	}
	if got := Wilson(0, 0, 0.95); got != (Interval{0, 1}) {
		t.Errorf("Wilson(0, 0) = %+v, want [0, 1]", got)
	}
	if got := Wilson(3, 2, 0.95); !math.IsNaN(got.Lo) {
		t.Errorf("Wilson(3, 2) = %+v, want NaN", got)
	}
}

func TestNewcombePublished(t *testing.T) {
	// Newcombe (1998b), Stat Med 17:873–890, Table II, method 10 (hybrid
	// score), example (a): 56/70 − 48/80 = 0.2000, 95% CI 0.0524 to 0.3339,
	// published to 4 decimals.
	const tol = 0.5e-4
	got := Newcombe(56, 70, 48, 80, 0.95)
	if math.Abs(got.Lo-0.0524) > tol || math.Abs(got.Hi-0.3339) > tol {
		t.Errorf("Newcombe(56/70 − 48/80) = [%.6f, %.6f], published [0.0524, 0.3339]", got.Lo, got.Hi)
	}
}

func TestNewcombeIndependent(t *testing.T) {
	// Reference: method 10's definition, evaluated on Wilson bounds from
	// wilsonByBisection rather than the closed form.
	const tol = 1e-9
	cases := [][4]int{
		{56, 70, 48, 80}, {9, 10, 3, 10}, {6, 7, 2, 7}, {5, 56, 0, 29},
		{0, 10, 0, 20}, {0, 10, 0, 10}, {10, 10, 0, 20}, {10, 10, 0, 10},
		{120, 1000, 100, 1000}, {3, 40000, 9, 40000},
	}
	for _, c := range cases {
		p1, p2 := float64(c[0])/float64(c[1]), float64(c[2])/float64(c[3])
		w1, w2 := wilsonByBisection(c[0], c[1], z975), wilsonByBisection(c[2], c[3], z975)
		d := p1 - p2
		want := Interval{
			Lo: d - math.Sqrt((p1-w1.Lo)*(p1-w1.Lo)+(w2.Hi-p2)*(w2.Hi-p2)),
			Hi: d + math.Sqrt((w1.Hi-p1)*(w1.Hi-p1)+(p2-w2.Lo)*(p2-w2.Lo)),
		}
		got := Newcombe(c[0], c[1], c[2], c[3], 0.95)
		if math.Abs(got.Lo-want.Lo) > tol || math.Abs(got.Hi-want.Hi) > tol {
			t.Errorf("Newcombe(%v) = %+v, reference %+v", c, got, want)
		}
		// Properties: it contains d, stays in [−1, 1], and swapping the arms
		// mirrors it.
		if !got.Contains(d) || got.Lo < -1 || got.Hi > 1 {
			t.Errorf("Newcombe(%v) = %+v does not contain %v within [-1, 1]", c, got, d)
		}
		sw := Newcombe(c[2], c[3], c[0], c[1], 0.95)
		if math.Abs(sw.Lo+got.Hi) > 1e-12 || math.Abs(sw.Hi+got.Lo) > 1e-12 {
			t.Errorf("Newcombe(%v) swapped = %+v, want the mirror of %+v", c, sw, got)
		}
	}
	if got := Newcombe(1, 0, 1, 2, 0.95); !math.IsNaN(got.Lo) {
		t.Errorf("Newcombe with an empty arm = %+v, want NaN", got)
	}
}

func TestProportionTest(t *testing.T) {
	// 7/10 vs 4/10, worked by hand: SE² = 0.7·0.3/10 + 0.4·0.6/10 = 0.045,
	// so z = 0.3/sqrt(0.045) = √2 and p = 2(1 − Φ(√2)) = erfc(1) exactly.
	z, p := ProportionTest(7, 10, 4, 10)
	if math.Abs(z-math.Sqrt2) > 1e-12 || math.Abs(p-math.Erfc(1)) > 1e-12 {
		t.Errorf("ProportionTest(7/10, 4/10) = %v, %v; want √2, erfc(1) = %v", z, p, math.Erfc(1))
	}
	tests := []struct {
		name           string
		x1, n1, x2, n2 int
		z, p           float64
	}{
		{"equal constant arms", 0, 10, 0, 20, 0, 1},
		{"different constant arms", 10, 10, 0, 20, math.Inf(1), 0},
	}
	for _, tt := range tests {
		z, p := ProportionTest(tt.x1, tt.n1, tt.x2, tt.n2)
		if z != tt.z || p != tt.p {
			t.Errorf("%s: got %v, %v; want %v, %v", tt.name, z, p, tt.z, tt.p)
		}
	}
	if z, p := ProportionTest(1, 0, 1, 1); !math.IsNaN(z) || !math.IsNaN(p) {
		t.Errorf("empty arm: got %v, %v; want NaN", z, p)
	}
}
