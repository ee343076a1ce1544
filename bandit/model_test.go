package bandit

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Dim: 8}.WithDefaults()
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr bool
	}{
		{"defaults", func(*Config) {}, false},
		{"full", func(c *Config) { c.Form = Full }, false},
		{"dim zero", func(c *Config) { c.Dim = 0 }, true},
		{"dim too big", func(c *Config) { c.Dim = MaxDim + 1 }, true},
		{"full dim too big", func(c *Config) { c.Form = Full; c.Dim = MaxFullDim + 1 }, true},
		{"form unknown", func(c *Config) { c.Form = 3 }, true},
		{"prior mean NaN", func(c *Config) { c.PriorMean = math.NaN() }, true},
		{"prior precision zero", func(c *Config) { c.PriorPrecision = 0 }, true},
		{"prior precision negative", func(c *Config) { c.PriorPrecision = -1 }, true},
		{"prior precision Inf", func(c *Config) { c.PriorPrecision = math.Inf(1) }, true},
		{"half-life negative", func(c *Config) { c.HalfLife = -1 }, true},
		{"half-life NaN", func(c *Config) { c.HalfLife = math.NaN() }, true},
		{"half-life seconds", func(c *Config) { c.HalfLife = 60; c.HalfLifeUnit = Seconds }, false},
		{"half-life stream events", func(c *Config) { c.HalfLife = 500; c.HalfLifeUnit = StreamEvents }, false},
		{"unit unknown", func(c *Config) { c.HalfLifeUnit = 7 }, true},
		{"window zero", func(c *Config) { c.Window = 0 }, true},
		{"window too big", func(c *Config) { c.Window = MaxWindow + 1 }, true},
		{"newton steps zero", func(c *Config) { c.NewtonSteps = 0 }, true},
		{"value shape zero", func(c *Config) { c.ValueShape = 0 }, true},
		{"value scale negative", func(c *Config) { c.ValueScale = -2 }, true},
	}
	for _, tc := range tests {
		c := ok
		tc.mutate(&c)
		err := c.Validate()
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tc.name, err, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v does not wrap ErrInvalidConfig", tc.name, err)
		}
	}
	if _, err := New(Config{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New(Config{}) err = %v, want ErrInvalidConfig (Dim is required)", err)
	}
	m := mustNew(t, Config{Dim: 3})
	want := Config{Dim: 3, Form: Diagonal, PriorPrecision: 1, HalfLifeUnit: Events, ValueShape: 2, ValueScale: 1, Window: 1000, NewtonSteps: DefaultNewtonSteps}
	if got := m.Config(); got != want {
		t.Errorf("Config() = %+v, want %+v", got, want)
	}
}

func TestParseFormUnit(t *testing.T) {
	forms := []struct {
		in   string
		want Form
		err  bool
	}{
		{"diagonal", Diagonal, false}, {"diag", Diagonal, false}, {"Full", Full, false},
		{" full ", Full, false}, {"dense", 0, true}, {"", 0, true},
	}
	for _, tc := range forms {
		got, err := ParseForm(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseForm(%q) = %v, %v", tc.in, got, err)
		}
		if err == nil {
			if back, _ := ParseForm(got.String()); back != got {
				t.Errorf("String/ParseForm round trip of %v gave %v", got, back)
			}
		}
	}
	for _, tc := range []struct {
		in   string
		want Unit
	}{
		{"events", Events}, {"seconds", Seconds}, {"Seconds", Seconds},
		{"stream-events", StreamEvents}, {"stream_events", StreamEvents}, {"Stream", StreamEvents},
	} {
		got, err := ParseUnit(tc.in)
		if got != tc.want || err != nil {
			t.Errorf("ParseUnit(%q) = %v, %v", tc.in, got, err)
			continue
		}
		b, err := got.MarshalText()
		if back, _ := ParseUnit(string(b)); err != nil || back != got {
			t.Errorf("MarshalText/ParseUnit round trip of %v gave %q, %v", got, b, err)
		}
	}
	if _, err := ParseUnit("hours"); err == nil {
		t.Error("ParseUnit(hours) accepted")
	}
	var f Form
	if err := f.UnmarshalText([]byte("full")); err != nil || f != Full {
		t.Errorf("UnmarshalText(full) = %v, %v", f, err)
	}
	if b, err := Diagonal.MarshalText(); err != nil || string(b) != "diagonal" {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
}

func TestWarmStart(t *testing.T) {
	const d, scale = 4, 0.25
	for _, tc := range []struct{ from, to Form }{
		{Diagonal, Diagonal}, {Full, Full}, {Full, Diagonal}, {Diagonal, Full},
	} {
		src := trainedModels(t, 1, d, tc.from, 30, 5)[0]
		dst := mustNew(t, Config{Dim: d, Form: tc.to})
		dst.Update(Vector{Index: []int32{0}, Value: []float64{1}}, true, time.Time{})
		if err := dst.WarmStart(src, scale); err != nil {
			t.Fatal(err)
		}
		Psrc, Pdst := modelPrecision(&src.w), modelPrecision(&dst.w)
		for a := range d {
			if dst.w.mean[a] != src.w.mean[a] {
				t.Errorf("%v→%v: mean[%d] = %v, want %v", tc.from, tc.to, a, dst.w.mean[a], src.w.mean[a])
			}
			for b := range d {
				want := scale * Psrc.At(a, b)
				if tc.to == Diagonal && a != b {
					want = 0 // Full → Diagonal keeps the diagonal
				}
				if !near(Pdst.At(a, b), want, 1e-12) {
					t.Errorf("%v→%v: P[%d,%d] = %v, want %v", tc.from, tc.to, a, b, Pdst.At(a, b), want)
				}
			}
		}
		if h := dst.Health(); h.Responses != 0 || h.AUCWindow != 0 || h.Evidence != 0 {
			t.Errorf("%v→%v: counters not reset: %+v", tc.from, tc.to, h)
		}
	}
	m := mustNew(t, Config{Dim: 2})
	for _, tc := range []struct {
		name  string
		src   *Model
		scale float64
		want  error
	}{
		{"nil", nil, 1, ErrInvalidArgument},
		{"self", m, 1, ErrInvalidArgument},
		{"scale 0", mustNew(t, Config{Dim: 2}), 0, ErrInvalidArgument},
		{"scale > 1", mustNew(t, Config{Dim: 2}), 1.5, ErrInvalidArgument},
		{"dim", mustNew(t, Config{Dim: 3}), 1, ErrDimMismatch},
	} {
		if err := m.WarmStart(tc.src, tc.scale); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestWarmStartValue(t *testing.T) {
	const scale = 0.5
	src := mustNew(t, Config{Dim: 3, Form: Full, Value: true})
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10 {
		src.UpdateValue(randVector(rng, 3, 1), rng.NormFloat64())
	}
	dst := mustNew(t, Config{Dim: 3, Form: Full, Value: true, ValueShape: 4, ValueScale: 3})
	if err := dst.WarmStart(src, scale); err != nil {
		t.Fatal(err)
	}
	// a = a₀ + scale(a_src − a₀,src): the source gained 10/2 = 5 over its a₀ = 2.
	if want := 4 + scale*5; !near(dst.value.a, want, 1e-12) {
		t.Errorf("a = %v, want %v", dst.value.a, want)
	}
	if want := 3 + scale*(src.value.b-1); !near(dst.value.b, want, 1e-12) {
		t.Errorf("b = %v, want %v", dst.value.b, want)
	}
	Ps, Pd := modelPrecision(&src.value.w), modelPrecision(&dst.value.w)
	for a := range 3 {
		for b := range 3 {
			if !near(Pd.At(a, b), scale*Ps.At(a, b), 1e-12) {
				t.Errorf("Lambda[%d,%d] = %v, want %v", a, b, Pd.At(a, b), scale*Ps.At(a, b))
			}
		}
	}
}

func TestCloneIsDeep(t *testing.T) {
	for _, form := range []Form{Diagonal, Full} {
		m := trainedModels(t, 1, 4, form, 20, 9)[0]
		c := m.Clone()
		before, _ := m.MarshalBinary()
		cb, _ := c.MarshalBinary()
		if !bytes.Equal(before, cb) {
			t.Fatalf("%v: clone encodes differently", form)
		}
		c.Update(Vector{Index: []int32{0, 1}, Value: []float64{1, 2}}, true, time.Time{})
		after, _ := m.MarshalBinary()
		if !bytes.Equal(before, after) {
			t.Errorf("%v: updating the clone changed the original", form)
		}
	}
}

func TestExplainAndWeights(t *testing.T) {
	m := mustNew(t, Config{Dim: 5})
	copy(m.w.mean, []float64{0.5, -2, 0, 1, 3})
	x := Vector{Index: []int32{0, 1, 3, 4}, Value: []float64{1, 1, -4, 0.5}}
	// Contributions: 0.5, −2, −4, 1.5 → sorted by |value|: idx 3, 1, 4, 0.
	got := m.Explain(x, make([]Contribution, 0, 8))
	want := []Contribution{{3, -4}, {1, -2}, {4, 1.5}, {0, 0.5}}
	if len(got) != len(want) {
		t.Fatalf("Explain = %v, want %v", got, want)
	}
	var sum float64
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Explain[%d] = %v, want %v", i, got[i], want[i])
		}
		sum += got[i].Value
	}
	if mu, _ := m.Predict(x); !near(sum, mu, 1e-12) {
		t.Errorf("contributions sum to %v, Predict mean %v", sum, mu)
	}
	buf := make([]Contribution, 0, 8)
	if n := testing.AllocsPerRun(50, func() { buf = m.Explain(x, buf) }); n != 0 {
		t.Errorf("Explain allocates %v times", n)
	}

	// Weights: sd = 1/√q for Diagonal, √diag(P⁻¹) for Full (checked against
	// the covariance inverse used in TestPrepareMatchesPosterior).
	for _, form := range []Form{Diagonal, Full} {
		mm := trainedModels(t, 1, 4, form, 25, 6)[0]
		mean, sd := make([]float64, 4), make([]float64, 4)
		mm.Weights(mean, sd)
		for i := range 4 {
			e := Vector{Index: []int32{int32(i)}, Value: []float64{1}}
			mu, v := mm.Predict(e) // eᵢᵀm and eᵢᵀSeᵢ = S_ii
			if !near(mean[i], mu, 1e-12) || !near(sd[i], math.Sqrt(v), 1e-12) {
				t.Errorf("%v: weight %d = %v ± %v, want %v ± %v", form, i, mean[i], sd[i], mu, math.Sqrt(v))
			}
		}
	}
}

// TestConcurrentSelectAndUpdate runs selections, predictions, health and
// encoding against models that another goroutine keeps updating. It
// asserts nothing beyond sane outputs; its value is under -race.
func TestConcurrentSelectAndUpdate(t *testing.T) {
	const d, readers = 8, 4
	iters := 400
	if testing.Short() {
		iters = 100
	}
	models := append(trainedModels(t, 3, d, Diagonal, 5, 1), trainedModels(t, 3, d, Full, 5, 2)...)
	for _, m := range models {
		m.cfg.Value = true
		m.value = newValueModel(m.cfg)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // the single writer
		defer wg.Done()
		rng := rand.New(rand.NewPCG(100, 1))
		t0 := time.Unix(1_700_000_000, 0)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			m := models[i%len(models)]
			x := randVector(rng, d, 0.8)
			m.Update(x, rng.Float64() < 0.3, t0.Add(time.Duration(i)*time.Second))
			m.UpdateValue(x, rng.Float64())
			if i%50 == 0 {
				_ = m.UpdateBatch([]Vector{x, x}, []bool{true, false}, time.Time{})
				other := models[(i+1)%len(models)]
				_ = other.WarmStart(models[(i+2)%len(models)], 0.9)
			}
		}
	}()
	errs := make(chan string, readers)
	var rwg sync.WaitGroup
	for r := range readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 2))
			arms := make([]Arm, 0, len(models))
			dst := make([]float64, len(models))
			for range iters {
				x := randVector(rng, d, 0.8)
				a := Select(models, x, 0.5, nil, rng, arms, dst)
				if a < 0 || a >= len(models) {
					errs <- "Select returned an out-of-range index"
					return
				}
				p := models[a].Propensity(x)
				if !(p >= 0 && p <= 1) {
					errs <- "propensity outside [0, 1]"
					return
				}
				models[a].PredictValue(x)
				models[a].Explain(x, nil)
				_ = SelectionProbability(Prepare(models, x, 0.5, nil, arms), a, 10, rng)
				if rng.IntN(20) == 0 {
					models[a].Health()
					if _, err := models[a].MarshalBinary(); err != nil {
						errs <- err.Error()
						return
					}
				}
			}
		}()
	}
	rwg.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
