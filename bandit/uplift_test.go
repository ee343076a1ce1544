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

// TestEffectArmMoments checks the sampler of an effect term against an independent
// computation of E[Money·(σ(z₀+δ) − σ(z₀))] by two-dimensional Gauss-Hermite-free
// quadrature (gonum's Legendre rule on ±8 standard deviations, with z₀ and δ built
// from independent normals by the Cholesky factor of their covariance). Over N =
// 400000 draws the sample mean must be within 5 standard errors.
func TestEffectArmMoments(t *testing.T) {
	u := Uplift{Base: -1.2, BaseVar: 0.5, Effect: -0.7, EffectVar: 0.3, Cov: -0.15}
	const alpha, money = 0.8, -250.0
	ea := NewEffectArm(u, alpha, money)

	// Reference: the bivariate normal of (z0, d) with the α-scaled covariance.
	v0, v1, c := alpha*alpha*u.BaseVar, alpha*alpha*u.EffectVar, alpha*alpha*u.Cov
	l11 := math.Sqrt(v0)
	l21 := c / l11
	l22 := math.Sqrt(v1 - l21*l21)
	phi := distuv.UnitNormal
	inner := func(n1 float64) float64 {
		return quad.Fixed(func(n2 float64) float64 {
			z0 := u.Base + l11*n1
			dd := u.Effect + l21*n1 + l22*n2
			return phi.Prob(n2) * money * (refSigmoid(z0+dd) - refSigmoid(z0))
		}, -8, 8, 200, quad.Legendre{}, 0)
	}
	want := quad.Fixed(func(n1 float64) float64 { return phi.Prob(n1) * inner(n1) }, -8, 8, 200, quad.Legendre{}, 0)

	rng := rand.New(rand.NewPCG(11, 12))
	const n = 400000
	var sum, sumSq float64
	for range n {
		s := ea.sample(rng)
		sum += s
		sumSq += s * s
	}
	mean := sum / n
	se := math.Sqrt((sumSq/n - mean*mean) / n)
	if math.Abs(mean-want) > 5*se {
		t.Fatalf("sampled mean effect %v, quadrature %v (se %v)", mean, want, se)
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

// TestSelectionProbabilityNet checks the Monte Carlo selection probability of net
// arms against two independent computations: (1) arms with no effect terms and no
// offset are plain Arms, so it must agree with SelectionProbabilityQuad within 4
// standard errors plus the quadrature's tolerance; (2) a deterministic arm worth c
// against an arm with one effect term wins with probability P(Money·τ < c), computed
// by two-dimensional quadrature.
func TestSelectionProbabilityNet(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	const draws = 200000
	plain := []Arm{
		{Mean: -1, SD: 0.6, Weight: 100},
		{Mean: -2, SD: 1.1, Weight: 240},
		{Mean: 0.3, SD: 0.2, Weight: 30},
	}
	net := make([]NetArm, len(plain))
	for i, a := range plain {
		net[i] = NetArm{Arm: a}
	}
	for i := range plain {
		want := SelectionProbabilityQuad(plain, i, SelectionTolerance)
		got := SelectionProbabilityNet(net, i, draws, math.Inf(-1), rng)
		se := math.Sqrt(want * (1 - want) / draws)
		if math.Abs(got-want) > 4*se+SelectionTolerance {
			t.Errorf("plain arm %d: %v, quadrature %v", i, got, want)
		}
	}

	u := Uplift{Base: 0.5, BaseVar: 0.4, Effect: -1.5, EffectVar: 0.5}
	ea := NewEffectArm(u, 1, -200) // diagonal: ρ = 0
	const c = 40.0
	arms := []NetArm{{Arm: Arm{Weight: 0}, Offset: c}, {Effects: []EffectArm{ea}}}
	phi := distuv.UnitNormal
	// P(arm 0 wins) = P(−200·(σ(z0+δ) − σ(z0)) < c).
	inner := func(n1 float64) float64 {
		return quad.Fixed(func(n2 float64) float64 {
			z0 := u.Base + math.Sqrt(u.BaseVar)*n1
			dd := u.Effect + math.Sqrt(u.EffectVar)*n2
			if -200*(refSigmoid(z0+dd)-refSigmoid(z0)) < c {
				return phi.Prob(n2)
			}
			return 0
		}, -8, 8, 2000, quad.Legendre{}, 0)
	}
	want := quad.Fixed(func(n1 float64) float64 { return phi.Prob(n1) * inner(n1) }, -8, 8, 400, quad.Legendre{}, 0)
	got := SelectionProbabilityNet(arms, 0, draws, math.Inf(-1), rng)
	se := math.Sqrt(want * (1 - want) / draws)
	if math.Abs(got-want) > 4*se+2e-3 { // 2e-3: the step integrand's quadrature error
		t.Errorf("deterministic arm against an effect arm: %v, quadrature %v", got, want)
	}
	// With the floor above c, arm 0 never counts.
	if p := SelectionProbabilityNet(arms, 0, 1000, c+1, rng); p != 0 {
		t.Errorf("floor above the arm's value: %v, want 0", p)
	}
}
