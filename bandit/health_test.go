package bandit

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// pairwiseAUC is the Mann–Whitney AUC by direct O(n²) comparison of every
// (positive, negative) pair, ties counting ½.
func pairwiseAUC(scores []float64, pos []bool) float64 {
	var wins, pairs float64
	for i := range scores {
		if !pos[i] {
			continue
		}
		for j := range scores {
			if pos[j] {
				continue
			}
			pairs++
			switch {
			case scores[i] > scores[j]:
				wins++
			case scores[i] == scores[j]:
				wins += 0.5
			}
		}
	}
	if pairs == 0 {
		return math.NaN()
	}
	return wins / pairs
}

func TestAUCRanks(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		pos    []bool
		want   float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{"reversed", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		{"all tied", []float64{0.5, 0.5, 0.5}, []bool{true, false, false}, 0.5},
		// Positives at 0.4 and 0.7, negatives at 0.4 and 0.1: pairs (0.4,0.4)=½,
		// (0.4,0.1)=1, (0.7,0.4)=1, (0.7,0.1)=1, so 3.5/4.
		{"tie across classes", []float64{0.4, 0.7, 0.4, 0.1}, []bool{true, true, false, false}, 0.875},
		{"no positives", []float64{0.3, 0.6}, []bool{false, false}, math.NaN()},
		{"no negatives", []float64{0.3}, []bool{true}, math.NaN()},
		{"empty", nil, nil, math.NaN()},
	}
	for _, tc := range tests {
		got := aucRanks(tc.scores, tc.pos)
		if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && !near(got, tc.want, 1e-12)) {
			t.Errorf("%s: AUC = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestHealthWindow drives a model past its window and checks every window
// statistic against values computed here from the scores the model
// predicted (Propensity) just before each Update.
func TestHealthWindow(t *testing.T) {
	const d, window, n = 4, 50, 173 // n > 3·window, not a multiple: the ring wraps
	m := mustNew(t, Config{Dim: d, Window: window})
	rng := rand.New(rand.NewPCG(12, 34))
	var scores []float64
	var pos []bool
	truth := []float64{-0.5, 1, -1, 0.5}
	for range n {
		x := randVector(rng, d, 1) // ties are covered by TestAUCRanks
		y := rng.Float64() < refSigmoid(dotDense(dense(x, d), truth))
		scores = append(scores, m.Propensity(x))
		pos = append(pos, y)
		m.Update(x, y, time.Time{})
	}
	scores, pos = scores[n-window:], pos[n-window:]
	h := m.Health()
	if h.Responses != n || h.AUCWindow != window || h.Evidence != n {
		t.Fatalf("Responses %d, AUCWindow %d, Evidence %v; want %d, %d, %d", h.Responses, h.AUCWindow, h.Evidence, n, window, n)
	}
	var positives int64
	for _, p := range pos {
		if p {
			positives++
		}
	}
	if want := pairwiseAUC(scores, pos); !near(h.AUC, want, 1e-12) {
		t.Errorf("AUC = %v, pairwise %v", h.AUC, want)
	}
	// Calibration: recompute each bin directly.
	total := 0
	for b, bin := range h.Calibration {
		lo, hi := float64(b)/CalibrationBins, float64(b+1)/CalibrationBins
		var c int
		var sumP, sumY float64
		for i, s := range scores {
			if s >= lo && (s < hi || (b == CalibrationBins-1 && s <= 1)) {
				c++
				sumP += s
				if pos[i] {
					sumY++
				}
			}
		}
		if bin.Count != c {
			t.Errorf("bin %d: Count %d, want %d", b, bin.Count, c)
		}
		if c > 0 && (!near(bin.MeanPredicted, sumP/float64(c), 1e-12) || !near(bin.ObservedRate, sumY/float64(c), 1e-12)) {
			t.Errorf("bin %d: %+v, want mean %v rate %v", b, bin, sumP/float64(c), sumY/float64(c))
		}
		total += bin.Count
	}
	if total != window {
		t.Errorf("bin counts sum to %d, want %d", total, window)
	}
	var ll float64
	for i, s := range scores {
		if pos[i] {
			ll -= math.Log(s)
		} else {
			ll -= math.Log(1 - s)
		}
	}
	if want := ll / window; !near(h.LogLoss, want, 1e-12) {
		t.Errorf("LogLoss = %v, want %v", h.LogLoss, want)
	}
}

func TestHealthEmpty(t *testing.T) {
	h := mustNew(t, Config{Dim: 1}).Health()
	if h.AUCWindow != 0 || !math.IsNaN(h.AUC) || !math.IsNaN(h.LogLoss) || len(h.Calibration) != CalibrationBins {
		t.Errorf("empty health = %+v", h)
	}
}

func TestUpdateRejectsNonFinite(t *testing.T) {
	m := mustNew(t, Config{Dim: 2})
	m.Update(Vector{Index: []int32{1}, Value: []float64{math.NaN()}}, true, time.Time{})
	m.Update(Vector{Index: []int32{1}, Value: []float64{math.Inf(1)}}, true, time.Time{})
	h := m.Health()
	if h.Rejected != 2 || h.Responses != 0 {
		t.Errorf("Rejected %d, Responses %d; want 2, 0", h.Rejected, h.Responses)
	}
	mean := make([]float64, 2)
	m.Weights(mean, nil)
	if mean[0] != 0 || mean[1] != 0 {
		t.Errorf("a rejected event moved the mean to %v", mean)
	}
}
