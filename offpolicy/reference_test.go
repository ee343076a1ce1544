package offpolicy

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"
)

// randomRecords draws n records with logging probabilities down to 0.01
// (weights up to 100), a mix of deterministic (0/1) and randomised target
// probabilities, rewards in [0, 1] with a spike at 0, and model values in
// [0, 1].
func randomRecords(rng *rand.Rand, n int) []Record {
	rs := make([]Record, n)
	for i := range rs {
		r := Record{
			Logging:     0.01 + 0.99*rng.Float64()*rng.Float64(),
			Model:       rng.Float64(),
			ModelTarget: rng.Float64(),
		}
		switch rng.IntN(3) {
		case 0:
			r.Target = float64(rng.IntN(2))
		default:
			r.Target = rng.Float64()
		}
		if rng.Float64() < 0.6 {
			r.Reward = rng.Float64()
		}
		rs[i] = r
	}
	return rs
}

// columns turns records into the slices the reference computations use.
type columns struct {
	r, p, e, q, qt, w []float64
}

func toColumns(rs []Record) columns {
	var c columns
	for _, r := range rs {
		c.r = append(c.r, r.Reward)
		c.p = append(c.p, r.Logging)
		c.e = append(c.e, r.Target)
		c.q = append(c.q, r.Model)
		c.qt = append(c.qt, r.ModelTarget)
		c.w = append(c.w, r.Target/r.Logging)
	}
	return c
}

// refRatio is the reference ratio estimate Σy/Σx and its delta-method SE in
// gonum's covariance form: Var = (s²_y − 2R s_xy + R² s²_x)/(n x̄²).
func refRatio(y, x []float64) (v, se float64) {
	n := float64(len(y))
	v = floats.Sum(y) / floats.Sum(x)
	vy, vx := stat.Variance(y, nil), stat.Variance(x, nil)
	cxy := stat.Covariance(x, y, nil)
	mx := stat.Mean(x, nil)
	return v, math.Sqrt((vy - 2*v*cxy + v*v*vx) / (n * mx * mx))
}

// refMean is the mean of terms and its SE sqrt(s²/n) by gonum.
func refMean(x []float64) (v, se float64) {
	m, s := stat.MeanStdDev(x, nil)
	return m, s / math.Sqrt(float64(len(x)))
}

// refTuned is the reference grid search over modified weights, written from
// the formula with explicit slices (OBP's _estimate_mse_score with
// use_bias_upper_bound and estimate_high_probability_upper_bound_bias).
func refTuned(c columns, params []float64, modify func(w, p float64) float64) (best int, values, mses []float64) {
	n := float64(len(c.r))
	l := math.Log(2 / 0.1) // δ = 0.1
	w2 := make([]float64, len(c.w))
	floats.MulTo(w2, c.w, c.w)
	margin := math.Sqrt(2*stat.Mean(w2, nil)*l/n) + 2*floats.Max(c.w)*l/(3*n)
	for _, p := range params {
		phi := make([]float64, len(c.r))
		gap := make([]float64, len(c.r))
		for i := range phi {
			wh := modify(c.w[i], p)
			phi[i] = c.qt[i] + wh*(c.r[i]-c.q[i])
			gap[i] = (c.w[i] - wh) * (c.r[i] - c.q[i])
		}
		mean, pvar := stat.PopMeanVariance(phi, nil)
		b := math.Abs(stat.Mean(gap, nil)) + margin
		values = append(values, mean)
		mses = append(mses, pvar/n+b*b)
	}
	best = floats.MinIdx(mses)
	return best, values, mses
}

func TestAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 1))
	for _, n := range []int{2, 7, 500, 20000} {
		rs := randomRecords(rng, n)
		c := toColumns(rs)
		s, _ := NewSummary(Config{TopK: 5})
		for _, r := range rs {
			if err := s.Add(r, nil); err != nil {
				t.Fatal(err)
			}
		}
		rep := s.Report()
		get := func(m Method) Estimate { e, _ := rep.Estimate(m); return e }

		wr := make([]float64, n)
		floats.MulTo(wr, c.w, c.r)
		er := make([]float64, n)
		floats.MulTo(er, c.e, c.r)
		dr := make([]float64, n)
		for i := range dr {
			dr[i] = c.qt[i] + c.w[i]*(c.r[i]-c.q[i])
		}
		type ref struct {
			m     Method
			v, se float64
		}
		var refs []ref
		add := func(m Method, v, se float64) { refs = append(refs, ref{m, v, se}) }
		v, se := refMean(c.r)
		add(MethodObserved, v, se)
		v, se = refRatio(er, c.e)
		add(MethodReplay, v, se)
		v, se = refMean(wr)
		add(MethodIPS, v, se)
		v, se = refRatio(wr, c.w)
		add(MethodSNIPS, v, se)
		v, se = refMean(c.qt)
		add(MethodDM, v, se)
		v, se = refMean(dr)
		add(MethodDR, v, se)
		for _, rf := range refs {
			e := get(rf.m)
			// Point estimates to 1e-9 (the tolerance); the SEs come
			// from sums of squares computed in another order, to 1e-9 too.
			checkClose(t, string(rf.m), e.Value, rf.v, 1e-9)
			checkClose(t, string(rf.m)+" SE", e.SE, rf.se, 1e-9)
		}

		for _, tc := range []struct {
			m      Method
			params []float64
			modify func(w, p float64) float64
			grid   []GridPoint
		}{
			{MethodSwitchDR, switchGrid[:], func(w, tau float64) float64 {
				if w <= tau {
					return w
				}
				return 0
			}, rep.SwitchGrid},
			{MethodDRos, shrinkGrid[:], func(w, l float64) float64 {
				switch {
				case math.IsInf(l, 1):
					return w
				case l == 0: // the limit; λw/(w²+λ) is 0/0 at w = 0
					return 0
				}
				return l * w / (w*w + l)
			}, rep.ShrinkageGrid},
		} {
			best, values, mses := refTuned(c, tc.params, tc.modify)
			for g := range values {
				checkClose(t, string(tc.m)+" grid value", tc.grid[g].Value, values[g], 1e-9)
				checkClose(t, string(tc.m)+" grid MSE", tc.grid[g].MSE, mses[g], 1e-9)
			}
			e := get(tc.m)
			if e.Param != tc.params[best] {
				t.Errorf("n=%d %s chose %v, reference %v", n, tc.m, e.Param, tc.params[best])
			}
			checkClose(t, string(tc.m), e.Value, values[best], 1e-9)
		}

		// Diagnostics against sorting all weights.
		d := rep.Weights
		sw := floats.Sum(c.w)
		w2 := make([]float64, n)
		floats.MulTo(w2, c.w, c.w)
		checkClose(t, "ESS", d.ESS, sw*sw/floats.Sum(w2), 1e-9)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool {
			i, j := idx[a], idx[b]
			if c.w[i] != c.w[j] {
				return c.w[i] > c.w[j]
			}
			return wr[i] > wr[j]
		})
		k := min(5, n)
		var topW, topWR float64
		for _, i := range idx[:k] {
			topW += c.w[i]
			topWR += wr[i]
		}
		checkClose(t, "max weight", d.MaxWeight, c.w[idx[0]], 0)
		checkClose(t, "top share", d.TopShare, topW/sw, 1e-9)
		checkClose(t, "top estimate share", d.TopEstimateShare, topWR/floats.Sum(wr), 1e-9)
		mw, sdw := stat.MeanStdDev(c.w, nil)
		checkClose(t, "mean weight", d.MeanWeight, mw, 1e-9)
		checkClose(t, "mean weight SE", d.MeanWeightSE, sdw/math.Sqrt(float64(n)), 1e-9)
	}
}

// TestStandaloneEstimators checks that each estimator used on its own gives
// what the Summary reports.
func TestStandaloneEstimators(t *testing.T) {
	rs := randomRecords(rand.New(rand.NewPCG(17, 2)), 3000)
	var (
		o  Observed
		rp Replay
		ip IPS
		sn SNIPS
		dm DM
		dr DR
		sw SwitchDR
		ds DRos
	)
	wt := NewWeights(DefaultTopK)
	s, _ := NewSummary(Config{})
	for _, r := range rs {
		o.Add(r)
		rp.Add(r)
		ip.Add(r)
		sn.Add(r)
		dm.Add(r)
		dr.Add(r)
		sw.Add(r)
		ds.Add(r)
		wt.Add(r)
		_ = s.Add(r, nil)
	}
	rep := s.Report()
	d := wt.Diagnostics()
	if d.ESS != rep.Weights.ESS || d.MeanWeightSE != rep.Weights.MeanWeightSE || d.TopEstimateShare != rep.Weights.TopEstimateShare || len(d.Warnings) != len(rep.Weights.Warnings) {
		t.Errorf("standalone weights %+v, summary %+v", d, rep.Weights)
	}
	for _, e := range []Estimate{o.Estimate(0), rp.Estimate(0), ip.Estimate(0), sn.Estimate(0), dm.Estimate(0), dr.Estimate(0), sw.Estimate(0), ds.Estimate(0)} {
		want, _ := rep.Estimate(e.Method)
		if e.Value != want.Value || e.SE != want.SE || e.Normal != want.Normal || !(e.Param == want.Param || math.IsNaN(e.Param) && math.IsNaN(want.Param)) {
			t.Errorf("%s standalone %+v, summary %+v", e.Method, e, want)
		}
	}
	checkClose(t, "replay matches", rp.Matches(), func() float64 {
		var m float64
		for _, r := range rs {
			m += r.Target
		}
		return m
	}(), 1e-9)
}
