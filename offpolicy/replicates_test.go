package offpolicy

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestReplicatesAgainstReference recomputes every bootstrap replicate
// estimate with explicit loops over the records and their counts.
func TestReplicatesAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 9))
	rs := randomRecords(rng, 300)
	const b = 25
	res := NewResampler(b, rand.NewPCG(17, 10))
	counts := make([][]float64, len(rs))
	s, _ := NewSummary(Config{Bootstrap: b})
	for i, r := range rs {
		counts[i] = res.Counts(nil)
		_ = s.Add(r, counts[i])
	}
	rep := s.Report()
	sw, _ := rep.Estimate(MethodSwitchDR)
	ds, _ := rep.Estimate(MethodDRos)
	// term returns (numerator, denominator) contributions of record r.
	terms := map[Method]func(r Record) (float64, float64){
		MethodObserved: func(r Record) (float64, float64) { return r.Reward, 1 },
		MethodReplay:   func(r Record) (float64, float64) { return r.Target * r.Reward, r.Target },
		MethodIPS:      func(r Record) (float64, float64) { return r.Target / r.Logging * r.Reward, 1 },
		MethodSNIPS: func(r Record) (float64, float64) {
			w := r.Target / r.Logging
			return w * r.Reward, w
		},
		MethodDM: func(r Record) (float64, float64) { return r.ModelTarget, 1 },
		MethodDR: func(r Record) (float64, float64) {
			return r.ModelTarget + r.Target/r.Logging*(r.Reward-r.Model), 1
		},
		MethodSwitchDR: func(r Record) (float64, float64) {
			w := r.Target / r.Logging
			if w > sw.Param {
				w = 0
			}
			return r.ModelTarget + w*(r.Reward-r.Model), 1
		},
		MethodDRos: func(r Record) (float64, float64) {
			w := r.Target / r.Logging
			switch {
			case ds.Param == 0:
				w = 0
			case !math.IsInf(ds.Param, 1):
				w = ds.Param * w / (w*w + ds.Param)
			}
			return r.ModelTarget + w*(r.Reward-r.Model), 1
		},
	}
	for m, term := range terms {
		got := s.Replicates(m)
		if len(got) != b {
			t.Fatalf("%s: %d replicates", m, len(got))
		}
		for rep := range b {
			var num, den float64
			for i, r := range rs {
				y, x := term(r)
				num += counts[i][rep] * y
				den += counts[i][rep] * x
			}
			checkClose(t, string(m)+" replicate", got[rep], num/den, 1e-12)
		}
	}
	t.Logf("chosen τ %v, λ %v", sw.Param, ds.Param)
}

// TestGridReplicates checks the replicate sums of every switch-DR and DRos
// grid point, not only the chosen ones.
func TestGridReplicates(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 11))
	rs := randomRecords(rng, 200)
	const b = 10
	res := NewResampler(b, rand.NewPCG(17, 12))
	counts := make([][]float64, len(rs))
	s, _ := NewSummary(Config{Bootstrap: b})
	for i, r := range rs {
		counts[i] = res.Counts(nil)
		_ = s.Add(r, counts[i])
	}
	for g := range GridSize {
		for _, tc := range []struct {
			m      Method
			modify func(w float64) float64
		}{
			{MethodSwitchDR, func(w float64) float64 {
				if w <= switchGrid[g] {
					return w
				}
				return 0
			}},
			{MethodDRos, func(w float64) float64 {
				l := shrinkGrid[g]
				switch {
				case l == 0:
					return 0
				case math.IsInf(l, 1):
					return w
				}
				return l * w / (w*w + l)
			}},
		} {
			got := s.boot.estimates(tc.m, g, nil)
			for rep := range b {
				var num, den float64
				for i, r := range rs {
					w := tc.modify(r.Target / r.Logging)
					num += counts[i][rep] * (r.ModelTarget + w*(r.Reward-r.Model))
					den += counts[i][rep]
				}
				checkClose(t, string(tc.m)+" grid replicate", got[rep], num/den, 1e-12)
			}
		}
	}
}
