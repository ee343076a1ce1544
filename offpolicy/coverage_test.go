package offpolicy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// coverageTol is the allowed distance of an observed coverage from its
// nominal 0.95 over reps repetitions: 3.5 binomial standard errors,
// sqrt(0.95·0.05/reps), so that the ~20 checks of this file together raise a
// false alarm with probability about 1% (Bonferroni).
func coverageTol(reps int) float64 { return 3.5 * math.Sqrt(0.95*0.05/float64(reps)) }

type coverageCase struct {
	name      string
	logTemp   float64   // logging softmax temperature; +Inf is uniform
	temps     []float64 // target temperatures; 0 is deterministic
	n, reps   int
	boot      int
	normal    []Method // methods whose normal interval must cover at 95%
	boots     []Method // methods whose bootstrap interval must cover at 95%
	bernstein []Method // methods whose Bernstein interval must cover at ≥ 95%
}

// TestCoverage draws many logs from a synthetic world whose target values
// are known exactly and counts how often each interval covers the truth.
func TestCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("coverage simulation")
	}
	unbiased := []Method{MethodIPS, MethodSNIPS, MethodDR}
	cases := []coverageCase{
		{
			name: "softmax logging", logTemp: 0.5, temps: []float64{0.2, 0},
			n: 2000, reps: 1000,
			normal:    unbiased,
			bernstein: []Method{MethodIPS, MethodDR},
		},
		{
			// Replay is unbiased only under uniform logging (Li et al. 2011).
			name: "uniform logging", logTemp: math.Inf(1), temps: []float64{0},
			n: 2000, reps: 1000,
			normal: append([]Method{MethodReplay}, unbiased...),
		},
		{
			name: "bootstrap", logTemp: 0.5, temps: []float64{0.2},
			n: 1000, reps: 300, boot: 200,
			boots: unbiased,
		},
	}
	for ci, tc := range cases {
		if raceEnabled {
			tc.reps /= 4
		}
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(17, uint64(100+ci)))
			w := newWorld(rng, 20, 5, tc.logTemp, tc.temps)
			logVal := w.value(w.logging)
			res := NewResampler(tc.boot, rand.NewPCG(17, uint64(200+ci)))
			type key struct {
				target int
				m      Method
				kind   string
			}
			covered := map[key]int{}
			width := map[key]float64{}
			var counts []float64
			for range tc.reps {
				sums := make([]*Summary, len(tc.temps))
				for j := range sums {
					wmax := w.maxWeight(w.targets[j])
					sums[j], _ = NewSummary(Config{Bootstrap: tc.boot, Bounds: Bounds{0, 1, wmax}})
				}
				for range tc.n {
					d := w.draw(rng)
					if tc.boot > 0 {
						counts = res.Counts(counts)
					}
					for j, s := range sums {
						if err := s.Add(w.record(d, w.targets[j]), counts); err != nil {
							t.Fatal(err)
						}
					}
				}
				for j, s := range sums {
					truth := w.value(w.targets[j])
					rep := s.Report()
					for _, e := range rep.Estimates {
						want := truth
						if e.Method == MethodObserved {
							want = logVal
						}
						for kind, iv := range map[string]Interval{"normal": e.Normal, "bootstrap": e.Bootstrap, "bernstein": e.Bernstein} {
							k := key{j, e.Method, kind}
							if iv.Contains(want) {
								covered[k]++
							}
							width[k] += iv.Width() / float64(tc.reps)
						}
					}
				}
			}
			tol := coverageTol(tc.reps)
			check := func(j int, ms []Method, kind string, atLeast bool) {
				for _, m := range ms {
					k := key{j, m, kind}
					c := float64(covered[k]) / float64(tc.reps)
					if atLeast && c < 0.95-tol || !atLeast && math.Abs(c-0.95) > tol {
						t.Errorf("target %d (temperature %v) %s %s coverage %.3f, want 0.95 ± %.3f", j, tc.temps[j], m, kind, c, tol)
					}
				}
			}
			for j := range tc.temps {
				check(j, []Method{MethodObserved}, "normal", false)
				check(j, tc.normal, "normal", false)
				check(j, tc.boots, "bootstrap", false)
				check(j, tc.bernstein, "bernstein", true)
				// Report every coverage, including those not asserted: DM
				// (biased model), switch-DR and DRos (tuned, biased).
				for _, m := range Methods {
					line := fmt.Sprintf("target %d (temp %v, V = %.4f, max w %.1f) %-9s", j, tc.temps[j], w.value(w.targets[j]), w.maxWeight(w.targets[j]), m)
					for _, kind := range []string{"normal", "bootstrap", "bernstein"} {
						k := key{j, m, kind}
						if !math.IsNaN(width[k]) {
							line += fmt.Sprintf("  %s %.3f (width %.4f)", kind, float64(covered[k])/float64(tc.reps), width[k])
						}
					}
					t.Log(line)
				}
			}
		})
	}
}
