package api

import (
	"encoding/csv"
	"math"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

// writeReportCSV writes the daily series: one row per day, arm, reference and metric, with
// the cumulative values up to the end of that day.
func writeReportCSV(c *fiber.Ctx, rep *engine.Report) error {
	w := csv.NewWriter(c)
	_ = w.Write([]string{"day", "metric", "arm", "reference", "arm_value", "reference_value", "arm_n", "reference_n", "abs_lift", "abs_ci_low", "abs_ci_high",
		"rel_lift", "rel_ci_low", "rel_ci_high", "p_value", "chance_to_beat", "seq_ci_low", "seq_ci_high", "seq_p_value"})
	f := func(x float64) string {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', 10, 64)
	}
	for _, d := range rep.Daily {
		for _, m := range []string{engine.MetricResponseRate, engine.MetricChurn, engine.MetricDiscount, engine.MetricNPS, engine.MetricResponders} {
			for _, cmp := range d.Metrics[m] {
				st := cmp.Stats
				_ = w.Write([]string{d.Day, m, cmp.Arm, cmp.Reference, f(st.Treatment), f(st.Control), strconv.Itoa(st.NTreatment), strconv.Itoa(st.NControl),
					f(st.AbsLift), f(st.AbsCI.Lo), f(st.AbsCI.Hi), f(st.RelLift), f(st.RelCI.Lo), f(st.RelCI.Hi), f(st.PValue), f(st.ChanceToBeat),
					f(st.SeqCI.Lo), f(st.SeqCI.Hi), f(st.SeqPValue)})
			}
		}
	}
	w.Flush()
	return w.Error()
}

// power is the power and minimum-detectable-effect calculator:
//
//	GET /v1/power?kind=binary&baseline=0.05&mde=0.01   -> customers needed per arm
//	GET /v1/power?kind=mean&sd=40&n=5000                -> smallest detectable effect
//
// Optional: ratio (control size / treatment size, default 1), level (0.95), power (0.8).
func (s *Server) power(c *fiber.Ctx) error {
	kind, err := experiments.ParseKind(c.Query("kind", "binary"))
	if err != nil {
		return engine.Invalid("invalid_query", "kind: %v", err)
	}
	num := func(name string, def float64) (float64, error) {
		q := c.Query(name)
		if q == "" {
			return def, nil
		}
		v, err := strconv.ParseFloat(q, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, engine.Invalid("invalid_query", "%s: %q is not a number", name, truncateQ(q))
		}
		return v, nil
	}
	plan := experiments.PowerPlan{Kind: kind}
	for _, p := range []struct {
		name string
		dst  *float64
	}{{"baseline", &plan.Baseline}, {"sd", &plan.SD}, {"level", &plan.Level}, {"power", &plan.Power}, {"ratio", &plan.Ratio}} {
		if *p.dst, err = num(p.name, 0); err != nil {
			return err
		}
	}
	mde, err := num("mde", 0)
	if err != nil {
		return err
	}
	inputs := wire.PowerInputs{Kind: kind.String(), Level: or0(plan.Level, experiments.DefaultLevel), Power: or0(plan.Power, experiments.DefaultPower), Ratio: or0(plan.Ratio, 1)}
	if kind == experiments.Binary {
		inputs.Baseline = &plan.Baseline
	} else {
		inputs.SD = &plan.SD
	}
	n, err := num("n", 0)
	if err != nil {
		return err
	}
	switch {
	case mde > 0 && n == 0:
		t, ctl, err := plan.SampleSize(mde)
		if err != nil {
			return engine.Invalid("invalid_query", "%v", err)
		}
		return c.JSON(wire.Power{Inputs: inputs, MDE: mde, Treatment: t, Control: ctl, Total: t + ctl})
	case n > 0 && mde == 0:
		if n != math.Trunc(n) || n > 1e12 {
			return engine.Invalid("invalid_query", "n: a whole number of treatment-arm customers")
		}
		m, err := plan.MDE(int(n))
		if err != nil {
			return engine.Invalid("invalid_query", "%v", err)
		}
		return c.JSON(wire.Power{Inputs: inputs, Treatment: int(n), MDE: m})
	}
	return engine.Invalid("invalid_query", "give mde (to get the sample size) or n (to get the detectable effect), not both")
}

func or0(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}
