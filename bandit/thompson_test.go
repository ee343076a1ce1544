package bandit

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// trainedModels returns k models of dimension d trained on seeded random
// events so their posteriors differ.
func trainedModels(t testing.TB, k, d int, form Form, events int, seed uint64) []*Model {
	rng := rand.New(rand.NewPCG(seed, 99))
	ms := make([]*Model, k)
	for a := range ms {
		ms[a] = mustNew(t, Config{Dim: d, Form: form})
		for range events {
			ms[a].Update(randVector(rng, d, 0.7), rng.Float64() < 0.3, time.Time{})
		}
	}
	return ms
}

// TestPrepareMatchesPosterior checks Arm.Mean = xᵀm and Arm.SD = α√(xᵀSx),
// with xᵀSx computed by the test from the model's precision and gonum's inverse.
func TestPrepareMatchesPosterior(t *testing.T) {
	const d = 6
	for _, form := range []Form{Diagonal, Full} {
		ms := trainedModels(t, 3, d, form, 50, 1)
		x := randVector(rand.New(rand.NewPCG(2, 2)), d, 1)
		weights := []float64{1, 0.5, 2}
		arms := Prepare(ms, x, 0.5, weights, nil)
		for a, m := range ms {
			var S mat.Dense
			if err := S.Inverse(modelPrecision(&m.w)); err != nil {
				t.Fatal(err)
			}
			xv := mat.NewVecDense(d, dense(x, d))
			var sx mat.VecDense
			sx.MulVec(&S, xv)
			wantMean := mat.Dot(xv, mat.NewVecDense(d, m.w.mean))
			wantSD := 0.5 * math.Sqrt(mat.Dot(xv, &sx))
			if !near(arms[a].Mean, wantMean, 1e-9) || !near(arms[a].SD, wantSD, 1e-9) || arms[a].Weight != weights[a] {
				t.Errorf("%v arm %d = %+v, want mean %v sd %v weight %v", form, a, arms[a], wantMean, wantSD, weights[a])
			}
			if want := m.Propensity(x); !near(arms[a].Propensity(), want, 1e-12) {
				t.Errorf("%v arm %d: Propensity %v, the model's %v", form, a, arms[a].Propensity(), want)
			}
		}
	}
}

// TestSampleMoments checks that Sample's logits are N(Mean, SD²): over
// N = 200000 seeded draws the sample mean has standard error SD/√N and the
// sample variance SD²·√(2/(N−1)) (normal data); both must fall within 5
// standard errors (two-sided false-alarm probability 6e-7 per check).
func TestSampleMoments(t *testing.T) {
	const n = 200000
	arms := []Arm{{Mean: -1, SD: 0.8, Weight: 1}, {Mean: 0.5, SD: 1.5, Weight: 1}, {Mean: 2, SD: 0.3, Weight: 1}}
	rng := rand.New(rand.NewPCG(10, 20))
	dst := make([]float64, len(arms))
	sum := make([]float64, len(arms))
	sum2 := make([]float64, len(arms))
	for range n {
		Sample(arms, rng, dst)
		for a, s := range dst {
			z := math.Log(s / (1 - s)) // logit; Weight is 1
			sum[a] += z
			sum2[a] += z * z
		}
	}
	for a, arm := range arms {
		mean := sum[a] / n
		variance := (sum2[a] - n*mean*mean) / (n - 1)
		seMean := arm.SD / math.Sqrt(n)
		seVar := arm.SD * arm.SD * math.Sqrt(2.0/(n-1))
		if math.Abs(mean-arm.Mean) > 5*seMean {
			t.Errorf("arm %d: logit mean %v, want %v ± %v", a, mean, arm.Mean, 5*seMean)
		}
		if math.Abs(variance-arm.SD*arm.SD) > 5*seVar {
			t.Errorf("arm %d: logit variance %v, want %v ± %v", a, variance, arm.SD*arm.SD, 5*seVar)
		}
	}
}

// TestSelectLogitMoments runs the whole hot path on trained full models and
// checks the sampled logits against xᵀm and α²xᵀSx computed by the test
// (gonum inverse of the precision), with the same 5-standard-error bounds.
func TestSelectLogitMoments(t *testing.T) {
	n := 100000
	const d, alpha = 5, 0.7
	ms := trainedModels(t, 2, d, Full, 40, 3)
	x := randVector(rand.New(rand.NewPCG(4, 4)), d, 1)
	xv := mat.NewVecDense(d, dense(x, d))
	rng := rand.New(rand.NewPCG(5, 5))
	arms := make([]Arm, 0, len(ms))
	dst := make([]float64, len(ms))
	sum := make([]float64, len(ms))
	sum2 := make([]float64, len(ms))
	for range n {
		Select(ms, x, alpha, nil, rng, arms, dst)
		for a, s := range dst {
			z := math.Log(s / (1 - s))
			sum[a] += z
			sum2[a] += z * z
		}
	}
	for a, m := range ms {
		var S mat.Dense
		if err := S.Inverse(modelPrecision(&m.w)); err != nil {
			t.Fatal(err)
		}
		var sx mat.VecDense
		sx.MulVec(&S, xv)
		wantMean := mat.Dot(xv, mat.NewVecDense(d, m.w.mean))
		wantVar := alpha * alpha * mat.Dot(xv, &sx)
		nf := float64(n)
		mean := sum[a] / nf
		variance := (sum2[a] - nf*mean*mean) / (nf - 1)
		if se := math.Sqrt(wantVar / nf); math.Abs(mean-wantMean) > 5*se {
			t.Errorf("model %d: logit mean %v, want %v ± %v", a, mean, wantMean, 5*se)
		}
		if se := wantVar * math.Sqrt(2/(nf-1)); math.Abs(variance-wantVar) > 5*se {
			t.Errorf("model %d: logit variance %v, want %v ± %v", a, variance, wantVar, 5*se)
		}
	}
}

func TestSampleArgmax(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	tests := []struct {
		name string
		arms []Arm
		want int
	}{
		{"empty", nil, -1},
		// SD 0 makes the draw deterministic: σ(2) > σ(1).
		{"deterministic", []Arm{{Mean: 1, Weight: 1}, {Mean: 2, Weight: 1}}, 1},
		{"weight wins", []Arm{{Mean: 1, Weight: 3}, {Mean: 2, Weight: 1}}, 0},
		{"tie goes low", []Arm{{Mean: 1, Weight: 1}, {Mean: 1, Weight: 1}}, 0},
		{"NaN never wins", []Arm{{Mean: math.NaN(), Weight: 1}, {Mean: -5, Weight: 1}}, 1},
		{"all NaN", []Arm{{Mean: math.NaN(), Weight: 1}}, -1},
		{"zero weights", []Arm{{Mean: 3, Weight: 0}, {Mean: 1, Weight: 0}}, 0},
	}
	for _, tc := range tests {
		if got := Sample(tc.arms, rng, nil); got != tc.want {
			t.Errorf("%s: Sample = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestSelectionProbability compares the Monte Carlo estimate with exact
// values. Two arms of equal weight: P(arm 0) = Φ((μ₀−μ₁)/√(s₀²+s₁²)) because σ
// is increasing. Unequal weights: the probability is the integral over z₀ of
// P(w₁σ(μ₁+s₁z₁) < w₀σ(μ₀+s₀z₀)), computed by quadrature. With D = 100000
// draws the estimate's standard error is √(p(1−p)/D); we allow 5 of them.
func TestSelectionProbability(t *testing.T) {
	const draws = 100000
	exactWeighted := func(a0, a1 Arm) float64 {
		std := distuv.UnitNormal
		f := func(z0 float64) float64 {
			r := a0.Weight * refSigmoid(a0.Mean+a0.SD*z0) / a1.Weight
			var p float64 // P(σ(μ₁+s₁z₁) < r)
			switch {
			case r >= 1:
				p = 1
			case r <= 0:
				p = 0
			default:
				p = std.CDF((math.Log(r/(1-r)) - a1.Mean) / a1.SD)
			}
			return std.Prob(z0) * p
		}
		return quad.Fixed(f, -12, 12, 1000, quad.Legendre{}, 0)
	}
	tests := []struct {
		name string
		arms []Arm
	}{
		{"equal weights", []Arm{{Mean: 0.3, SD: 0.5, Weight: 1}, {Mean: 0, SD: 1, Weight: 1}}},
		{"far apart", []Arm{{Mean: -2, SD: 0.4, Weight: 1}, {Mean: -1, SD: 0.6, Weight: 1}}},
		{"weighted", []Arm{{Mean: -1, SD: 0.7, Weight: 2}, {Mean: 0, SD: 0.5, Weight: 1}}},
	}
	for _, tc := range tests {
		a0, a1 := tc.arms[0], tc.arms[1]
		want := exactWeighted(a0, a1)
		if a0.Weight == a1.Weight {
			closed := distuv.UnitNormal.CDF((a0.Mean - a1.Mean) / math.Hypot(a0.SD, a1.SD))
			if !near(want, closed, 1e-9) {
				t.Fatalf("%s: quadrature %v disagrees with the closed form %v", tc.name, want, closed)
			}
			want = closed
		}
		rng := rand.New(rand.NewPCG(7, 7))
		got := SelectionProbability(tc.arms, 0, draws, rng)
		se := math.Sqrt(want * (1 - want) / draws)
		if math.Abs(got-want) > 5*se {
			t.Errorf("%s: SelectionProbability = %v, exact %v ± %v", tc.name, got, want, 5*se)
		}
	}
	if p := SelectionProbability([]Arm{{}}, 1, 10, rand.New(rand.NewPCG(1, 1))); !math.IsNaN(p) {
		t.Errorf("out-of-range chosen gave %v, want NaN", p)
	}
}

// TestSelectAllocs: the hot path does not allocate when buffers suffice.
func TestSelectAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so allocations are expected")
	}
	for _, form := range []Form{Diagonal, Full} {
		ms := trainedModels(t, 20, 16, form, 10, 8)
		x := randVector(rand.New(rand.NewPCG(1, 2)), 16, 1)
		rng := rand.New(rand.NewPCG(3, 4))
		arms := make([]Arm, 0, len(ms))
		dst := make([]float64, len(ms))
		Select(ms, x, 0.5, nil, rng, arms, dst) // warm the scratch pools
		if n := testing.AllocsPerRun(100, func() { Select(ms, x, 0.5, nil, rng, arms, dst) }); n != 0 {
			t.Errorf("%v: Select allocates %v times per call", form, n)
		}
		if n := testing.AllocsPerRun(100, func() { ms[0].Update(x, true, time.Time{}) }); n != 0 {
			t.Errorf("%v: Update allocates %v times per call", form, n)
		}
	}
}
