package experiments

import (
	"math"
	"testing"
)

func TestSequenceRho(t *testing.T) {
	// α = 0.05, N* = 5,000, worked step by step (in a Python session):
	// −2·ln 0.05 = 5.991464547, ln(6.991464547) = 1.944690055, their sum
	// 7.936154602, and ρ = sqrt(7.936154602/5000) = 0.039840067. The
	// experiments anchor notes quote ρ ≈ 0.03984 for the same inputs.
	got := Sequence{Level: 0.95, Tuning: 5000}.Rho()
	if math.Abs(got-0.039840067) > 1e-9 {
		t.Errorf("Rho = %.12f, want 0.039840067", got)
	}
}

func TestSequenceHalfWidth(t *testing.T) {
	// Reference: eq. 9 rearranged by hand into
	//   hw = se·sqrt((1 + 1/(nρ²))·(ln(nρ² + 1) − 2·ln α)),
	// a different algebraic form of the same boundary.
	for _, s := range []Sequence{{}, {Level: 0.9, Tuning: 1000}, {Level: 0.99, Tuning: 1e5}} {
		alpha := 1 - resolveLevel(s.Level)
		rho := s.Rho()
		for _, n := range []int{10, 500, 5000, 20000, 1000000} {
			for _, se := range []float64{0.001, 0.5, 12} {
				x := float64(n) * rho * rho
				want := se * math.Sqrt((1+1/x)*(math.Log(x+1)-2*math.Log(alpha)))
				if got := s.HalfWidth(se, n); math.Abs(got-want) > 1e-12*want {
					t.Errorf("%+v n=%d se=%v: HalfWidth = %v, want %v", s, n, se, got, want)
				}
			}
		}
	}
}

func TestSequenceShape(t *testing.T) {
	// At n = N* the sequence is about 1.55 times the fixed 95% interval,
	// worked as for TestSequenceRho: with nρ² = 7.936154602,
	// sqrt((1 + 1/7.936154602)·(ln 8.936154602 + 5.991464547))/1.959963985
	// = sqrt(9.212493615)/1.959963985 = 1.548604.
	// It is wider both well before and well after N*, and never narrower
	// than the fixed interval.
	s := Sequence{}
	ratio := func(n int) float64 { return s.HalfWidth(1, n) / z975 }
	if r := ratio(5000); math.Abs(r-1.548604) > 1e-6 {
		t.Errorf("ratio at N* = %.7f, want 1.548604", r)
	}
	if !(ratio(1000) > ratio(5000) && ratio(100000) > ratio(5000)) {
		t.Errorf("ratios %.3f (1k) %.3f (5k) %.3f (100k): not narrowest near N*", ratio(1000), ratio(5000), ratio(100000))
	}
	for n := 1; n < 1e7; n *= 3 {
		if r := ratio(n); r <= 1 {
			t.Errorf("ratio at n=%d is %v ≤ 1", n, r)
		}
	}
}

func TestSequencePValueMatchesInterval(t *testing.T) {
	// The always-valid p-value is α exactly where the interval touches 0.
	for _, s := range []Sequence{{}, {Level: 0.9, Tuning: 300}} {
		alpha := 1 - resolveLevel(s.Level)
		for _, n := range []int{50, 5000, 80000} {
			const se = 0.7
			hw := s.HalfWidth(se, n)
			if p := s.PValue(hw, se, n); math.Abs(p-alpha) > 1e-12 {
				t.Errorf("%+v n=%d: PValue at the boundary = %v, want %v", s, n, p, alpha)
			}
			if p := s.PValue(1.01*hw, se, n); p >= alpha {
				t.Errorf("%+v n=%d: PValue outside the boundary = %v, want < %v", s, n, p, alpha)
			}
			if p := s.PValue(0.99*hw, se, n); p <= alpha {
				t.Errorf("%+v n=%d: PValue inside the boundary = %v, want > %v", s, n, p, alpha)
			}
		}
	}
	if p := (Sequence{}).PValue(0, 1, 100); p != 1 {
		t.Errorf("PValue(0) = %v, want 1", p)
	}
	if p := (Sequence{}).PValue(1e6, 1, 5000); p != 0 {
		t.Errorf("PValue(huge z) = %v, want 0 without overflow", p)
	}
}
