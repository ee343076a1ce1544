package offpolicy_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/nextbest/nextbest/offpolicy"
)

// Two target policies evaluated in one pass over a small log; the bootstrap
// counts of each decision are drawn once and shared by both.
func ExampleSummary() {
	type decision struct {
		reward, logging float64 // observed reward, π₀ of the logged action
		always, never   float64 // π of the logged action under two targets
	}
	log := []decision{
		{1, 0.5, 1, 0}, {0, 0.25, 0, 1}, {1, 0.5, 1, 0}, {0, 0.8, 0, 1},
		{1, 0.5, 0, 1}, {0, 0.5, 1, 0}, {1, 0.25, 1, 0}, {0, 0.5, 0, 1},
	}
	const b = 200
	res := offpolicy.NewResampler(b, rand.NewPCG(1, 2))
	var sums [2]*offpolicy.Summary
	for j := range sums {
		sums[j], _ = offpolicy.NewSummary(offpolicy.Config{Bootstrap: b})
	}
	var counts []float64
	for _, d := range log {
		counts = res.Counts(counts)
		for j, target := range []float64{d.always, d.never} {
			r := offpolicy.Record{Reward: d.reward, Logging: d.logging, Target: target}
			if err := sums[j].Add(r, counts); err != nil {
				fmt.Println(err)
			}
		}
	}
	for j, s := range sums {
		rep := s.Report()
		ips, _ := rep.Estimate(offpolicy.MethodIPS)
		sn, _ := rep.Estimate(offpolicy.MethodSNIPS)
		fmt.Printf("target %d: IPS %.3f, SNIPS %.3f, ESS %.1f of %d\n", j, ips.Value, sn.Value, rep.Weights.ESS, rep.N)
		for _, w := range rep.Warnings {
			fmt.Println("  warning:", w.Kind)
		}
	}
	// A decision logged without its selection probability is refused.
	fmt.Println(sums[0].Add(offpolicy.Record{Reward: 1, Target: 1}, counts) != nil)
	// By hand: target 0's weights are 2, 0, 2, 0, 0, 2, 4, 0 with rewards
	// 1, 0, 1, 0, 1, 0, 1, 0, so IPS = 8/8, SNIPS = 8/10 and
	// ESS = 10²/28; target 1's are 0, 4, 0, 1.25, 2, 0, 0, 2, so IPS = 2/8,
	// SNIPS = 2/9.25 and ESS = 9.25²/25.5625.
	//
	// Output:
	// target 0: IPS 1.000, SNIPS 0.800, ESS 3.6 of 8
	//   warning: low-ess
	//   warning: dominant-weight
	// target 1: IPS 0.250, SNIPS 0.216, ESS 3.3 of 8
	//   warning: low-ess
	//   warning: dominant-weight
	// true
}
