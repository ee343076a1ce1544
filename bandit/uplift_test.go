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

func TestStackTreated(t *testing.T) {
	x := Vector{Index: []int32{0, 3}, Value: []float64{1, -2}}
	got := StackTreated(x, 5, true, 0.5, Vector{})
	want := Vector{Index: []int32{0, 3, 5, 8}, Value: []float64{1, -2, 0.5, -1}}
	if err := got.Validate(10); err != nil {
		t.Fatal(err)
	}
	for k := range want.Index {
		if got.Index[k] != want.Index[k] || got.Value[k] != want.Value[k] {
			t.Fatalf("treated: got %+v, want %+v", got, want)
		}
	}
	got = StackTreated(x, 5, false, 0.5, got)
	if len(got.Index) != 2 || got.Index[1] != 3 || got.Value[1] != -2 {
		t.Fatalf("untreated: got %+v, want x itself", got)
	}
}

// trainedUplift returns an uplift model of context dimension d trained on seeded
// random treated and untreated events.
func trainedUplift(t testing.TB, d int, form Form, scale float64, events int, seed uint64) *Model {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := mustNew(t, Config{Dim: 2 * d, Form: form})
	var buf Vector
	for range events {
		x := randVector(rng, d, 0.7)
		buf = StackTreated(x, d, rng.Float64() < 0.5, scale, buf)
		m.Update(buf, rng.Float64() < 0.3, time.Time{})
	}
	return m
}

// TestPredictUpliftMatchesPosterior checks PredictUplift's moments against the
// test's own computation from the model's precision: S = P⁻¹ by gonum's inverse,
// a = [x; 0], b = [0; s·x], Base = aᵀm, BaseVar = aᵀSa, Effect = bᵀm, EffectVar =
// bᵀSb, Cov = aᵀSb (tolerance 1e-9 relative, rounding only).
func TestPredictUpliftMatchesPosterior(t *testing.T) {
	const d, scale = 5, 0.6
	for _, form := range []Form{Diagonal, Full} {
		m := trainedUplift(t, d, form, scale, 80, 3)
		x := randVector(rand.New(rand.NewPCG(4, 4)), d, 1)
		var buf Vector
		u := m.PredictUplift(x, scale, &buf)

		var S mat.Dense
		if err := S.Inverse(modelPrecision(&m.w)); err != nil {
			t.Fatal(err)
		}
		a := mat.NewVecDense(2*d, nil)
		b := mat.NewVecDense(2*d, nil)
		for k, i := range x.Index {
			a.SetVec(int(i), x.Value[k])
			b.SetVec(int(i)+d, scale*x.Value[k])
		}
		mean := mat.NewVecDense(2*d, m.w.mean)
		var sa, sb mat.VecDense
		sa.MulVec(&S, a)
		sb.MulVec(&S, b)
		want := Uplift{
			Base: mat.Dot(a, mean), BaseVar: mat.Dot(a, &sa),
			Effect: mat.Dot(b, mean), EffectVar: mat.Dot(b, &sb),
			Cov: mat.Dot(a, &sb),
		}
		if form == Diagonal && want.Cov != 0 {
			t.Fatalf("diagonal: reference covariance %v, want exactly 0", want.Cov)
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"Base", u.Base, want.Base}, {"BaseVar", u.BaseVar, want.BaseVar},
			{"Effect", u.Effect, want.Effect}, {"EffectVar", u.EffectVar, want.EffectVar},
			{"Cov", u.Cov, want.Cov},
		} {
			if !near(c.got, c.want, 1e-9) {
				t.Errorf("%v %s = %v, want %v", form, c.name, c.got, c.want)
			}
		}
	}
}

// TestEffectMoments checks MeanEffect and EffectVariance against an independent
// computation of the mean and variance of σ(z₀+δ) − σ(z₀) under the bivariate normal
// posterior, by two-dimensional quadrature (gonum's Legendre rule over ±8 standard
// deviations, (z₀, δ) built from independent normals by the Cholesky factor of their
// covariance). MeanEffect is MacKay's approximation (its error against the exact
// integral is below 0.02 by TestPropensityMatchesIntegral), and the variance a
// first-order expansion: for posteriors this narrow (logit sd 0.3 and 0.25) it must
// be within 0.003 for the mean and 20% for the variance; for a wide posterior the
// variance must stay within its cap.
func TestEffectMoments(t *testing.T) {
	phi := distuv.UnitNormal
	moments := func(u Uplift) (mean, variance float64) {
		l11 := math.Sqrt(u.BaseVar)
		l21 := u.Cov / l11
		l22 := math.Sqrt(u.EffectVar - l21*l21)
		tau := func(n1, n2 float64) float64 {
			z0 := u.Base + l11*n1
			return refSigmoid(z0+u.Effect+l21*n1+l22*n2) - refSigmoid(z0)
		}
		integ := func(f func(float64) float64) float64 {
			return quad.Fixed(func(n1 float64) float64 {
				return phi.Prob(n1) * quad.Fixed(func(n2 float64) float64 { return phi.Prob(n2) * f(tau(n1, n2)) }, -8, 8, 100, quad.Legendre{}, 0)
			}, -8, 8, 100, quad.Legendre{}, 0)
		}
		mean = integ(func(x float64) float64 { return x })
		return mean, integ(func(x float64) float64 { return x * x }) - mean*mean
	}
	for _, u := range []Uplift{
		{Base: -1.2, BaseVar: 0.09, Effect: -0.7, EffectVar: 0.0625, Cov: -0.02},
		{Base: 2.5, BaseVar: 0.09, Effect: -2.0, EffectVar: 0.0625},
		{Base: -3, BaseVar: 0.09, Effect: 0.4, EffectVar: 0.0625, Cov: 0.01},
	} {
		wantMean, wantVar := moments(u)
		if got := u.MeanEffect(); math.Abs(got-wantMean) > 0.003 {
			t.Errorf("%+v: MeanEffect %v, integral %v", u, got, wantMean)
		}
		if got := u.EffectVariance(); math.Abs(got-wantVar) > 0.2*wantVar {
			t.Errorf("%+v: EffectVariance %v, integral %v", u, got, wantVar)
		}
	}
	wide := Uplift{Base: 0, BaseVar: 400, Effect: 0, EffectVar: 400}
	if v := wide.EffectVariance(); !(v > 0 && v <= 1) {
		t.Errorf("wide posterior: variance %v, want in (0, 1]", v)
	}
}

// TestResponseMoments checks ResponseMoments against the mean and variance of σ(Z),
// Z ~ N(μ, s²), by gonum's Legendre quadrature: for s = 0.3 the mean within 0.02
// (MacKay) and the variance within 20%; for a wide posterior the variance is capped at
// p̄(1 − p̄).
func TestResponseMoments(t *testing.T) {
	phi := distuv.UnitNormal
	for _, c := range []struct{ mu, s float64 }{{-2, 0.3}, {0.5, 0.3}, {-4, 0.3}} {
		m1 := quad.Fixed(func(n float64) float64 { return phi.Prob(n) * refSigmoid(c.mu+c.s*n) }, -8, 8, 200, quad.Legendre{}, 0)
		m2 := quad.Fixed(func(n float64) float64 { p := refSigmoid(c.mu + c.s*n); return phi.Prob(n) * p * p }, -8, 8, 200, quad.Legendre{}, 0)
		m, v := ResponseMoments(c.mu, c.s*c.s)
		if math.Abs(m-m1) > 0.02 || math.Abs(v-(m2-m1*m1)) > 0.2*(m2-m1*m1) {
			t.Errorf("μ %v s %v: moments (%v, %v), integral (%v, %v)", c.mu, c.s, m, v, m1, m2-m1*m1)
		}
	}
	if m, v := ResponseMoments(0, 100); v > m*(1-m) {
		t.Errorf("wide posterior: variance %v above the cap %v", v, m*(1-m))
	}
}

// TestUpliftLearnsSegments is a seeded synthetic test with four segments of known true
// effects: persuadables (the action lowers the outcome's probability from 0.30 to
// 0.10), sure things (0.02 either way), lost causes (0.85 either way) and sleeping
// dogs (contact raises it from 0.10 to 0.25). Treatment is assigned at random with
// probability 1/2. After 40,000 events (10,000 a segment, 5,000 treated) the binomial
// standard error of a segment's rate difference is about √(2·0.21/5000) ≈ 0.009, so
// the learnt mean effect must be within 0.04 (four standard errors plus the
// approximation of the diagonal posterior) of the truth in every segment and form.
func TestUpliftLearnsSegments(t *testing.T) {
	segs := []struct {
		name       string
		p0, p1     float64
		index      int32
		wantSignal int // sign of the true effect
	}{
		{"persuadable", 0.30, 0.10, 1, -1},
		{"sure thing", 0.02, 0.02, 2, 0},
		{"lost cause", 0.85, 0.85, 3, 0},
		{"sleeping dog", 0.10, 0.25, 4, +1},
	}
	const d, scale = 5, 1.0
	for _, form := range []Form{Diagonal, Full} {
		m := mustNew(t, Config{Dim: 2 * d, Form: form})
		rng := rand.New(rand.NewPCG(21, 22))
		var buf Vector
		for range 40000 {
			s := segs[rng.IntN(len(segs))]
			x := Vector{Index: []int32{0, s.index}, Value: []float64{1, 1}}
			treated := rng.Float64() < 0.5
			p := s.p0
			if treated {
				p = s.p1
			}
			buf = StackTreated(x, d, treated, scale, buf)
			m.Update(buf, rng.Float64() < p, time.Time{})
		}
		for _, s := range segs {
			x := Vector{Index: []int32{0, s.index}, Value: []float64{1, 1}}
			var b Vector
			got := m.PredictUplift(x, scale, &b).MeanEffect()
			if want := s.p1 - s.p0; math.Abs(got-want) > 0.04 {
				t.Errorf("%v %s: learnt effect %.4f, true %.4f", form, s.name, got, want)
			}
		}
	}
}

// TestUpliftAlwaysTreatedContext shows why the stacked model and not two separate
// ones: in a context that is always treated and whose outcome is common for reasons of
// its own (a lost cause, 0.9 with or without the action), the T-learner's difference
// of a treated model and an untreated model (which has seen only the other contexts,
// at 0.05) says the action causes the outcome (+0.85). The stacked model's effect,
// with a skeptical effect prior (s = 0.5), must stay much nearer the truth, 0: within
// a third of the T-learner's error.
func TestUpliftAlwaysTreatedContext(t *testing.T) {
	const d, scale = 3, 0.5
	m := mustNew(t, Config{Dim: 2 * d})
	treatedOnly := mustNew(t, Config{Dim: d})
	untreatedOnly := mustNew(t, Config{Dim: d})
	rng := rand.New(rand.NewPCG(31, 32))
	var buf Vector
	for range 20000 {
		// context 1: treated half the time, outcome 0.05 either way;
		// context 2: always treated, outcome 0.9 either way.
		var x Vector
		treated := true
		p := 0.9
		if rng.Float64() < 0.7 {
			x = Vector{Index: []int32{0, 1}, Value: []float64{1, 1}}
			treated, p = rng.Float64() < 0.5, 0.05
		} else {
			x = Vector{Index: []int32{0, 2}, Value: []float64{1, 1}}
		}
		y := rng.Float64() < p
		buf = StackTreated(x, d, treated, scale, buf)
		m.Update(buf, y, time.Time{})
		if treated {
			treatedOnly.Update(x, y, time.Time{})
		} else {
			untreatedOnly.Update(x, y, time.Time{})
		}
	}
	x := Vector{Index: []int32{0, 2}, Value: []float64{1, 1}}
	tLearner := treatedOnly.Propensity(x) - untreatedOnly.Propensity(x)
	var b Vector
	stacked := m.PredictUplift(x, scale, &b).MeanEffect()
	if math.Abs(stacked) > math.Abs(tLearner)/3 {
		t.Fatalf("always-treated context: stacked effect %.3f, T-learner %.3f; want the stacked one within a third of the T-learner's error", stacked, tLearner)
	}
	t.Logf("always-treated lost cause: T-learner effect %+.3f, stacked %+.3f (truth 0)", tLearner, stacked)
}

// TestSelectionProbabilityNet checks the quadrature against Monte Carlo of SampleNet's
// own rule (an independent computation: 400,000 rounds of draws and argmax), within 4
// standard errors plus the tolerance, for arms of mixed widths, with and without a
// floor, and with a point arm (SD 0).
func TestSelectionProbabilityNet(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	const draws = 400000
	cases := []struct {
		name  string
		arms  []NetArm
		floor float64
	}{
		{"mixed", []NetArm{{10, 4}, {12, 1}, {5, 9}, {11, 0.2}, {-50, 3}}, math.Inf(-1)},
		{"floor", []NetArm{{10, 4}, {12, 1}, {5, 9}}, 11},
		{"point", []NetArm{{10, 0}, {9, 2}, {11, 3}}, 0},
		{"far behind", []NetArm{{100, 1}, {0, 1}}, math.Inf(-1)},
	}
	dst := make([]float64, 8)
	for _, c := range cases {
		hits := make([]int, len(c.arms))
		for range draws {
			if best := SampleNet(c.arms, rng, dst[:len(c.arms)]); dst[best] >= c.floor {
				hits[best]++
			}
		}
		for i := range c.arms {
			got := SelectionProbabilityNet(c.arms, i, c.floor, SelectionTolerance)
			want := float64(hits[i]) / draws
			se := math.Sqrt(max(want*(1-want), 1e-6) / draws)
			if math.Abs(got-want) > 4*se+SelectionTolerance {
				t.Errorf("%s arm %d: quadrature %v, Monte Carlo %v", c.name, i, got, want)
			}
		}
	}
	if p := SelectionProbabilityNet([]NetArm{{1, math.NaN()}}, 0, 0, 0); !math.IsNaN(p) {
		t.Errorf("NaN arm: %v, want NaN", p)
	}
}

// TestCenterWeight: a centred intercept predicts its base rate before any data, in both
// forms (logit(0.01) exactly, with the prior's variance), and a model that has learnt
// refuses it.
func TestCenterWeight(t *testing.T) {
	for _, form := range []Form{Diagonal, Full} {
		m := mustNew(t, Config{Dim: 4, Form: form})
		want := math.Log(0.01 / 0.99)
		if err := m.CenterWeight(0, want); err != nil {
			t.Fatal(err)
		}
		mean, v := m.Predict(Vector{Index: []int32{0}, Value: []float64{1}})
		if !near(mean, want, 1e-12) || !near(v, 1, 1e-12) {
			t.Errorf("%v: intercept N(%v, %v), want N(%v, 1)", form, mean, v, want)
		}
		m.Update(Vector{Index: []int32{0}, Value: []float64{1}}, true, time.Time{})
		if err := m.CenterWeight(0, 0); err == nil {
			t.Errorf("%v: centred a model that has learnt", form)
		}
		if err := m.CenterWeight(4, 0); err == nil {
			t.Errorf("%v: centred weight 4 of 4", form)
		}
	}
}

// TestNoneAbove checks both "nothing reaches the floor" probabilities against Monte
// Carlo of the sampling rules (400,000 rounds, within 4 standard errors plus 1e-3 for
// the Φ table's interpolation).
func TestNoneAbove(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	const draws = 400000
	net := []NetArm{{10, 4}, {12, 1}, {5, 9}}
	arms := []Arm{{Mean: -2, SD: 0.6, Weight: 100}, {Mean: -1, SD: 1.1, Weight: 40}, {Mean: 0, SD: 0.5, Weight: 3}}
	const floor, threshold = 14.0, 20.0
	dst := make([]float64, 3)
	var netHits, armHits int
	for range draws {
		SampleNet(net, rng, dst)
		if max(dst[0], dst[1], dst[2]) < floor {
			netHits++
		}
		Sample(arms, rng, dst)
		if max(dst[0], dst[1], dst[2]) < threshold {
			armHits++
		}
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"net", NoneAboveNet(net, floor), float64(netHits) / draws},
		{"arms", NoneAbove(arms, threshold), float64(armHits) / draws},
	} {
		se := math.Sqrt(c.want * (1 - c.want) / draws)
		if math.Abs(c.got-c.want) > 4*se+1e-3 {
			t.Errorf("%s: %v, Monte Carlo %v", c.name, c.got, c.want)
		}
	}
	if p := NoneAbove(arms, 0); p != 0 {
		t.Errorf("threshold 0: %v, want 0", p)
	}
}
