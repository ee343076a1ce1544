package experiments

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/integrate"
	"gonum.org/v1/gonum/stat/distuv"
)

func summaryOf(xs []float64) Summary {
	var s Summary
	for _, x := range xs {
		s.Add(x)
	}
	return s
}

func TestWelchSleepR(t *testing.T) {
	// R's sleep data, group 1 vs group 2: the worked example on R's t.test
	// help page. R prints t = -1.8608, df = 17.776, p-value = 0.07939, 95% CI
	// -3.3654832 to 0.2054832. The full-precision values below are R's own
	// output, recorded in easystats/parameters,
	// tests/testthat/test-model_parameters.htest.R (Welch Two Sample t-test).
	g1 := []float64{0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0}
	g2 := []float64{1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4}
	got := Welch(summaryOf(g1), summaryOf(g2), 0.95)
	const tol = 1e-9
	checks := []struct {
		name      string
		got, want float64
	}{
		{"diff", got.Diff, -1.58},
		{"t", got.T, -1.86081346748685},
		{"df", got.DF, 17.7764735161785},
		{"p", got.PValue, 0.0793941401873582},
		{"ci lo", got.CI.Lo, -3.36548323071171},
		{"ci hi", got.CI.Hi, 0.20548323071171},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > tol {
			t.Errorf("%s = %.15g, R gives %.15g", c.name, c.got, c.want)
		}
	}
}

// studentTDensity is Student's t density with ν degrees of freedom, from
// its textbook form Γ((ν+1)/2)/(√(νπ)Γ(ν/2))·(1 + x²/ν)^(−(ν+1)/2).
func studentTDensity(x, nu float64) float64 {
	a, _ := math.Lgamma((nu + 1) / 2)
	b, _ := math.Lgamma(nu / 2)
	return math.Exp(a-b-0.5*math.Log(nu*math.Pi)) * math.Pow(1+x*x/nu, -(nu+1)/2)
}

// tCentralMass is ∫_{−a}^{a} of the t density, by Simpson's rule on 20,001
// points. The error is far below 1e-9 for the a and ν used here.
func tCentralMass(a, nu float64) float64 {
	const n = 20001
	xs := make([]float64, n)
	fs := make([]float64, n)
	for i := range xs {
		xs[i] = a * float64(i) / (n - 1)
		fs[i] = studentTDensity(xs[i], nu)
	}
	return 2 * integrate.Simpsons(xs, fs)
}

func TestWelchIndependent(t *testing.T) {
	// Reference, computed without Summary or gonum's distributions:
	// two-pass means and variances of the raw data, the
	// Welch–Satterthwaite formula, and the p-value 1 − ∫_{−|t|}^{|t|} f_ν by
	// numerical integration of the t density. The interval is checked by
	// its defining property: the t density holds exactly `level` between
	// ±(hi − diff)/SE.
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name     string
		nT, nC   int
		muT, muC float64
		sdT, sdC float64
		level    float64
	}{
		{"small unequal", 8, 15, 1.0, 0.2, 1, 3, 0.95},
		{"moderate", 40, 35, 10, 9.5, 2, 2.5, 0.90},
		{"skewed sizes", 200, 12, 5, 5.4, 1, 0.5, 0.99},
	}
	for _, tt := range tests {
		xs := make([]float64, tt.nT)
		ys := make([]float64, tt.nC)
		for i := range xs {
			xs[i] = tt.muT + tt.sdT*rng.NormFloat64()
		}
		for i := range ys {
			ys[i] = tt.muC + tt.sdC*rng.NormFloat64()
		}
		mean := func(v []float64) float64 {
			s := 0.0
			for _, x := range v {
				s += x
			}
			return s / float64(len(v))
		}
		variance := func(v []float64) float64 {
			m, s := mean(v), 0.0
			for _, x := range v {
				s += (x - m) * (x - m)
			}
			return s / float64(len(v)-1)
		}
		a := variance(xs) / float64(tt.nT)
		b := variance(ys) / float64(tt.nC)
		diff := mean(xs) - mean(ys)
		se := math.Sqrt(a + b)
		df := (a + b) * (a + b) / (a*a/float64(tt.nT-1) + b*b/float64(tt.nC-1))
		p := 1 - tCentralMass(math.Abs(diff/se), df)

		got := Welch(summaryOf(xs), summaryOf(ys), tt.level)
		const tol = 1e-9
		if math.Abs(got.Diff-diff) > tol || math.Abs(got.SE-se) > tol || math.Abs(got.DF-df) > 1e-7 || math.Abs(got.PValue-p) > tol {
			t.Errorf("%s: Welch = %+v; reference diff %v se %v df %v p %v", tt.name, got, diff, se, df, p)
		}
		q := (got.CI.Hi - got.Diff) / got.SE
		if mass := tCentralMass(q, df); math.Abs(mass-tt.level) > tol {
			t.Errorf("%s: t mass inside the CI = %.12f, want %v", tt.name, mass, tt.level)
		}
		if math.Abs((got.Diff-got.CI.Lo)-(got.CI.Hi-got.Diff)) > 1e-12 {
			t.Errorf("%s: CI %+v not symmetric about %v", tt.name, got.CI, got.Diff)
		}
	}
}

func TestWelchDegenerate(t *testing.T) {
	one := Summary{N: 1, Sum: 3, SumSq: 9}
	if got := Welch(one, summaryOf([]float64{1, 2}), 0.95); !math.IsNaN(got.PValue) || !math.IsNaN(got.SE) {
		t.Errorf("one observation: %+v, want NaN p and SE", got)
	}
	same := summaryOf([]float64{2, 2, 2})
	if got := Welch(same, same, 0.95); got.PValue != 1 || got.SE != 0 || got.CI != (Interval{0, 0}) {
		t.Errorf("equal constants: %+v, want p 1, SE 0, CI [0, 0]", got)
	}
	if got := Welch(summaryOf([]float64{3, 3}), same, 0.95); got.PValue != 0 || got.CI != (Interval{1, 1}) {
		t.Errorf("different constants: %+v, want p 0, CI [1, 1]", got)
	}
}

func TestTDistributionHelpers(t *testing.T) {
	// Critical values from standard t tables (R: qt(0.975, df)), and the
	// switch to the normal for huge ν, where the first Cornish–Fisher term
	// (z³+z)/(4ν) bounds the difference.
	tests := []struct{ nu, want float64 }{
		{1, 12.70620473617471},
		{10, 2.228138851986273},
		{30, 2.042272456301238},
	}
	for _, tt := range tests {
		if got := tCrit(0.95, tt.nu); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("tCrit(0.95, %v) = %.15g, want %.15g", tt.nu, got, tt.want)
		}
	}
	for _, nu := range []float64{1e6, 1e7, 2e7, 1e12, 1e300, math.Inf(1)} {
		bound := (z975*z975*z975 + z975) / (4 * nu) * 1.01
		if got := tCrit(0.95, nu); math.Abs(got-z975) > bound+1e-12 {
			t.Errorf("tCrit(0.95, %g) = %.12g, want z %.12g within %g", nu, got, z975, bound)
		}
		if p := tTwoSidedP(z975, nu); math.Abs(p-0.05) > 1e-6 {
			t.Errorf("tTwoSidedP(z, %g) = %v, want 0.05", nu, p)
		}
	}
	if !math.IsNaN(tCrit(0.95, 0)) || !math.IsNaN(tTwoSidedP(1, -1)) || !math.IsNaN(tTwoSidedP(math.NaN(), 5)) {
		t.Error("invalid degrees of freedom did not give NaN")
	}
}

func TestTCritAgreesWithGonum(t *testing.T) {
	// tCrit's Newton iteration against gonum's StudentsT.Quantile (inverse
	// incomplete beta), from ν = 1 to the normal cut-over, at levels from 50%
	// to 99.99%.
	for _, nu := range []float64{1, 1.3, 2, 2.5, 3, 5, 7.7, 10, 17.776, 30, 100, 999, 1e4, 1e5, 1e6} {
		for _, l := range []float64{0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 0.9999} {
			want := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: nu}.Quantile(1 - (1-l)/2)
			if got := tCrit(l, nu); math.Abs(got-want) > 1e-9*want {
				t.Errorf("tCrit(%v, %v) = %.15g, gonum %.15g", l, nu, got, want)
			}
		}
	}
}
