package experiments

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveQini is the test's own Q(k) for the top k of a ranking that has no ties: it
// counts directly over the first k observations, O(n) per k.
func naiveQini(obs []UpliftObservation, ranked []int, k int) float64 {
	var nt, nc int
	var rt, rc float64
	for _, i := range ranked[:k] {
		if obs[i].Treated {
			nt++
			rt += obs[i].Outcome
		} else {
			nc++
			rc += obs[i].Outcome
		}
	}
	if nc == 0 {
		return rt
	}
	return rt - rc*float64(nt)/float64(nc)
}

func TestQiniHandExample(t *testing.T) {
	// Ranked: T1 C0 T1 C1 T0 C0 (scores 6..1). By hand:
	// k=1: 1; k=2: 1 - 0·1/1 = 1; k=3: 2 - 0·2/1 = 2; k=4: 2 - 1·2/2 = 1;
	// k=5: 2 - 1·3/2 = 0.5; k=6: 2 - 1·3/3 = 1.
	obs := []UpliftObservation{
		{6, true, 1}, {5, false, 0}, {4, true, 1}, {3, false, 1}, {2, true, 0}, {1, false, 0},
	}
	c := Qini(obs, 100)
	want := []float64{0, 1, 1, 2, 1, 0.5, 1}
	if len(c.Points) != len(want) {
		t.Fatalf("points %+v, want %d", c.Points, len(want))
	}
	for k, w := range want {
		if c.Points[k].Targeted != k || math.Abs(c.Points[k].Gain-w) > 1e-12 {
			t.Errorf("point %d = %+v, want gain %v", k, c.Points[k], w)
		}
	}
	// Area above the line y = k/6 by the trapezoid rule over unit steps:
	// differences d_k = Q(k) - k/6 = 0, 5/6, 4/6, 3/2, 1/3, -1/3, 0;
	// Σ (d_{k-1}+d_k)/2 = (5/6 + 3/2 + 13/6 + 11/6 + 0 - 1/3)/2 = 6/2 = 3, / 36.
	if math.Abs(c.Coefficient-3.0/36) > 1e-12 {
		t.Errorf("coefficient %v, want %v", c.Coefficient, 3.0/36)
	}
	if c.Treated != 3 || c.Control != 3 || c.N != 6 {
		t.Errorf("counts %+v", c)
	}
}

func TestQiniMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	obs := make([]UpliftObservation, 500)
	for i := range obs {
		obs[i] = UpliftObservation{Score: rng.Float64(), Treated: rng.Float64() < 0.4, Outcome: float64(rng.IntN(2))}
	}
	ranked := make([]int, len(obs))
	for i := range ranked {
		ranked[i] = i
	}
	// Selection sort by score, descending: a ranking the test computes its own way.
	for i := range ranked {
		best := i
		for j := i + 1; j < len(ranked); j++ {
			if obs[ranked[j]].Score > obs[ranked[best]].Score {
				best = j
			}
		}
		ranked[i], ranked[best] = ranked[best], ranked[i]
	}
	c := Qini(obs, len(obs)+1)
	if len(c.Points) != len(obs)+1 {
		t.Fatalf("%d points, want %d", len(c.Points), len(obs)+1)
	}
	for _, p := range c.Points {
		if want := naiveQini(obs, ranked, p.Targeted); math.Abs(p.Gain-want) > 1e-9 {
			t.Fatalf("k=%d: gain %v, naive %v", p.Targeted, p.Gain, want)
		}
	}
	thin := Qini(obs, 11)
	if len(thin.Points) > 11 || thin.Points[0].Targeted != 0 || thin.Points[len(thin.Points)-1].Targeted != len(obs) {
		t.Fatalf("thinned curve %+v", thin.Points)
	}
	if thin.Coefficient != c.Coefficient {
		t.Fatalf("thinning changed the coefficient: %v, %v", thin.Coefficient, c.Coefficient)
	}
}

// TestQiniRanksPersuadablesFirst: a population with persuadables (treated outcome 1,
// control 0) and sure things (1 either way). A score that ranks the persuadables first
// has a positive coefficient; the reverse ranking a negative one.
func TestQiniRanksPersuadablesFirst(t *testing.T) {
	var good, bad []UpliftObservation
	for i := range 400 {
		treated := i%2 == 0
		persuadable := i < 200
		out := 1.0
		if persuadable && !treated {
			out = 0
		}
		s := 0.0
		if persuadable {
			s = 1
		}
		good = append(good, UpliftObservation{Score: s, Treated: treated, Outcome: out})
		bad = append(bad, UpliftObservation{Score: -s, Treated: treated, Outcome: out})
	}
	g, b := Qini(good, 10), Qini(bad, 10)
	if !(g.Coefficient > 0 && b.Coefficient < 0) {
		t.Fatalf("coefficients: persuadables first %v, last %v", g.Coefficient, b.Coefficient)
	}
	// Ties are taken together: the whole top half is one step, so the curve has
	// exactly three points, 0, 200 and 400.
	if len(g.Points) != 3 || g.Points[1].Targeted != 200 || g.Points[1].Gain != 100 {
		t.Fatalf("tied curve %+v", g.Points)
	}
}
