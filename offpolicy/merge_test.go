package offpolicy

import (
	"math/rand/v2"
	"testing"
)

// sameInterval compares intervals to tol.
func sameInterval(t *testing.T, what string, a, b Interval, tol float64) {
	t.Helper()
	checkClose(t, what+" lo", a.Lo, b.Lo, tol)
	checkClose(t, what+" hi", a.Hi, b.Hi, tol)
}

// sameReport compares every number of two reports to tol.
func sameReport(t *testing.T, a, b Report, tol float64) {
	t.Helper()
	if a.N != b.N || len(a.Estimates) != len(b.Estimates) {
		t.Fatalf("N %d vs %d, %d vs %d estimates", a.N, b.N, len(a.Estimates), len(b.Estimates))
	}
	for i, ea := range a.Estimates {
		eb := b.Estimates[i]
		m := string(ea.Method)
		checkClose(t, m+" value", ea.Value, eb.Value, tol)
		checkClose(t, m+" SE", ea.SE, eb.SE, tol)
		checkClose(t, m+" param", ea.Param, eb.Param, 0)
		checkClose(t, m+" bootstrap SE", ea.BootstrapSE, eb.BootstrapSE, tol)
		sameInterval(t, m+" normal", ea.Normal, eb.Normal, tol)
		sameInterval(t, m+" bootstrap", ea.Bootstrap, eb.Bootstrap, tol)
		sameInterval(t, m+" bernstein", ea.Bernstein, eb.Bernstein, tol)
	}
	for g := range a.SwitchGrid {
		checkClose(t, "switch MSE", a.SwitchGrid[g].MSE, b.SwitchGrid[g].MSE, tol)
		checkClose(t, "DRos MSE", a.ShrinkageGrid[g].MSE, b.ShrinkageGrid[g].MSE, tol)
	}
	da, db := a.Weights, b.Weights
	for _, p := range [][3]any{
		{"ESS", da.ESS, db.ESS}, {"mean weight", da.MeanWeight, db.MeanWeight},
		{"mean weight SE", da.MeanWeightSE, db.MeanWeightSE}, {"max share", da.MaxShare, db.MaxShare},
		{"top share", da.TopShare, db.TopShare}, {"top estimate share", da.TopEstimateShare, db.TopEstimateShare},
	} {
		checkClose(t, p[0].(string), p[1].(float64), p[2].(float64), tol)
	}
	if len(da.Top) != len(db.Top) {
		t.Fatalf("top %v vs %v", da.Top, db.Top)
	}
	for i := range da.Top {
		if da.Top[i] != db.Top[i] {
			t.Errorf("top %v vs %v", da.Top, db.Top)
			break
		}
	}
	if len(a.Warnings) != len(b.Warnings) {
		t.Errorf("warnings %v vs %v", a.Warnings, b.Warnings)
	}
}

func TestMergeEqualsOnePass(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 3))
	rs := randomRecords(rng, 6000)
	// Ties in the top list: many records share the largest weight, with
	// different rewards, so the list depends on the tie rule.
	for i := 0; i < 40; i++ {
		rs[rng.IntN(len(rs))] = Record{Reward: float64(i % 3), Logging: 0.01, Target: 1, Model: 0.5, ModelTarget: 0.5}
	}
	const b = 64
	res := NewResampler(b, rand.NewPCG(17, 4))
	counts := make([][]float64, len(rs))
	for i := range counts {
		counts[i] = res.Counts(nil)
	}
	// Rewards up to 2 break these bounds: the out-of-bounds count must merge too.
	cfg := Config{Bootstrap: b, TopK: 8, Bounds: Bounds{RewardMin: 0, RewardMax: 1, MaxWeight: 100}}
	fill := func(lo, hi int) *Summary {
		s, err := NewSummary(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := lo; i < hi; i++ {
			if err := s.Add(rs[i], counts[i]); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	one := fill(0, len(rs))
	for _, cut := range []int{0, 1, 2000, 5999} {
		a, c := fill(0, cut), fill(cut, len(rs))
		if err := a.Merge(c); err != nil {
			t.Fatal(err)
		}
		// Welford's and Chan's updates round differently from one pass:
		// 1e-12 relative.
		sameReport(t, a.Report(), one.Report(), 1e-12)
		for _, m := range Methods {
			ra, ro := a.Replicates(m), one.Replicates(m)
			for i := range ra {
				checkClose(t, string(m)+" replicate", ra[i], ro[i], 1e-12)
			}
		}
	}
	// Three pieces merged in another order.
	x, y, z := fill(0, 1000), fill(1000, 3500), fill(3500, len(rs))
	if err := z.Merge(x); err != nil {
		t.Fatal(err)
	}
	if err := z.Merge(y); err != nil {
		t.Fatal(err)
	}
	sameReport(t, z.Report(), one.Report(), 1e-12)
	if got := one.Report().Warnings; !hasWarning(got, WarnOutOfBounds) {
		t.Errorf("warnings %v, want out-of-bounds", got)
	}
}

func hasWarning(ws []Warning, k WarningKind) bool {
	for _, w := range ws {
		if w.Kind == k {
			return true
		}
	}
	return false
}
