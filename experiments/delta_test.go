package experiments

import (
	"math"
	"testing"
)

func TestRelativeLiftDelta(t *testing.T) {
	// Two independent references for the delta-method variance:
	//  1. the gradient of g(a, b) = (a − b)/|b| by central finite
	//     differences, so Var ≈ g_a²·V_T + g_b²·V_C;
	//  2. Eppo's algebraic form (μ_T²/μ_C²)·(V_C/μ_C² + V_T/μ_T²), from
	//     docs/statistics/confidence-intervals/statistical-nitty-gritty.md.
	// The finite-difference step h = 1e-6·|x| leaves a relative error near
	// 1e-9, so the tolerance is 1e-6 relative.
	tests := []struct {
		name                 string
		meanT, vT, meanC, vC float64
	}{
		{"conversion", 0.12, 0.12 * 0.88 / 4000, 0.10, 0.1 * 0.9 / 4000},
		{"spend", 23.5, 4.1, 21.0, 3.7},
		{"negative control (NPS)", 12, 9, -8, 11},
		{"tiny effect", 1.001, 1e-6, 1.0, 1e-6},
	}
	for _, tt := range tests {
		lift, se := RelativeLift(tt.meanT, tt.vT, tt.meanC, tt.vC)
		g := func(a, b float64) float64 { return (a - b) / math.Abs(b) }
		if want := g(tt.meanT, tt.meanC); math.Abs(lift-want) > 1e-12 {
			t.Errorf("%s: lift = %v, want %v", tt.name, lift, want)
		}
		ha, hb := 1e-6*math.Abs(tt.meanT), 1e-6*math.Abs(tt.meanC)
		ga := (g(tt.meanT+ha, tt.meanC) - g(tt.meanT-ha, tt.meanC)) / (2 * ha)
		gb := (g(tt.meanT, tt.meanC+hb) - g(tt.meanT, tt.meanC-hb)) / (2 * hb)
		numeric := ga*ga*tt.vT + gb*gb*tt.vC
		r := tt.meanT / tt.meanC
		eppo := r * r * (tt.vC/(tt.meanC*tt.meanC) + tt.vT/(tt.meanT*tt.meanT))
		for _, ref := range []struct {
			name string
			v    float64
		}{{"finite differences", numeric}, {"Eppo form", eppo}} {
			if math.Abs(se*se-ref.v) > 1e-6*ref.v {
				t.Errorf("%s: variance %v, %s %v", tt.name, se*se, ref.name, ref.v)
			}
		}
	}
	if lift, se := RelativeLift(1, 1, 0, 1); !math.IsNaN(lift) || !math.IsNaN(se) {
		t.Errorf("zero control: %v, %v; want NaN", lift, se)
	}
}
