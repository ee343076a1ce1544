package offpolicy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestModelBias checks the model check of the direct method: on a log of two
// actions with known click rates, a reward model that is right raises no
// warning, one that overstates the target's action by 0.1 raises model-bias,
// and the warning's figures are the mean and z of the DR correction computed
// here by hand (Dudík, Langford & Li 2011: DR = DM + mean w (r − q̂)).
func TestModelBias(t *testing.T) {
	truth := [2]float64{0.2, 0.5}
	run := func(bias float64) (Report, []float64) {
		s, err := NewSummary(Config{})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(7, 8))
		var corr []float64
		for range 20000 {
			a := 0 // uniform logging over two actions; the target always takes action 1
			if rng.Float64() < 0.5 {
				a = 1
			}
			r := 0.0
			if rng.Float64() < truth[a] {
				r = 1
			}
			q := [2]float64{truth[0], truth[1] + bias}
			rec := Record{Reward: r, Logging: 0.5, Model: q[a], ModelTarget: q[1]}
			if a == 1 {
				rec.Target = 1
			}
			if err := s.Add(rec, nil); err != nil {
				t.Fatal(err)
			}
			corr = append(corr, rec.Weight()*(r-q[a]))
		}
		return s.Report(), corr
	}
	has := func(rep Report) (Warning, bool) {
		for _, w := range rep.Warnings {
			if w.Kind == WarnModelBias {
				return w, true
			}
		}
		return Warning{}, false
	}

	if rep, _ := run(0); true {
		if w, ok := has(rep); ok {
			t.Errorf("a right model raised %q", w.Message)
		}
	}
	rep, corr := run(0.1)
	w, ok := has(rep)
	if !ok {
		t.Fatalf("a model 0.1 too high raised no model-bias warning: %+v", rep.Warnings)
	}
	// The correction's mean and its standard error, by the textbook formulas.
	var sum float64
	for _, c := range corr {
		sum += c
	}
	mean := sum / float64(len(corr))
	var ss float64
	for _, c := range corr {
		ss += (c - mean) * (c - mean)
	}
	se := math.Sqrt(ss / float64(len(corr)-1) / float64(len(corr)))
	if math.Abs(mean-(-0.1)) > 4*se {
		t.Errorf("mean correction %v, want about -0.1 (the model's bias, negated)", mean)
	}
	dm, _ := rep.Estimate(MethodDM)
	dr, _ := rep.Estimate(MethodDR)
	if math.Abs(dr.Value-dm.Value-mean) > 1e-9 {
		t.Errorf("DR − DM = %v, want the mean correction %v", dr.Value-dm.Value, mean)
	}
	for _, want := range []string{fmtG(mean), fmtZ(mean / se), fmtG(-mean)} {
		if !strings.Contains(w.Message, want) {
			t.Errorf("warning %q does not say %s", w.Message, want)
		}
	}
}

func fmtG(x float64) string { return strings.TrimSpace(sprintf("%.4g", x)) }
func fmtZ(z float64) string { return sprintf("%.1f standard errors", z) }

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
