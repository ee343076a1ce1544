package experiments

import (
	"errors"
	"math"
	"testing"
)

func TestSRMTwoArmsAsZ(t *testing.T) {
	// With two arms, Pearson's χ² on 1 df is the square of the one-sample
	// z statistic for arm 1's share, z = (O₁ − Nw)/sqrt(N·w·(1−w)). Its
	// p-value is 2(1 − Φ(|z|)) = erfc(|z|/√2). This is a reference that
	// uses neither the χ² sum nor gonum's χ² distribution.
	tests := []struct {
		o1, o2 int
		w      float64
	}{
		{10400, 9600, 0.5}, {10060, 9940, 0.5}, {5000, 5000, 0.5}, {930, 70, 0.9}, {120, 80, 0.55},
	}
	for _, tt := range tests {
		n := float64(tt.o1 + tt.o2)
		z := (float64(tt.o1) - n*tt.w) / math.Sqrt(n*tt.w*(1-tt.w))
		got, err := SRM([]int{tt.o1, tt.o2}, []float64{tt.w, 1 - tt.w})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got.ChiSq-z*z) > 1e-9*math.Max(1, z*z) {
			t.Errorf("%+v: χ² = %v, z² = %v", tt, got.ChiSq, z*z)
		}
		if p := math.Erfc(math.Abs(z) / math.Sqrt2); math.Abs(got.PValue-p) > 1e-12 {
			t.Errorf("%+v: p = %v, erfc(|z|/√2) = %v", tt, got.PValue, p)
		}
	}
}

func TestSRMThreeArms(t *testing.T) {
	// 45/45/10 design, 20,000 customers observed as 9,100 / 8,850 / 2,050.
	// By hand: E = 9,000, 9,000, 2,000; χ² = 100²/9000 + 150²/9000 + 50²/2000
	// = 1.1111 + 2.5 + 1.25 = 4.8611. On 2 df the χ² survival function is
	// exp(−x/2), so p = exp(−2.43056) = 0.08800.
	got, err := SRM([]int{9100, 8850, 2050}, []float64{0.45, 0.45, 0.10})
	if err != nil {
		t.Fatal(err)
	}
	wantChi := 100.0*100/9000 + 150.0*150/9000 + 50.0*50/2000
	if math.Abs(got.ChiSq-wantChi) > 1e-9 || got.DF != 2 {
		t.Errorf("χ² = %v on %d df, want %v on 2", got.ChiSq, got.DF, wantChi)
	}
	if p := math.Exp(-wantChi / 2); math.Abs(got.PValue-p) > 1e-12 {
		t.Errorf("p = %v, want exp(−χ²/2) = %v", got.PValue, p)
	}
	if got.Mismatch {
		t.Error("p ≈ 0.088 flagged as a mismatch")
	}
}

func TestSRMFires(t *testing.T) {
	// A 50/50 design with 20,000 customers. 52/48 is χ² = 2·400²/10,000 = 32,
	// p = erfc(4) ≈ 1.5e-8: a mismatch. 50.3/49.7 is χ² = 2·60²/10,000 = 0.72,
	// p ≈ 0.40: no mismatch.
	tests := []struct {
		name     string
		obs      []int
		mismatch bool
	}{
		{"52/48", []int{10400, 9600}, true},
		{"50.3/49.7", []int{10060, 9940}, false},
	}
	for _, tt := range tests {
		got, err := SRM(tt.obs, []float64{0.5, 0.5})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: χ² = %.3f, p = %.3g", tt.name, got.ChiSq, got.PValue)
		if got.Mismatch != tt.mismatch || (got.PValue < SRMThreshold) != tt.mismatch {
			t.Errorf("%s: mismatch = %v (p = %v), want %v", tt.name, got.Mismatch, got.PValue, tt.mismatch)
		}
	}
}

func TestSRMZeroWeightAndErrors(t *testing.T) {
	// A zero-weight arm with no customers is left out of the test.
	got, err := SRM([]int{500, 500, 0}, []float64{0.5, 0.5, 0})
	if err != nil || got.DF != 1 || got.ChiSq != 0 || got.PValue != 1 {
		t.Errorf("zero-weight empty arm: %+v, %v; want χ² 0 on 1 df, p 1", got, err)
	}
	// ... but customers in it cannot come from the design.
	got, err = SRM([]int{500, 500, 3}, []float64{0.5, 0.5, 0})
	if err != nil || !got.Mismatch || got.PValue != 0 {
		t.Errorf("customers in a zero-weight arm: %+v, %v; want a mismatch with p 0", got, err)
	}
	bad := []struct {
		name string
		obs  []int
		w    []float64
	}{
		{"length", []int{1, 2}, []float64{1}},
		{"one arm", []int{1, 2}, []float64{1, 0}},
		{"negative weight", []int{1, 2}, []float64{2, -1}},
		{"NaN weight", []int{1, 2}, []float64{math.NaN(), 1}},
		{"negative count", []int{-1, 2}, []float64{1, 1}},
		{"no customers", []int{0, 0}, []float64{1, 1}},
	}
	for _, tt := range bad {
		if _, err := SRM(tt.obs, tt.w); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: error %v, want ErrInvalidConfig", tt.name, err)
		}
	}
}
