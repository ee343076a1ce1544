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
