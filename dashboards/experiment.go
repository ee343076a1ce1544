package dashboards

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

// experimentPage is the data scientists' view of an experiment: arms and sizes, the
// sample-ratio check, every metric's statistics, the sequential interval over time, and
// the configuration.
type experimentPage struct {
	Exp      engine.Experiment
	Src      string
	Status   string
	Days     Num
	Arms     []armRow
	SRM      *srmView
	Warnings []string
	Metrics  []metricSection
	Ranges   []string
	// Over time: the charts of one metric at a time (Trend), picked with ?metric=.
	Trend  metricText
	Tabs   []trendOption
	Charts []seqChart
	Every  string // which days the charts' tables list
}

type armRow struct {
	Name, Label string
	Policy      string
	Weight      Num
	Expected    Num // customers the weights predict (SRM)
	Assigned    Num
	Decisions   Num
	Contacts    Num
	Responses   Num
	Responders  Num
	Churned     Num
	Discount    Num
	NPSAnswers  Num
	IsControl   bool
}

type srmView struct {
	ChiSq, P Num
	DF       int
	Mismatch bool
}

type metricSection struct {
	Name, Title, Kind, Unit string
	Lower, Primary          bool
	Values                  []armValue
	Rows                    []statRow
	Hidden                  int      // comparisons left out: not applicable
	Mirrored                []string // left out: the other way round of a row shown
	Points                  bool     // NPS: differences in points, no relative change
}

// mirrored reports whether a comparison is another one the other way round, which the
// table shows instead: the report compares every arm with the control, a holdout
// included, and every other arm with each holdout, so "holdout vs legacy" mirrors
// "legacy vs holdout". The difference and its intervals change sign; the p-values are
// the same.
func mirrored(a arms, m engine.MetricResult, c engine.Comparison) bool {
	if a.policy(c.Arm) != experiments.PolicyNone || c.Reference != a.x.Control {
		return false
	}
	for _, o := range m.Comparisons {
		if o.Arm == c.Reference && o.Reference == c.Arm {
			return true
		}
	}
	return false
}

type statRow struct {
	Metric         string
	Arm, Reference string
	Treatment      Num
	Control        Num
	NT, NC         Num
	AbsLift        Num
	AbsLo, AbsHi   Num
	RelLift        Num
	RelLo, RelHi   Num
	P, HolmP       Num
	Chance         Num
	SeqLo, SeqHi   Num
	SeqP           Num
	MDE, MoreDays  Num
	Verdict        Verdict
}

type seqChart struct {
	Title  string
	Chart  template.HTML
	Legend []legendItem
	Rows   []seqRow
}

type seqRow struct {
	Day                        string
	Lift, Lo, Hi, SeqLo, SeqHi Num
}

func (p *Pages) experiment(c *fiber.Ctx) (view, error) {
	id := engine.ExperimentID(strings.Clone(c.Params("id")))
	rep, err := p.eng.Report(c.UserContext(), id)
	if err != nil {
		return view{}, err
	}
	pg := experimentOf(rep, p.eng.Clock().Now(), strings.Clone(c.Query("metric")))
	return view{template: "experiment.html", title: "Experiment " + string(id), nav: "uplift", data: pg}, nil
}

func experimentOf(rep *engine.Report, now time.Time, metric string) experimentPage {
	x := rep.Experiment
	a := newArms(x)
	pg := experimentPage{Exp: x, Src: reportSrc(x.ID), Status: statusLine(x, rep.Days, now), Warnings: rep.Warnings,
		Days: numF("days", float64(rep.Days), 1, styleCount)}
	for _, arm := range rep.Arms {
		base := fmt.Sprintf("arms[name=%s].", arm.Name)
		pg.Arms = append(pg.Arms, armRow{Name: arm.Name, Label: a.label(arm.Name), Policy: arm.Policy, IsControl: arm.Name == x.Control,
			Weight:     numF(base+"weight", arm.Weight, 100, stylePct),
			Assigned:   numF(base+"assigned", float64(arm.Assigned), 1, styleCount),
			Decisions:  numF(base+"decisions", float64(arm.Decisions), 1, styleCount),
			Contacts:   numF(base+"contacts", float64(arm.Contacts), 1, styleCount),
			Responses:  numF(base+"responses", float64(arm.Responses), 1, styleCount),
			Responders: numF(base+"responders", float64(arm.Responders), 1, styleCount),
			Churned:    numF(base+"churned", float64(arm.Churned), 1, styleCount),
			Discount:   numF(base+"discount_total", arm.Discount, 1, styleMoney),
			NPSAnswers: numF(base+"nps_respondents", float64(arm.NPSAnswers), 1, styleCount),
		})
	}
	if rep.SRM != nil {
		pg.SRM = &srmView{ChiSq: num("srm.chi_sq", ptr(rep.SRM.ChiSq), 1, styleDecimal), P: num("srm.p_value", ptr(rep.SRM.PValue), 1, styleP), DF: rep.SRM.DF, Mismatch: rep.SRM.Mismatch}
		for i := range pg.Arms {
			if i < len(rep.SRM.Expected) {
				pg.Arms[i].Expected = num(fmt.Sprintf("srm.expected[%d]", i), ptr(rep.SRM.Expected[i]), 1, styleCount)
			}
		}
	}
	for _, r := range x.Ranges {
		pg.Ranges = append(pg.Ranges, fmt.Sprintf("%s: buckets %d–%d", r.Arm, r.Start, r.End-1))
	}
	if metric == "" || !validMetric(metric) {
		metric = engine.MetricNetValue
		if !contains(x.Metrics, metric) && len(x.Metrics) > 0 {
			metric = x.Metrics[0]
		}
	}
	pg.Trend = metricTextOf(metric)
	for _, m := range rep.Metrics {
		mt := metricTextOf(m.Name)
		ms := metricSection{Name: m.Name, Title: mt.Title, Kind: m.Kind, Unit: m.Unit, Lower: m.LowerIsBetter, Primary: m.Primary, Points: !mt.Relative && m.Name == engine.MetricNPS}
		for _, av := range m.Arms {
			ms.Values = append(ms.Values, armValue{Label: av.Arm, Value: num(fmt.Sprintf("metrics[name=%s].arms[arm=%s].value", m.Name, av.Arm), av.Value, mt.scale, mt.value)})
		}
		for _, cmp := range m.Comparisons {
			if notApplicable(a, m.Name, cmp.Arm, cmp.Reference) {
				ms.Hidden++ // against a holdout, which is never contacted
				continue
			}
			if mirrored(a, m, cmp) {
				ms.Mirrored = append(ms.Mirrored, cmp.Arm+" vs "+cmp.Reference)
				continue
			}
			ms.Rows = append(ms.Rows, statRowOf(a, m, cmp))
		}
		pg.Metrics = append(pg.Metrics, ms)
		pg.Tabs = append(pg.Tabs, trendOption{Name: m.Name, Title: mt.Title, Active: m.Name == metric,
			Href: fmt.Sprintf("/experiments/%s?metric=%s#over-time", x.ID, m.Name)})
		if m.Name != metric {
			continue
		}
		for ai, arm := range x.Arms {
			if arm.Name == x.Control || notApplicable(a, m.Name, arm.Name, x.Control) {
				continue
			}
			ch, every := seqChartOf(rep, m.Name, arm.Name, ai)
			pg.Charts, pg.Every = append(pg.Charts, ch), every
		}
	}
	return pg
}

func statRowOf(a arms, m engine.MetricResult, cmp engine.Comparison) statRow {
	mt := metricTextOf(m.Name)
	st := cmp.Stats
	b := cmpPath(m.Name, cmp.Arm, cmp.Reference)
	s := b + ".stats."
	rel, relLo, relHi := num(s+"rel_lift", ptr(st.RelLift), 100, styleSignedPct), num(s+"rel_ci.lo", ptr(st.RelCI.Lo), 100, styleSignedPct), num(s+"rel_ci.hi", ptr(st.RelCI.Hi), 100, styleSignedPct)
	if m.Name == engine.MetricNPS {
		// NPS differences are points: a relative change of a score that can be zero
		// or negative means nothing (−622% [−4111%, +2867%]).
		rel, relLo, relHi = noNum(), noNum(), noNum()
	}
	return statRow{Metric: m.Name, Arm: cmp.Arm, Reference: cmp.Reference,
		Treatment: num(s+"treatment", ptr(st.Treatment), mt.scale, mt.value),
		Control:   num(s+"control", ptr(st.Control), mt.scale, mt.value),
		NT:        numF(s+"n_treatment", float64(st.NTreatment), 1, styleCount),
		NC:        numF(s+"n_control", float64(st.NControl), 1, styleCount),
		AbsLift:   num(s+"abs_lift", ptr(st.AbsLift), mt.scale, mt.absSign),
		AbsLo:     num(s+"abs_ci.lo", ptr(st.AbsCI.Lo), mt.scale, mt.absSign),
		AbsHi:     num(s+"abs_ci.hi", ptr(st.AbsCI.Hi), mt.scale, mt.absSign),
		RelLift:   rel,
		RelLo:     relLo,
		RelHi:     relHi,
		P:         num(s+"p_value", ptr(st.PValue), 1, styleP),
		HolmP:     num(b+".holm_p", cmp.HolmP, 1, styleP),
		Chance:    num(s+"chance_to_beat", ptr(st.ChanceToBeat), 100, stylePct),
		SeqLo:     num(s+"seq_ci.lo", ptr(st.SeqCI.Lo), mt.scale, mt.absSign),
		SeqHi:     num(s+"seq_ci.hi", ptr(st.SeqCI.Hi), mt.scale, mt.absSign),
		SeqP:      num(s+"seq_p_value", ptr(st.SeqPValue), 1, styleP),
		MDE:       num(b+".mde", cmp.MDE, mt.scale, mt.abs),
		MoreDays:  num(b+".more_days", cmp.MoreDays, 1, styleDays),
		Verdict:   verdict(a, m, cmp),
	}
}

// seqChartOf draws one arm's cumulative lift over the control, day by day, with the
// always-valid interval (outer band) and the fixed-horizon interval (inner band); its
// table lists the days tableDays picks, and it says which.
func seqChartOf(rep *engine.Report, metric, arm string, ai int) (seqChart, string) {
	x := rep.Experiment
	mt := metricTextOf(metric)
	cls := ai % 2
	title := fmt.Sprintf("%s: %s minus %s", mt.Title, arm, x.Control)
	ch := LineChart{
		Title:   title,
		Desc:    fmt.Sprintf("Cumulative difference in %s between arm %s and the control %s at the end of each day, with the always-valid 95%% interval (outer band) and the fixed-horizon 95%% interval (inner band).", mt.Noun, arm, x.Control),
		YFormat: axisFormat(mt),
		Zero:    true,
		Height:  220,
		YLimit:  yLimit(metric),
	}
	line := Line{Class: fmt.Sprintf("s%d", cls), Dots: len(rep.Daily) < 40}
	outer := Band{Class: fmt.Sprintf("band%d", cls)}
	inner := Band{Class: fmt.Sprintf("inner%d", cls)}
	sc := seqChart{Title: title, Legend: []legendItem{{Class: line.Class, Label: "difference"}, {Class: inner.Class, Label: "95% interval (fixed horizon)"}, {Class: outer.Class, Label: "always-valid 95% interval"}}}
	rows, every := tableDays(len(rep.Daily))
	listed := make(map[int]bool, len(rows))
	for _, i := range rows {
		listed[i] = true
	}
	for i, d := range rep.Daily {
		if t, err := time.Parse(time.DateOnly, d.Day); err == nil {
			ch.XTicks = append(ch.XTicks, Tick{At: float64(i), Label: t.Format("2 Jan")})
		}
		base := fmt.Sprintf("daily[%d].metrics.%s[arm=%s].stats.", i, metric, arm)
		st := experiments.Comparison{AbsLift: math.NaN(), AbsCI: experiments.Interval{Lo: math.NaN(), Hi: math.NaN()}, SeqCI: experiments.Interval{Lo: math.NaN(), Hi: math.NaN()}}
		found := false
		for _, c := range d.Metrics[metric] {
			if c.Arm == arm {
				st, found = c.Stats, true
			}
		}
		line.Points = append(line.Points, Point{X: float64(i), Y: st.AbsLift * mt.scale})
		outer.Points = append(outer.Points, BandPoint{X: float64(i), Lo: st.SeqCI.Lo * mt.scale, Hi: st.SeqCI.Hi * mt.scale})
		inner.Points = append(inner.Points, BandPoint{X: float64(i), Lo: st.AbsCI.Lo * mt.scale, Hi: st.AbsCI.Hi * mt.scale})
		if found && listed[i] {
			sc.Rows = append(sc.Rows, seqRow{Day: d.Day,
				Lift: num(base+"abs_lift", ptr(st.AbsLift), mt.scale, mt.absSign),
				Lo:   num(base+"abs_ci.lo", ptr(st.AbsCI.Lo), mt.scale, mt.absSign), Hi: num(base+"abs_ci.hi", ptr(st.AbsCI.Hi), mt.scale, mt.absSign),
				SeqLo: num(base+"seq_ci.lo", ptr(st.SeqCI.Lo), mt.scale, mt.absSign), SeqHi: num(base+"seq_ci.hi", ptr(st.SeqCI.Hi), mt.scale, mt.absSign)})
		}
	}
	ch.Lines = []Line{line}
	ch.Bands = []Band{outer, inner}
	sc.Chart = ch.SVG()
	return sc, every
}
