package offpolicy

import (
	"math"
	"testing"
)

// handRecords is a four-record log whose estimates are worked out by hand
// in TestHandExample. Weights w = e/p are 2, 2, 0 and 0.25.
var handRecords = []Record{
	{Reward: 1, Logging: 0.5, Target: 1, Model: 0.6, ModelTarget: 0.6},
	{Reward: 0, Logging: 0.25, Target: 0.5, Model: 0.2, ModelTarget: 0.4},
	{Reward: 1, Logging: 0.5, Target: 0, Model: 0.5, ModelTarget: 0.3},
	{Reward: 0, Logging: 0.8, Target: 0.2, Model: 0.1, ModelTarget: 0.5},
}

// z975 is Φ⁻¹(0.975), the two-sided 95% normal quantile, to 16 digits
// (NIST/SEMATECH e-Handbook, table of the normal distribution; R qnorm(0.975)).
const z975 = 1.959963984540054

func TestHandExample(t *testing.T) {
	s, err := NewSummary(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range handRecords {
		if err := s.Add(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	rep := s.Report()
	// By hand:
	//  observed: (1 + 0 + 1 + 0)/4 = 0.5.
	//  replay:   Σ e r / Σ e = (1·1)/(1 + 0.5 + 0 + 0.2) = 1/1.7.
	//  IPS:      w r = 2, 0, 0, 0; mean 0.5; s² = (1.5² + 3·0.5²)/3 = 1, SE = 1/2.
	//  SNIPS:    Σ w r / Σ w = 2/4.25 = 8/17.
	//  DM:       q̂π = 0.6, 0.4, 0.3, 0.5; mean 0.45; s² = 0.05/3, SE = sqrt(0.05/12).
	//  DR:       q̂π + w(r − q̂) = 0.6+0.8, 0.4−0.4, 0.3+0, 0.5−0.025
	//            = 1.4, 0, 0.3, 0.475; mean 2.175/4 = 0.54375.
	// Delta-method SEs of the ratios, from the residuals y − R x (which sum to
	// 0, so Σ(y − R x)² is the centred form), divided by n − 1 = 3 and by n x̄²:
	//  SNIPS: R = 8/17, y − R x = 18/17, −16/17, 0, −2/17: Σ² = 584/289;
	//         x̄ = 4.25/4 = 1.0625.
	//  replay: R = 10/17, y − R e = 7/17, −5/17, 0, −2/17: Σ² = 78/289;
	//         ē = 1.7/4 = 0.425.
	want := map[Method]struct{ v, se float64 }{
		MethodObserved: {0.5, math.Sqrt(1.0 / 3 / 4)}, // r: s² = 4·0.25/3
		MethodReplay:   {1 / 1.7, math.Sqrt(78.0 / 289 / 3 / (4 * 0.425 * 0.425))},
		MethodIPS:      {0.5, 0.5},
		MethodSNIPS:    {8.0 / 17, math.Sqrt(584.0 / 289 / 3 / (4 * 1.0625 * 1.0625))},
		MethodDM:       {0.45, math.Sqrt(0.05 / 12)},
		MethodDR:       {0.54375, math.Sqrt(((1.4-0.54375)*(1.4-0.54375) + 0.54375*0.54375 + (0.3-0.54375)*(0.3-0.54375) + (0.475-0.54375)*(0.475-0.54375)) / 3 / 4)},
	}
	for m, w := range want {
		e, ok := rep.Estimate(m)
		if !ok {
			t.Fatalf("no %s estimate", m)
		}
		checkClose(t, string(m)+" value", e.Value, w.v, 1e-12)
		checkClose(t, string(m)+" SE", e.SE, w.se, 1e-12)
		checkClose(t, string(m)+" normal lo", e.Normal.Lo, w.v-z975*w.se, 1e-12)
		checkClose(t, string(m)+" normal hi", e.Normal.Hi, w.v+z975*w.se, 1e-12)
		if e.N != 4 {
			t.Errorf("%s N = %d", m, e.N)
		}
	}

	// Switch-DR by hand at each τ: the correction w(r − q̂) = 0.8, −0.4, 0,
	// −0.025 is kept where w ≤ τ. τ = 0: only w = 0, so DM (0.45); τ = 1:
	// records 3 and 4, (0.6+0.4+0.3+0.475)/4 = 0.44375; τ ≥ 4: all, so DR.
	sg := rep.SwitchGrid
	for g, p := range sg {
		want := 0.54375
		switch p.Param {
		case 0:
			want = 0.45
		case 1:
			want = 0.44375
		}
		checkClose(t, "switch value", p.Value, want, 1e-12)
		if p.Param != switchGrid[g] {
			t.Errorf("switch grid %d param %v", g, p.Param)
		}
	}
	// DRos by hand: λ = 1: ŵ(2) = 2/5 = 0.4, ŵ(0.25) = 0.25/1.0625 = 4/17;
	// terms 0.6+0.4·0.4, 0.4−0.4·0.2, 0.3, 0.5−(4/17)·0.1, so
	// (0.76 + 0.32 + 0.3 + 0.5 − 0.4/17)/4.
	// λ = 16: ŵ(2) = 32/20 = 1.6, ŵ(0.25) = 4/16.0625; terms 1.24, 0.08, 0.3,
	// 0.5 − 0.4/16.0625.
	for _, p := range rep.ShrinkageGrid {
		var want float64
		switch p.Param {
		case 0:
			want = 0.45
		case 1:
			want = (0.76 + 0.32 + 0.3 + 0.5 - 0.4/17) / 4
		case 16:
			want = (1.24 + 0.08 + 0.3 + 0.5 - 0.4/16.0625) / 4
		default:
			continue
		}
		checkClose(t, "DRos value", p.Value, want, 1e-12)
	}
	last := rep.ShrinkageGrid[GridSize-1]
	if !math.IsInf(last.Param, 1) || !near(last.Value, 0.54375, 1e-12) {
		t.Errorf("DRos at λ = ∞: %+v, want DR 0.54375", last)
	}

	// Diagnostics: Σw = 4.25, Σw² = 4 + 4 + 0 + 0.0625 = 8.0625,
	// ESS = 4.25²/8.0625; the largest weight 2 is 2/4.25 of Σw; the top list
	// holds all four, ordered by weight then w·r: (2,1), (2,0), (0.25,0), (0,1).
	d := rep.Weights
	checkClose(t, "ESS", d.ESS, 4.25*4.25/8.0625, 1e-12)
	checkClose(t, "ESS fraction", d.ESSFraction, 4.25*4.25/8.0625/4, 1e-12)
	checkClose(t, "max share", d.MaxShare, 2/4.25, 1e-12)
	checkClose(t, "top share", d.TopShare, 1, 1e-12)
	checkClose(t, "top estimate share", d.TopEstimateShare, 1, 1e-12)
	checkClose(t, "mean weight", d.MeanWeight, 1.0625, 1e-12)
	// s² of w: deviations 0.9375, 0.9375, −1.0625, −0.8125; Σ² = 3.546875.
	checkClose(t, "mean weight SE", d.MeanWeightSE, math.Sqrt(3.546875/3/4), 1e-12)
	wantTop := []Top{{2, 1}, {2, 0}, {0.25, 0}, {0, 1}}
	if len(d.Top) != len(wantTop) {
		t.Fatalf("top %v, want %v", d.Top, wantTop)
	}
	for i := range wantTop {
		if d.Top[i] != wantTop[i] {
			t.Errorf("top %v, want %v", d.Top, wantTop)
			break
		}
	}
	// ESS 2.24 < 100 and a 47% weight share > 10%; the ESS is 56% of n and
	// the mean weight is 0.11 SE from 1, so those two rules stay quiet.
	kinds := map[WarningKind]bool{}
	for _, w := range rep.Warnings {
		kinds[w.Kind] = true
		if w.Message == "" {
			t.Errorf("%s: empty message", w.Kind)
		}
	}
	if len(kinds) != 2 || !kinds[WarnLowESS] || !kinds[WarnDominantWeight] {
		t.Errorf("warnings %+v, want low-ess and dominant-weight", rep.Warnings)
	}
}

func TestBernsteinFormula(t *testing.T) {
	// Maurer & Pontil (2009), Theorem 4, two-sided at α = 0.05: ln(4/α) =
	// ln 80 = 4.382026634673881 (typed in). For mean 0.3, s² = 0.04, n = 1000
	// on [0, 1]: h = sqrt(2·0.04·ln80/1000) + 7·ln80/(3·999).
	ln80 := 4.382026634673881
	h := math.Sqrt(2*0.04*ln80/1000) + 7*ln80/(3*999)
	got := bernstein(0.3, 0.04, 1000, 0, 1, 0.95)
	checkClose(t, "lo", got.Lo, 0.3-h, 1e-12)
	checkClose(t, "hi", got.Hi, 0.3+h, 1e-12)
	// The range scales the second term: on [0, 4] with s² 16·0.04 (the same
	// variables times 4) the interval is 4 times as wide.
	got4 := bernstein(1.2, 0.64, 1000, 0, 4, 0.95)
	checkClose(t, "scaled width", got4.Width(), 4*got.Width(), 1e-12)
	// Clipped to the range, and undefined below n = 2.
	if c := bernstein(0.01, 0.01, 10, 0, 1, 0.95); c.Lo != 0 {
		t.Errorf("not clipped at 0: %+v", c)
	}
	if bernstein(0.5, math.NaN(), 1, 0, 1, 0.95).Valid() {
		t.Error("interval for n = 1")
	}
}

func TestValidate(t *testing.T) {
	good := Record{Reward: 1, Logging: 0.5, Target: 1}
	tests := []struct {
		name string
		mod  func(*Record)
		ok   bool
	}{
		{"good", func(*Record) {}, true},
		{"logging 1", func(r *Record) { r.Logging = 1 }, true},
		{"target 0", func(r *Record) { r.Target = 0 }, true},
		{"logging 0 (logged before probabilities)", func(r *Record) { r.Logging = 0 }, false},
		{"logging above 1", func(r *Record) { r.Logging = 1.5 }, false},
		{"logging NaN", func(r *Record) { r.Logging = math.NaN() }, false},
		{"target negative", func(r *Record) { r.Target = -0.1 }, false},
		{"target NaN", func(r *Record) { r.Target = math.NaN() }, false},
		{"reward Inf", func(r *Record) { r.Reward = math.Inf(1) }, false},
		{"model NaN", func(r *Record) { r.Model = math.NaN() }, false},
		{"model target Inf", func(r *Record) { r.ModelTarget = math.Inf(-1) }, false},
	}
	s, _ := NewSummary(Config{})
	for _, tt := range tests {
		r := good
		tt.mod(&r)
		err := s.Add(r, nil)
		if (err == nil) != tt.ok {
			t.Errorf("%s: error %v", tt.name, err)
		}
	}
	// Only the three good records were added.
	if s.N() != 3 {
		t.Errorf("N = %d, want 3", s.N())
	}
}

func TestEmpty(t *testing.T) {
	s, _ := NewSummary(Config{Bootstrap: 10, Bounds: Bounds{0, 1, 10}})
	rep := s.Report()
	if rep.N != 0 || len(rep.Estimates) != len(Methods) {
		t.Fatalf("report %+v", rep)
	}
	for _, e := range rep.Estimates {
		if !math.IsNaN(e.Value) || e.Normal.Valid() || e.Bootstrap.Valid() || e.Bernstein.Valid() {
			t.Errorf("%s on no records: %+v", e.Method, e)
		}
	}
	if len(rep.Warnings) != 1 || rep.Warnings[0].Kind != WarnNoRecords {
		t.Errorf("warnings %+v, want no-records", rep.Warnings)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Level: 1},
		{Level: -0.5},
		{Bootstrap: -1},
		{TopK: -1},
		{Bounds: Bounds{RewardMin: 1, RewardMax: 0, MaxWeight: 5}},
		{Bounds: Bounds{RewardMin: 0, RewardMax: 1}},
		{Bounds: Bounds{RewardMin: 0, RewardMax: math.Inf(1), MaxWeight: 5}},
	} {
		if _, err := NewSummary(c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	a, _ := NewSummary(Config{Bootstrap: 10})
	b, _ := NewSummary(Config{Bootstrap: 20})
	if err := a.Merge(b); err == nil {
		t.Error("merged summaries with different replicates")
	}
}

func TestSwitchBoundary(t *testing.T) {
	// Wang, Agarwal & Dudík (2017) keep the correction where w ≤ τ: a weight
	// of exactly 4 is corrected at τ = 4 and not at τ = 1. One record with
	// w = 1/0.25 = 4, r − q̂ = 1 − 0.5, q̂π = 0.2: DM = 0.2, DR = 0.2 + 4·0.5.
	var s SwitchDR
	s.Add(Record{Reward: 1, Logging: 0.25, Target: 1, Model: 0.5, ModelTarget: 0.2})
	for _, p := range s.Grid() {
		want := 2.2
		if p.Param < 4 {
			want = 0.2
		}
		checkClose(t, "switch at τ", p.Value, want, 1e-15)
	}
}
