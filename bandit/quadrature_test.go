package bandit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// gridSelection is an independent computation of π(chosen): a plain
// trapezoid rule on a fixed fine grid in t = (Z_i − μ_i)/s_i over [−9, 9],
// with the density of the chosen arm's logit and each other arm's CDF
// written out directly (no shared helpers with quadrature.go).
func gridSelection(arms []Arm, chosen int) float64 {
	const n = 40000
	ci := arms[chosen]
	others := func(c float64) float64 {
		p := 1.0
		for j, a := range arms {
			if j == chosen {
				continue
			}
			// P(a.Weight / (1 + e^{−Z}) < c) for Z ~ N(a.Mean, a.SD²).
			switch {
			case a.Weight <= 0 && c > 0, c >= a.Weight:
				continue
			case c <= 0:
				return 0
			}
			z := -math.Log(a.Weight/c - 1)
			if a.SD == 0 {
				if a.Mean >= z {
					return 0
				}
				continue
			}
			p *= (1 + math.Erf((z-a.Mean)/(a.SD*math.Sqrt2))) / 2
		}
		return p
	}
	if ci.SD == 0 {
		return others(ci.Weight / (1 + math.Exp(-ci.Mean)))
	}
	h := 18.0 / n
	sum := 0.0
	for k := 0; k <= n; k++ {
		t := -9 + float64(k)*h
		w := h
		if k == 0 || k == n {
			w = h / 2
		}
		dens := math.Exp(-t*t/2) / math.Sqrt(2*math.Pi)
		sum += w * dens * others(ci.Weight/(1+math.Exp(-(ci.Mean+ci.SD*t))))
	}
	return sum
}

func TestSelectionQuadTwoArmsClosedForm(t *testing.T) {
	// With equal weights, arm 0 wins iff Z₀ > Z₁ (σ is increasing), so
	// π₀ = Φ((μ₀−μ₁)/√(s₀²+s₁²)) exactly.
	cases := [][4]float64{{0, 1, 0, 1}, {0.5, 0.3, -0.2, 1.2}, {-2, 0.05, -1.9, 2}, {3, 2, -3, 0.01}, {1, 0.7, 1, 0.2}}
	for _, c := range cases {
		arms := []Arm{{Mean: c[0], SD: c[1], Weight: 2.5}, {Mean: c[2], SD: c[3], Weight: 2.5}}
		want := 0.5 * math.Erfc(-(c[0]-c[2])/math.Sqrt(2*(c[1]*c[1]+c[3]*c[3])))
		got := SelectionProbabilityQuad(arms, 0, 1e-6)
		if math.Abs(got-want) > 1e-5 {
			t.Errorf("%v: quadrature %.8f, closed form %.8f", c, got, want)
		}
	}
}

// randomArms draws K arms: means in a realistic logit range, SDs that mix
// confident and uncertain posteriors (some exactly 0), weights (value x
// lever) spread over two orders of magnitude.
func randomArms(rng *rand.Rand, k int) []Arm {
	arms := make([]Arm, k)
	for a := range arms {
		sd := math.Exp(rng.NormFloat64() - 1)
		if rng.IntN(10) == 0 {
			sd = 0
		}
		arms[a] = Arm{Mean: rng.NormFloat64()*1.5 - 2, SD: sd, Weight: math.Exp(rng.NormFloat64())}
	}
	return arms
}

func TestSelectionQuadAgainstGrid(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 12 {
		k := 2 + rng.IntN(30)
		arms := randomArms(rng, k)
		sum := 0.0
		for i := range arms {
			got := SelectionProbabilityQuad(arms, i, 1e-6)
			want := gridSelection(arms, i)
			if math.Abs(got-want) > 2e-5 {
				t.Errorf("trial %d K=%d arm %d (%+v): quadrature %.7f, grid %.7f", trial, k, i, arms[i], got, want)
			}
			sum += got
		}
		if math.Abs(sum-1) > 1e-4 {
			t.Errorf("trial %d: probabilities sum to %.7f", trial, sum)
		}
	}
}

// TestSelectionQuadTolerance holds the default tolerance to its word: on random arms
// with narrow, ordinary and wide posteriors, every action's probability at the default
// tolerance is within SelectionTolerance of the fine grid.
func TestSelectionQuadTolerance(t *testing.T) {
	rng := rand.New(rand.NewPCG(77, 78))
	worst, trials := 0.0, 60
	if raceEnabled {
		trials = 15 // the grid is slow under the race detector; the first 15 include failures of looser rules
	}
	for trial := range trials {
		arms := randomArms(rng, 2+rng.IntN(25))
		for i := range arms {
			switch trial % 3 {
			case 0:
				arms[i].SD *= 4
			case 1:
				arms[i].SD *= 0.1
			}
		}
		for i := range arms {
			worst = math.Max(worst, math.Abs(SelectionProbabilityQuad(arms, i, 0)-gridSelection(arms, i)))
		}
	}
	t.Logf("largest error %.2g", worst)
	if worst > SelectionTolerance {
		t.Errorf("largest error %.3g over the tolerance %g", worst, SelectionTolerance)
	}
}

func TestSelectionQuadAgainstMonteCarlo(t *testing.T) {
	// The Monte Carlo estimator counts what Sample does; the quadrature must
	// agree within its standard error (5 SE, plus the default tolerance).
	rng := rand.New(rand.NewPCG(3, 5))
	const draws = 200000
	for trial := range 5 {
		arms := randomArms(rng, 20)
		for i := range arms {
			q := SelectionProbabilityQuad(arms, i, 0)
			mc := SelectionProbability(arms, i, draws, rng)
			se := math.Sqrt(math.Max(q*(1-q), 1/float64(draws)) / draws)
			if math.Abs(q-mc) > 5*se+SelectionTolerance {
				t.Errorf("trial %d arm %d: quadrature %.5f, Monte Carlo %.5f (se %.5f)", trial, i, q, mc, se)
			}
		}
	}
}

func TestSelectionQuadEdges(t *testing.T) {
	nan := math.NaN()
	for name, c := range map[string]struct {
		arms   []Arm
		chosen int
		want   float64
	}{
		"out of range":        {[]Arm{{Weight: 1}}, 1, nan},
		"negative":            {[]Arm{{Weight: 1}}, -1, nan},
		"zero weight chosen":  {[]Arm{{Weight: 0, SD: 1}, {Weight: 1, SD: 1}}, 0, nan},
		"nan mean":            {[]Arm{{Weight: 1, SD: 1}, {Mean: nan, Weight: 1}}, 0, nan},
		"infinite sd":         {[]Arm{{Weight: 1, SD: math.Inf(1)}, {Weight: 1}}, 0, nan},
		"single arm":          {[]Arm{{Mean: -1, SD: 0.5, Weight: 3}}, 0, 1},
		"others zero weight":  {[]Arm{{Mean: -1, SD: 0.5, Weight: 3}, {Weight: 0, SD: 1}}, 0, 1},
		"certain, dominated":  {[]Arm{{Mean: 0, Weight: 1}, {Mean: 0, Weight: 5}}, 0, 0},
		"certain, dominating": {[]Arm{{Mean: 0, Weight: 5}, {Mean: 0, Weight: 1}}, 0, 1},
		"unreachable other":   {[]Arm{{Mean: 3, SD: 0.5, Weight: 5}, {Mean: 9, SD: 1, Weight: 0.1}}, 0, 1},
	} {
		got := SelectionProbabilityQuad(c.arms, c.chosen, 0)
		if math.IsNaN(c.want) != math.IsNaN(got) || !math.IsNaN(got) && math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: got %v, want %v", name, got, c.want)
		}
	}
}

func TestNormCDF(t *testing.T) {
	worst := 0.0
	for x := -40.0; x <= 40; x += 0.000123 {
		want := 0.5 * math.Erfc(-x/math.Sqrt2)
		worst = math.Max(worst, math.Abs(normCDF(x)-want))
	}
	// h²/8 · max|Φ''| = (1/256)²/8 · φ(1) = 4.615e-7, plus rounding.
	if worst > 4.62e-7 {
		t.Errorf("largest error %.4g, want < 4.62e-7 (linear interpolation at step 1/256)", worst)
	}
	if normCDF(math.Inf(1)) != 1 || normCDF(math.Inf(-1)) != 0 || !math.IsNaN(normCDF(math.NaN())) {
		t.Error("infinite or NaN arguments")
	}
}

func TestSelectionQuadNoAllocs(t *testing.T) {
	arms := randomArms(rand.New(rand.NewPCG(1, 1)), 20)
	if n := testing.AllocsPerRun(100, func() { SelectionProbabilityQuad(arms, 3, 0) }); n != 0 {
		t.Errorf("%v allocations per call", n)
	}
}

func BenchmarkSelectionProbabilityQuad(b *testing.B) {
	for _, k := range []int{20, 100} {
		rng := rand.New(rand.NewPCG(9, 9))
		arms := randomArms(rng, k)
		best := 0
		for i := range arms {
			if arms[i].Weight*sigmoid(arms[i].Mean) > arms[best].Weight*sigmoid(arms[best].Mean) {
				best = i
			}
		}
		b.Run(fmt.Sprintf("K=%d/quad", k), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				SelectionProbabilityQuad(arms, best, 0)
			}
		})
		b.Run(fmt.Sprintf("K=%d/mc=100", k), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				SelectionProbability(arms, best, 100, rng)
			}
		})
	}
}

// duplicated returns the arms of base, arm a repeated counts[a] times, in an order
// shuffled by rng: an arm set with len(base) duplicate groups.
func duplicated(rng *rand.Rand, base []Arm, counts []int) []Arm {
	var arms []Arm
	for a, n := range counts {
		for range n {
			arms = append(arms, base[a])
		}
	}
	rng.Shuffle(len(arms), func(i, j int) { arms[i], arms[j] = arms[j], arms[i] })
	return arms
}

// TestSelectionQuadAllAlike checks the exchangeability case: K arms with the same
// mean, SD > 0 and weight are each first with probability exactly 1/K. The public
// function returns 1/K outright; the grouped integral (one group of K−1 arms, its G
// raised to the power K−1) must find it too, within the tolerance asked for, and so
// must the ungrouped one.
func TestSelectionQuadAllAlike(t *testing.T) {
	params := []Arm{
		{Mean: 0, SD: 2.5, Weight: 1},       // an untrained model: prior mean, wide
		{Mean: -2, SD: 0.3, Weight: 7},      // a trained one
		{Mean: -1, SD: 0.05, Weight: 120},   // a narrow posterior
		{Mean: -4.5, SD: 1.2, Weight: 0.03}, // a rare event of low value
	}
	for _, a := range params {
		for k := 2; k <= 50; k++ {
			arms := make([]Arm, k)
			for i := range arms {
				arms[i] = a
			}
			want := 1 / float64(k)
			for _, i := range []int{0, k / 2, k - 1} {
				if got := SelectionProbabilityQuad(arms, i, 0); got != want {
					t.Errorf("%+v K=%d arm %d: %v, want exactly 1/K = %v", a, k, i, got, want)
				}
				for _, tol := range []float64{SelectionTolerance, 1e-6} {
					if got := selectionQuad(arms, i, tol, true); math.Abs(got-want) > tol {
						t.Errorf("%+v K=%d arm %d tol %g: grouped integral %.8f, want 1/K = %.8f", a, k, i, tol, got, want)
					}
				}
			}
			if k%7 == 0 { // the ungrouped integral is K times dearer; a sample of sizes
				if got := selectionQuad(arms, 0, SelectionTolerance, false); math.Abs(got-want) > SelectionTolerance {
					t.Errorf("%+v K=%d: ungrouped integral %.8f, want 1/K = %.8f", a, k, got, want)
				}
			}
		}
	}
}

// TestSelectionQuadGrouped compares the grouped integral with the ungrouped one and
// with the fine grid on arm sets with several groups of identical arms: random arms
// (some with SD 0) repeated 1 to 8 times, arms of weight 0, groups that differ in one
// parameter only, and more distinct parameter sets than the groups hold. An arm with
// SD 0 is not repeated: copies of it tie with positive probability, where the
// quadrature and the grid (and Sample) break ties differently.
//
// Grouped and ungrouped evaluate the integrand at the same points; their products
// differ only in rounding (G^n by binary powering instead of n multiplications, in
// another order), about 1e−15 relative, so they agree to 1e−12 unless that rounding
// flips one of adaptive Simpson's refinement decisions, which these seeds do not.
// Against the grid the bounds are those of TestSelectionQuadAgainstGrid.
func TestSelectionQuadGrouped(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	type set struct {
		name string
		arms []Arm
	}
	var sets []set
	trials := 8
	if raceEnabled {
		trials = 3 // the grid is slow under the race detector
	}
	for trial := range trials {
		base := randomArms(rng, 2+rng.IntN(5))
		counts := make([]int, len(base))
		for a := range counts {
			if counts[a] = 1 + rng.IntN(8); base[a].SD == 0 {
				counts[a] = 1
			}
		}
		sets = append(sets, set{fmt.Sprintf("random %d %v", trial, counts), duplicated(rng, base, counts)})
	}
	one := Arm{Mean: -1.5, SD: 0.4, Weight: 3}
	near := []Arm{one, one, one}
	near[1].Mean += 1e-9 // one parameter apart: separate groups
	near[2].Weight *= 1 + 1e-12
	sets = append(sets,
		set{"zero weights", duplicated(rng, []Arm{one, {Mean: 1, SD: 1, Weight: 0}, {Mean: -2, SD: 0.2, Weight: 2}}, []int{4, 3, 5})},
		set{"one parameter apart", duplicated(rng, near, []int{5, 5, 5})},
		set{"untrained with values", duplicated(rng, []Arm{{Mean: 0, SD: 2.5, Weight: 50}, {Mean: 0, SD: 2.5, Weight: 65}, {Mean: 0, SD: 2.5, Weight: 80}}, []int{7, 7, 6})},
	)
	worst := 0.0 // grouped against ungrouped
	for _, s := range sets {
		sum := 0.0
		for i := range s.arms {
			if s.arms[i].Weight <= 0 {
				continue // SelectionProbabilityQuad returns NaN for it
			}
			g := selectionQuad(s.arms, i, 1e-6, true)
			u := selectionQuad(s.arms, i, 1e-6, false)
			if p := SelectionProbabilityQuad(s.arms, i, 1e-6); p != g {
				t.Errorf("%s arm %d: SelectionProbabilityQuad %v, grouped integral %v", s.name, i, p, g)
			}
			worst = math.Max(worst, math.Abs(g-u))
			if math.Abs(g-u) > 1e-12 {
				t.Errorf("%s arm %d (%+v): grouped %.15f, ungrouped %.15f", s.name, i, s.arms[i], g, u)
			}
			want := gridSelection(s.arms, i)
			if math.Abs(g-want) > 2e-5 {
				t.Errorf("%s arm %d (%+v): grouped %.7f, grid %.7f", s.name, i, s.arms[i], g, want)
			}
			if d := selectionQuad(s.arms, i, 0, true); math.Abs(d-want) > SelectionTolerance {
				t.Errorf("%s arm %d (%+v): grouped at the default tolerance %.7f, grid %.7f", s.name, i, s.arms[i], d, want)
			}
			sum += g
		}
		if math.Abs(sum-1) > 1e-4 {
			t.Errorf("%s: probabilities sum to %.7f", s.name, sum)
		}
	}
	t.Logf("largest difference, grouped against ungrouped: %.2g", worst)

	// More distinct parameter sets than quadBounded: the arms after the groups fill up
	// are evaluated one by one. 70 random arms, each twice (those of SD 0 given an SD,
	// against ties).
	base := randomArms(rng, quadBounded+6)
	counts := make([]int, len(base))
	for a := range counts {
		counts[a] = 2
		if base[a].SD == 0 {
			base[a].SD = 0.1
		}
	}
	arms := duplicated(rng, base, counts)
	for _, i := range []int{0, 1, len(arms) / 2, len(arms) - 1} {
		g, u := selectionQuad(arms, i, 1e-6, true), selectionQuad(arms, i, 1e-6, false)
		want := gridSelection(arms, i)
		if math.Abs(g-want) > 2e-5 || math.Abs(u-want) > 2e-5 {
			t.Errorf("overflow arm %d: grouped %.7f, ungrouped %.7f, grid %.7f", i, g, u, want)
		}
	}
}

func TestSelectionQuadGroupedNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	alike := make([]Arm, 20)
	for i := range alike {
		alike[i] = Arm{Mean: 0, SD: 2.5, Weight: 1}
	}
	counts := make([]int, quadBounded+6)
	for a := range counts {
		counts[a] = 2
	}
	overflow := duplicated(rng, randomArms(rng, len(counts)), counts)
	for name, f := range map[string]func(){
		"alike, integrated": func() { selectionQuad(alike, 3, 0, true) },
		"alike, 1/K":        func() { SelectionProbabilityQuad(alike, 3, 0) },
		"overflow":          func() { SelectionProbabilityQuad(overflow, 3, 0) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}

func TestSelCut(t *testing.T) {
	for _, c := range []struct {
		tol  float64
		n    int
		want float64
	}{
		// Expected cuts −Φ⁻¹(tol/(4·10·n)) from Python's
		// statistics.NormalDist().inv_cdf, e.g. −inv_cdf(1e−2/760) = 4.20321.
		{SelectionTolerance, 19, 4.20321},
		{1e-6, 19, 5.95307},
		{1e-20, 19, quadCut},             // capped: the cut would be 9.95
		{0.1, 1, 2.80703},                // ε = 0.1/40 = 0.0025
		{100, 1, 1},                      // floored: ε = 2.5 is no probability
		{SelectionTolerance, 0, 3.48076}, // no other arms: ε as for one, 1e−2/40
	} {
		if got := selCut(c.tol, c.n); math.Abs(got-c.want) > 1e-5 {
			t.Errorf("selCut(%g, %d) = %.5f, want %.4f", c.tol, c.n, got, c.want)
		}
	}
}

func TestFastLog(t *testing.T) {
	// Tang's table method as implemented: truncation below 1.9e−13 plus the rounding of
	// log m_k, e·ln 2 and the sum (about 1.1e−13 where |log x| ≈ 709).
	worst := 0.0
	for x := 1e-307; x < 1e307; x *= 1.0001371 {
		worst = math.Max(worst, math.Abs(fastLog(x)-math.Log(x)))
	}
	for x := 0.25; x < 4; x += 1.37e-6 { // finely through [1, 2) and its neighbours
		worst = math.Max(worst, math.Abs(fastLog(x)-math.Log(x)))
	}
	if worst > 1e-12 {
		t.Errorf("largest error %.3g, want at most 1e-12", worst)
	}
	for _, x := range []float64{0, 5e-324, 2.2e-308, 1, 2, math.MaxFloat64, math.Inf(1)} {
		if got, want := fastLog(x), math.Log(x); got != want && math.Abs(got-want) > 1e-12 {
			t.Errorf("fastLog(%g) = %v, math.Log %v", x, got, want)
		}
	}
	if !math.IsNaN(fastLog(math.NaN())) {
		t.Error("fastLog(NaN) is not NaN")
	}
}

func TestPowInt(t *testing.T) {
	for _, x := range []float64{0, 1, 0.5, 0.999999, 1e-3, 0.7310585786300049} {
		for n := 1; n <= 70; n++ {
			got, want := powInt(x, n), math.Pow(x, float64(n))
			// γ_{n−1} < n·2⁻⁵³ for powInt, plus math.Pow's error of under 1 ulp (2⁻⁵²).
			if math.Abs(got-want) > float64(n+2)*0x1p-53*want {
				t.Errorf("powInt(%v, %d) = %v, math.Pow %v", x, n, got, want)
			}
			if (x == 0 || x == 1) && got != x {
				t.Errorf("powInt(%v, %d) = %v, want exactly %v", x, n, got, x)
			}
		}
	}
}
