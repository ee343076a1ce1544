package experiments_test

import (
	"fmt"

	"github.com/nextbest/nextbest/experiments"
)

func ExampleAllocate() {
	arms := []experiments.Arm{
		{Name: "nba", Policy: experiments.PolicyNBA, Weight: 0.45},
		{Name: "legacy", Policy: experiments.PolicyLegacy, Weight: 0.45},
		{Name: "holdout", Policy: experiments.PolicyNone, Weight: 0.10},
	}
	ranges, err := experiments.Allocate(arms)
	if err != nil {
		panic(err)
	}
	arm, _ := experiments.Assign(ranges, experiments.Bucket("exp-2026-q1", "cust-1"))
	fmt.Println(ranges)
	fmt.Println(arm)
	// Output:
	// [{nba 0 4500} {legacy 4500 9000} {holdout 9000 10000}]
	// nba
}

func ExampleCompare() {
	// Two days of a binary metric, merged, against the control.
	nba := experiments.Summary{N: 2000, Sum: 260, SumSq: 260}.Merge(experiments.Summary{N: 2100, Sum: 250, SumSq: 250})
	legacy := experiments.Summary{N: 4050, Sum: 420, SumSq: 420}
	c := experiments.Compare(nba, legacy, experiments.Binary, 0.95)
	fmt.Printf("lift %+.2fpp [%+.2f, %+.2f], p = %.4f, chance to beat %.1f%%\n",
		100*c.AbsLift, 100*c.AbsCI.Lo, 100*c.AbsCI.Hi, c.PValue, 100*c.ChanceToBeat)
	fmt.Printf("always-valid [%+.2f, %+.2f]pp\n", 100*c.SeqCI.Lo, 100*c.SeqCI.Hi)
	// The fixed-horizon test is significant, but read daily the
	// always-valid interval does not exclude 0 yet.

	// Output:
	// lift +2.07pp [+0.69, +3.45], p = 0.0033, chance to beat 99.8%
	// always-valid [-0.08, +4.21]pp
}

func ExamplePowerPlan() {
	plan := experiments.PowerPlan{Kind: experiments.Binary, Baseline: 0.10}
	nT, nC, _ := plan.SampleSize(0.01) // +1 percentage point
	mde, _ := plan.MDE(nT)
	fmt.Println(nT, nC)
	fmt.Printf("%.5f\n", mde)
	// Output:
	// 14749 14749
	// 0.01000
}
