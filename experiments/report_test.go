package experiments

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestCompareBinaryAgreesWithParts(t *testing.T) {
	// Compare on Binary summaries must agree with the exported pieces it is
	// documented to use: ProportionTest, Newcombe, RelativeLift, Sequence.
	tr, ct := Summary{N: 4000, Sum: 480, SumSq: 480}, Summary{N: 4100, Sum: 410, SumSq: 410}
	c := Compare(tr, ct, Binary, 0.95)
	z, p := ProportionTest(480, 4000, 410, 4100)
	ci := Newcombe(480, 4000, 410, 4100, 0.95)
	vT, vC := 0.12*0.88/4000, 0.1*0.9/4100
	rel, relSE := RelativeLift(0.12, vT, 0.1, vC)
	se := math.Sqrt(vT + vC)
	seq := Sequence{}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"abs lift", c.AbsLift, 0.02},
		{"se", c.SE, se},
		{"z", c.AbsLift / c.SE, z},
		{"p", c.PValue, p},
		{"ci lo", c.AbsCI.Lo, ci.Lo},
		{"ci hi", c.AbsCI.Hi, ci.Hi},
		{"rel", c.RelLift, rel},
		{"rel ci lo", c.RelCI.Lo, rel - z975*relSE},
		{"chance", c.ChanceToBeat, ChanceToBeat(0.02, se)},
		{"loss", c.ExpectedLoss, ExpectedLoss(0.02, se)},
		{"seq lo", c.SeqCI.Lo, 0.02 - seq.HalfWidth(se, 8100)},
		{"seq p", c.SeqPValue, seq.PValue(0.02, se, 8100)},
	}
	for _, ck := range checks {
		if math.Abs(ck.got-ck.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if !math.IsInf(c.DF, 1) || c.Significant != (p < 0.05) || c.SeqSignificant != c.SeqCI.Excludes(0) {
		t.Errorf("df %v, significant %v, seq significant %v: inconsistent", c.DF, c.Significant, c.SeqSignificant)
	}
}

func TestCompareMeanAgreesWithWelch(t *testing.T) {
	a := summaryOf([]float64{12, 15, 9, 22, 14, 13, 30, 11})
	b := summaryOf([]float64{10, 11, 9, 12, 8, 13, 10})
	for _, kind := range []Kind{Mean, Count, NPS} {
		c := Compare(a, b, kind, 0.9)
		w := Welch(a, b, 0.9)
		if c.AbsLift != w.Diff || c.SE != w.SE || c.DF != w.DF || c.PValue != w.PValue || c.AbsCI != w.CI {
			t.Errorf("%s: Compare %+v disagrees with Welch %+v", kind, c, w)
		}
	}
}

func TestCompareEdgeCases(t *testing.T) {
	nan := math.NaN()
	empty := Summary{}
	tests := []struct {
		name       string
		t, c       Summary
		kind       Kind
		lower      bool
		p, chance  float64
		rel        float64
		absCIWidth float64 // −1: not checked
	}{
		{"empty treatment", empty, Summary{N: 10, Sum: 5, SumSq: 5}, Binary, false, nan, nan, nan, -1},
		{"one value per arm", Summary{N: 1, Sum: 3, SumSq: 9}, Summary{N: 1, Sum: 2, SumSq: 4}, Mean, false, nan, nan, nan, -1},
		{"successes above n", Summary{N: 3, Sum: 5, SumSq: 5}, Summary{N: 3, Sum: 1, SumSq: 1}, Binary, false, nan, nan, nan, -1},
		// Both 0/100: SE is 0, the difference is exactly 0, and Newcombe's
		// interval still has width (it is the point of the score method).
		{"both zero rates", Summary{N: 100}, Summary{N: 100}, Binary, false, 1, 0.5, nan, 2 * 0.036994},
		// Control mean 0: the relative lift is undefined, the rest is fine.
		{"zero control mean", summaryOf([]float64{1, -1, 2}), summaryOf([]float64{1, -1, 0}), Mean, false, -2, -2, nan, -1},
		// Lower is better: a higher treatment churn has a chance below ½.
		{"churn up", Summary{N: 1000, Sum: 150, SumSq: 150}, Summary{N: 1000, Sum: 100, SumSq: 100}, Binary, true, -2, -2, 0.5, -1},
	}
	for _, tt := range tests {
		c := CompareWith(tt.t, tt.c, CompareOptions{Kind: tt.kind, LowerIsBetter: tt.lower})
		same := func(got, want float64) bool {
			if want == -2 { // not checked
				return true
			}
			return (math.IsNaN(want) && math.IsNaN(got)) || math.Abs(got-want) < 1e-6
		}
		if !same(c.PValue, tt.p) || !same(c.ChanceToBeat, tt.chance) || !same(c.RelLift, tt.rel) {
			t.Errorf("%s: p %v chance %v rel %v; want %v %v %v", tt.name, c.PValue, c.ChanceToBeat, c.RelLift, tt.p, tt.chance, tt.rel)
		}
		if tt.absCIWidth >= 0 && math.Abs(c.AbsCI.Hi-c.AbsCI.Lo-tt.absCIWidth) > 1e-5 {
			t.Errorf("%s: CI %+v, want width %v", tt.name, c.AbsCI, tt.absCIWidth)
		}
		if math.IsNaN(c.PValue) && (c.Significant || c.SeqSignificant) {
			t.Errorf("%s: undefined p-value but significant", tt.name)
		}
	}
	// 0/100 Wilson upper bound, by hand: z²/(n + z²) = 3.841459/103.841459
	// = 0.036994; the Newcombe width above is twice that.
	if w := Wilson(0, 100, 0.95); math.Abs(w.Hi-0.036994) > 1e-6 {
		t.Errorf("Wilson(0, 100) = %+v", w)
	}
	churn := CompareWith(Summary{N: 1000, Sum: 150, SumSq: 150}, Summary{N: 1000, Sum: 100, SumSq: 100}, CompareOptions{Kind: Binary, LowerIsBetter: true})
	if churn.ChanceToBeat > 0.01 || churn.ExpectedLoss < 0.04 {
		t.Errorf("churn up 10%%→15%%: chance %v, loss %v; want near 0 and near 0.05", churn.ChanceToBeat, churn.ExpectedLoss)
	}
}

func TestComparePanicsOnProgrammerError(t *testing.T) {
	for _, f := range []func(){
		func() { Compare(Summary{N: 2}, Summary{N: 2}, Kind(0), 0.95) },
		func() { Compare(Summary{N: 2}, Summary{N: 2}, Mean, 1.5) },
		func() { CompareWith(Summary{N: 2}, Summary{N: 2}, CompareOptions{Kind: Mean, Tuning: -1}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

func TestSummaryMerge(t *testing.T) {
	// Daily summaries merge into the summary of all days.
	days := [][]float64{{1, 2, 3}, {10}, {}, {4, 4, 5, 6}}
	var all []float64
	var merged Summary
	for _, d := range days {
		merged = merged.Merge(summaryOf(d))
		all = append(all, d...)
	}
	if merged != summaryOf(all) {
		t.Errorf("merged %+v, direct %+v", merged, summaryOf(all))
	}
	// Sample variance of 1, 2, 3, 10, 4, 4, 5, 6 by hand: mean 35/8 = 4.375,
	// Σy² = 207, Σ(y − ȳ)² = 207 − 35²/8 = 53.875, /7 = 7.696428571.
	if v := merged.Variance(); math.Abs(v-53.875/7) > 1e-12 {
		t.Errorf("variance %v, want %v", v, 53.875/7)
	}
	if !math.IsNaN((Summary{N: 1, Sum: 1, SumSq: 1}).Variance()) || !math.IsNaN((Summary{}).Mean()) {
		t.Error("undefined mean or variance is not NaN")
	}
}

func TestJSON(t *testing.T) {
	s := Summary{N: 3, Sum: 2, SumSq: 2}
	b, err := json.Marshal(s)
	if err != nil || string(b) != `{"n":3,"sum":2,"sum_sq":2}` {
		t.Errorf("Summary JSON %s, %v", b, err)
	}
	// A comparison with undefined fields still encodes: NaN and +Inf become
	// null, and come back as NaN.
	c := Compare(Summary{N: 1000, Sum: 120, SumSq: 120}, Summary{N: 1000, Sum: 0}, Binary, 0.95)
	if !math.IsNaN(c.RelLift) || !math.IsInf(c.DF, 1) {
		t.Fatalf("setup: rel %v df %v", c.RelLift, c.DF)
	}
	b, err = json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`"kind":"binary"`, `"rel_lift":null`, `"df":null`, `"abs_ci":{"lo":`, `"significant":true`} {
		if !strings.Contains(string(b), frag) {
			t.Errorf("JSON %s lacks %s", b, frag)
		}
	}
	var back Comparison
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.AbsLift != c.AbsLift || back.AbsCI != c.AbsCI || back.PValue != c.PValue || !math.IsNaN(back.RelLift) || !math.IsNaN(back.DF) || back.Kind != Binary {
		t.Errorf("round trip: %+v, want %+v", back, c)
	}
	var k Kind
	if err := json.Unmarshal([]byte(`"ratio"`), &k); err == nil {
		t.Error("unknown kind decoded without error")
	}
}

func BenchmarkCompare(b *testing.B) {
	tr, ct := Summary{N: 40000, Sum: 4800, SumSq: 4800}, Summary{N: 41000, Sum: 4100, SumSq: 4100}
	mt, mc := Summary{N: 40000, Sum: 9.4e5, SumSq: 3.1e7}, Summary{N: 41000, Sum: 9.1e5, SumSq: 3.0e7}
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Compare(tr, ct, Binary, 0.95)
		}
	})
	b.Run("mean", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Compare(mt, mc, Mean, 0.95)
		}
	})
}
