package engine

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/nextbest/nextbest/experiments"
)

// Report is an experiment's results: per-arm totals, every metric compared with the
// control (and with each no-contact holdout), the sample-ratio check, and a daily series
// of the cumulative figures. It is computed from the daily rollups only.
type Report struct {
	Experiment Experiment             `json:"experiment"`
	Generated  time.Time              `json:"generated"`
	Days       int                    `json:"days"` // days with data
	Arms       []ArmTotals            `json:"arms"`
	Metrics    []MetricResult         `json:"metrics"`
	SRM        *experiments.SRMResult `json:"srm,omitempty"`
	Warnings   []string               `json:"warnings"`
	Daily      []DayResult            `json:"daily"`
}

// ArmTotals is one arm's cumulative counts.
type ArmTotals struct {
	Name       string  `json:"name"`
	Policy     string  `json:"policy"`
	Weight     float64 `json:"weight"`
	Assigned   int64   `json:"assigned"`
	Decisions  int64   `json:"decisions"`
	Contacts   int64   `json:"contacts"`
	Responses  int64   `json:"responses"`
	Responders int64   `json:"responders"`
	Churned    int64   `json:"churned"`
	Discount   float64 `json:"discount_total"`
	NPSAnswers int     `json:"nps_respondents"`
	Revenue    float64 `json:"revenue_total"`
	NetValue   float64 `json:"net_value_total"`
}

// MetricResult is one metric: its value per arm and the comparisons.
type MetricResult struct {
	Name          string       `json:"name"`
	Kind          string       `json:"kind"`
	Unit          string       `json:"unit"` // what one unit of the metric is counted over
	LowerIsBetter bool         `json:"lower_is_better"`
	Primary       bool         `json:"primary"`
	Arms          []MetricArm  `json:"arms"`
	Comparisons   []Comparison `json:"comparisons"`
}

// MetricArm is a metric's value in one arm.
type MetricArm struct {
	Arm   string   `json:"arm"`
	N     int      `json:"n"`
	Value *float64 `json:"value"` // null when the arm has no data for the metric
}

// Comparison is one arm against a reference arm on one metric.
type Comparison struct {
	Arm       string                 `json:"arm"`
	Reference string                 `json:"reference"` // the control, or a holdout
	Stats     experiments.Comparison `json:"stats"`
	// HolmP is the p-value adjusted (Holm 1979) across the experiment's primary metrics
	// for this pair of arms; null for secondary metrics.
	HolmP *float64 `json:"holm_p"`
	// MDE is the smallest absolute effect this sample detects with 80% power at the
	// report's level (two-sided, fixed horizon).
	MDE *float64 `json:"mde"`
	// MoreDays estimates how many more days, at the current enrollment rate, until the
	// observed effect would be detected with 80% power; null when conclusive, or when
	// the observed effect is zero.
	MoreDays *float64 `json:"more_days"`
}

// DayResult is the cumulative state at the end of one day.
type DayResult struct {
	Day     string                  `json:"day"`
	Arms    []ArmTotals             `json:"arms"`
	Metrics map[string][]Comparison `json:"metrics"` // by metric name: each arm against the control
}

type metricDef struct {
	name, unit    string
	kind          experiments.Kind
	lowerIsBetter bool
	summary       func(r *Rollup) experiments.Summary
}

var metricDefs = []metricDef{
	{MetricResponseRate, "contact", experiments.Binary, false, func(r *Rollup) experiments.Summary {
		x := float64(min(r.Responses, r.Contacts))
		return experiments.Summary{N: int(r.Contacts), Sum: x, SumSq: x}
	}},
	{MetricChurn, "assigned customer", experiments.Binary, true, func(r *Rollup) experiments.Summary {
		return experiments.Summary{N: int(r.Assigned), Sum: float64(r.Churned), SumSq: float64(r.Churned)}
	}},
	{MetricDiscount, "assigned customer", experiments.Mean, true, func(r *Rollup) experiments.Summary {
		return experiments.Summary{N: int(r.Assigned), Sum: r.DiscountSum, SumSq: r.DiscountSumSq}
	}},
	{MetricNPS, "respondent", experiments.NPS, false, func(r *Rollup) experiments.Summary { return r.NPS }},
	{MetricResponders, "assigned customer", experiments.Binary, false, func(r *Rollup) experiments.Summary {
		return experiments.Summary{N: int(r.Assigned), Sum: float64(r.Responders), SumSq: float64(r.Responders)}
	}},
	{MetricNetValue, "assigned customer", experiments.Mean, false, func(r *Rollup) experiments.Summary {
		return experiments.Summary{N: int(r.Assigned), Sum: r.NetSum, SumSq: r.NetSumSq}
	}},
	{MetricRevenue, "assigned customer", experiments.Mean, false, func(r *Rollup) experiments.Summary {
		return experiments.Summary{N: int(r.Assigned), Sum: r.RevenueSum, SumSq: r.RevenueSumSq}
	}},
}

// Report computes an experiment's report from its daily rollups.
func (e *Engine) Report(ctx context.Context, id ExperimentID) (*Report, error) {
	x, err := e.Experiment(id)
	if err != nil {
		return nil, err
	}
	if err := e.Flush(ctx); err != nil { // count every decision logged before the call
		return nil, err
	}
	rolls, err := e.store.Rollups(ctx, id)
	if err != nil {
		return nil, err
	}
	rep := &Report{Experiment: x, Generated: e.clock.Now().UTC(), Warnings: []string{}, Daily: []DayResult{}}
	armIndex := map[string]int{}
	for i, a := range x.Arms {
		armIndex[a.Name] = i
	}
	// Cumulative rollup per arm, day by day.
	var days []string
	byDay := map[string][]*Rollup{}
	for i := range rolls {
		r := &rolls[i]
		if _, ok := armIndex[r.Arm]; !ok {
			continue
		}
		if byDay[r.Day] == nil {
			days = append(days, r.Day)
		}
		byDay[r.Day] = append(byDay[r.Day], r)
	}
	sort.Strings(days)
	rep.Days = len(days)
	cum := make([]Rollup, len(x.Arms))
	for _, d := range days {
		for _, r := range byDay[d] {
			addRollup(&cum[armIndex[r.Arm]], r)
		}
		totals := armTotals(&x, cum)
		dr := DayResult{Day: d, Arms: totals, Metrics: map[string][]Comparison{}}
		for _, m := range metricDefs {
			for i, a := range x.Arms {
				if a.Name == x.Control {
					continue
				}
				c := m.compare(&cum[i], &cum[armIndex[x.Control]])
				dr.Metrics[m.name] = append(dr.Metrics[m.name], Comparison{Arm: a.Name, Reference: x.Control, Stats: c})
			}
		}
		rep.Daily = append(rep.Daily, dr)
	}
	rep.Arms = armTotals(&x, cum)

	// References: the control, and every no-contact holdout.
	refs := []string{x.Control}
	for _, a := range x.Arms {
		if a.Policy == experiments.PolicyNone && a.Name != x.Control {
			refs = append(refs, a.Name)
		}
	}
	perDay := 0.0
	if len(days) > 0 {
		perDay = 1 / float64(len(days))
	}
	for _, m := range metricDefs {
		primary := contains(x.Metrics, m.name)
		mr := MetricResult{Name: m.name, Kind: m.kind.String(), Unit: m.unit, LowerIsBetter: m.lowerIsBetter, Primary: primary}
		for i, a := range x.Arms {
			s := m.summary(&cum[i])
			mr.Arms = append(mr.Arms, MetricArm{Arm: a.Name, N: s.N, Value: finitePtr(s.Mean())})
		}
		for _, ref := range refs {
			for i, a := range x.Arms {
				if a.Name == ref || (ref != x.Control && a.Policy == experiments.PolicyNone) {
					continue
				}
				rc := &cum[armIndex[ref]]
				c := Comparison{Arm: a.Name, Reference: ref, Stats: m.compare(&cum[i], rc)}
				c.MDE, c.MoreDays = m.power(&cum[i], rc, c.Stats, perDay)
				mr.Comparisons = append(mr.Comparisons, c)
			}
		}
		rep.Metrics = append(rep.Metrics, mr)
	}
	holm(rep)

	// Sample ratio: assigned customers per arm against the weights.
	observed := make([]int, len(x.Arms))
	weights := make([]float64, len(x.Arms))
	total := 0
	for i, a := range x.Arms {
		observed[i], weights[i] = int(cum[i].Assigned), a.Weight
		total += observed[i]
	}
	if total > 0 {
		if srm, err := experiments.SRM(observed, weights); err == nil {
			rep.SRM = &srm
			if srm.Mismatch {
				rep.Warnings = append(rep.Warnings, "sample ratio mismatch: the arms' sizes do not match their weights (p < 0.001); assignment or logging is broken, and the results should not be trusted until it is explained")
			}
		}
	}
	return rep, nil
}

func (m metricDef) compare(t, c *Rollup) experiments.Comparison {
	return experiments.CompareWith(m.summary(t), m.summary(c), experiments.CompareOptions{Kind: m.kind, LowerIsBetter: m.lowerIsBetter})
}

// power returns the minimum detectable effect at the current sizes and, for an
// inconclusive comparison, the estimated days until the observed effect is detectable.
func (m metricDef) power(t, c *Rollup, cmp experiments.Comparison, perDay float64) (mde, more *float64) {
	st, sc := m.summary(t), m.summary(c)
	if st.N < 2 || sc.N < 2 {
		return nil, nil
	}
	plan := experiments.PowerPlan{Kind: m.kind, Ratio: float64(sc.N) / float64(st.N)}
	if m.kind == experiments.Binary {
		plan.Baseline = sc.Mean()
		if plan.Baseline <= 0 || plan.Baseline >= 1 {
			return nil, nil
		}
	} else {
		plan.SD = math.Sqrt((st.Variance() + sc.Variance()) / 2)
		if !(plan.SD > 0) {
			return nil, nil
		}
	}
	if v, err := plan.MDE(st.N); err == nil {
		mde = finitePtr(v)
	}
	if cmp.Significant || cmp.AbsLift == 0 || !finite(cmp.AbsLift) || perDay == 0 {
		return mde, nil
	}
	need, _, err := plan.SampleSize(math.Abs(cmp.AbsLift))
	if err != nil || need <= st.N {
		return mde, nil
	}
	rate := float64(st.N) * perDay // treatment-arm units per day so far
	if rate <= 0 {
		return mde, nil
	}
	d := math.Ceil(float64(need-st.N) / rate)
	return mde, &d
}

// holm adjusts, for each (arm, reference) pair, the p-values of the primary metrics.
func holm(rep *Report) {
	type pair struct{ arm, ref string }
	idx := map[pair][]*Comparison{}
	for mi := range rep.Metrics {
		m := &rep.Metrics[mi]
		if !m.Primary {
			continue
		}
		for ci := range m.Comparisons {
			c := &m.Comparisons[ci]
			idx[pair{c.Arm, c.Reference}] = append(idx[pair{c.Arm, c.Reference}], c)
		}
	}
	for _, cs := range idx {
		ps := make([]float64, len(cs))
		for i, c := range cs {
			ps[i] = c.Stats.PValue
		}
		for i, p := range experiments.Holm(ps) {
			cs[i].HolmP = finitePtr(p)
		}
	}
}

func armTotals(x *Experiment, cum []Rollup) []ArmTotals {
	out := make([]ArmTotals, len(x.Arms))
	for i, a := range x.Arms {
		r := &cum[i]
		out[i] = ArmTotals{Name: a.Name, Policy: string(a.Policy), Weight: a.Weight, Assigned: r.Assigned, Decisions: r.Decisions, Contacts: r.Contacts,
			Responses: r.Responses, Responders: r.Responders, Churned: r.Churned, Discount: r.DiscountSum, NPSAnswers: r.NPS.N,
			Revenue: r.RevenueSum, NetValue: r.NetSum}
	}
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
