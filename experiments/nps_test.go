package experiments

import (
	"errors"
	"math"
	"testing"
)

func TestNPSScore(t *testing.T) {
	// Reichheld's bands: 0–6 detractor, 7–8 passive, 9–10 promoter.
	want := []float64{-100, -100, -100, -100, -100, -100, -100, 0, 0, 100, 100}
	for r, w := range want {
		got, err := NPSScore(r)
		if err != nil || got != w {
			t.Errorf("NPSScore(%d) = %v, %v; want %v", r, got, err, w)
		}
	}
	for _, r := range []int{-1, 11} {
		if _, err := NPSScore(r); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("NPSScore(%d) error = %v, want ErrInvalidValue", r, err)
		}
	}
}

func TestNPSVarianceBruteForce(t *testing.T) {
	// Reference: list every respondent's score, then take the plug-in
	// variance of the list, Σ(y − ȳ)²/n, divided by n. The cybaea.net (2016)
	// multinomial form 100²·(p(1−p) + d(1−d) + 2pd)/n is checked as well.
	tests := []struct{ pro, pas, det int }{
		{200, 120, 80}, // p = 0.5, d = 0.2, n = 400: NPS 30
		{10, 0, 0},
		{3, 5, 40},
		{1, 1, 1},
		{0, 7, 0},
	}
	for _, tt := range tests {
		var scores []float64
		for i := 0; i < tt.pro; i++ {
			scores = append(scores, 100)
		}
		for i := 0; i < tt.pas; i++ {
			scores = append(scores, 0)
		}
		for i := 0; i < tt.det; i++ {
			scores = append(scores, -100)
		}
		n := len(scores)
		mean := 0.0
		for _, s := range scores {
			mean += s
		}
		mean /= float64(n)
		ss := 0.0
		for _, s := range scores {
			ss += (s - mean) * (s - mean)
		}
		brute := ss / float64(n) / float64(n)

		p, d := float64(tt.pro)/float64(n), float64(tt.det)/float64(n)
		got := NPSVariance(p, d, n)
		cybaea := 1e4 * (p*(1-p) + d*(1-d) + 2*p*d) / float64(n)
		if math.Abs(got-brute) > 1e-9*math.Max(1, brute) || math.Abs(got-cybaea) > 1e-9*math.Max(1, cybaea) {
			t.Errorf("%+v: NPSVariance = %v, brute force %v, cybaea form %v", tt, got, brute, cybaea)
		}

		// The Summary of the same scores: same mean, and the sample
		// variance is the plug-in one times n/(n−1).
		s := NPSSummary(tt.pro, tt.pas, tt.det)
		if s != summaryOf(scores) {
			t.Errorf("%+v: NPSSummary = %+v, summary of the scores %+v", tt, s, summaryOf(scores))
		}
		if math.Abs(s.Mean()-100*(p-d)) > 1e-9 {
			t.Errorf("%+v: NPS = %v, want %v", tt, s.Mean(), 100*(p-d))
		}
		if n > 1 {
			if v := s.Variance() / float64(n); math.Abs(v-got*float64(n)/float64(n-1)) > 1e-9*math.Max(1, v) {
				t.Errorf("%+v: Summary variance of the mean %v, want %v", tt, v, got*float64(n)/float64(n-1))
			}
		}
	}
}
