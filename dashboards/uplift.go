package dashboards

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
	"github.com/nextbest/nextbest/internal/numtext"
)

// upliftPage is the executives' page: for each experiment shown, whether NBA is winning
// and by how much.
type upliftPage struct {
	Shown  []upliftExp
	Others []experimentLink
	Empty  bool // no experiment at all
}

type experimentLink struct {
	ID    engine.ExperimentID
	State string
	When  string
}

type upliftExp struct {
	Exp      engine.Experiment
	Src      string // the JSON API response every number comes from
	Status   string
	Arms     []armSummary
	Bottom   []bottomLine // the bottom line: each hero arm's net value against the control
	Headline Headline
	SRM      bool
	Warnings []string
	Tiles    []tile
	Impact   []impactRow
	Trend    trend
	Inspect  bool // link to the experiment page
}

type armSummary struct {
	Name     string
	Label    string
	Policy   experiments.Policy
	Weight   string
	Assigned Num
}

type tile struct {
	Metric  metricText
	Primary bool
	Lower   bool
	Values  []armValue
	Rows    []tileRow
}

type armValue struct {
	Label string
	Value Num
}

type tileRow struct {
	Against string
	Verdict Verdict
}

// bottomLine is one sentence: whether an arm creates value against the control
// (experiments.BottomLine, rendered).
type bottomLine struct {
	Tone     Tone
	Against  string
	Sentence []Part
}

type impactRow struct {
	Against    string
	Conclusive bool // churn
	Currency   string
	// Net value: the difference per assigned customer and over the arm's customers, with
	// their always-valid intervals.
	NetKnown        bool
	NetConclusive   bool
	Net             Num
	NetLo, NetHi    Num
	NetTotal        Num
	NetTotalLo      Num
	NetTotalHi      Num
	NetWord         string // "more" or "less"
	Saved           Num    // customers kept per 10,000
	SavedLo         Num
	SavedHi         Num
	SavedWord       string // "kept" or "lost"
	Money           Num    // discount money saved per assigned customer
	MoneyLo         Num
	MoneyHi         Num
	Total           Num // in total, over the arm's assigned customers
	TotalLo         Num
	TotalHi         Num
	MoneyWord       string // "less" or "more"
	MoneyConclusive bool
	Assigned        Num
	MoneyKnown      bool
	ChurnKnown      bool
}

type trend struct {
	Metric  metricText
	Every   string // which days the table lists: "every day", "every 7th day"
	CSV     string // the full daily series
	Options []trendOption
	Chart   template.HTML
	Legend  []legendItem
	Rows    []trendRow
	Arms    []string // labels of the arms in Rows' cells
	Control string
	Unit    string
}

type trendOption struct {
	Name, Title string
	Href        string
	Active      bool
}

type legendItem struct {
	Class, Label string
}

type trendRow struct {
	Day   string
	Cells []trendCell
}

type trendCell struct {
	Lift, Lo, Hi Num
}

func (p *Pages) uplift(c *fiber.Ctx) (view, error) {
	all := p.eng.Experiments()
	pg := upliftPage{Empty: len(all) == 0}
	want := engine.ExperimentID(strings.Clone(c.Query("experiment")))
	metric := strings.Clone(c.Query("metric"))
	var shown []engine.Experiment
	switch {
	case want != "":
		x, err := p.eng.Experiment(want)
		if err != nil {
			return view{}, err
		}
		shown = append(shown, x)
	default:
		for _, x := range all {
			if x.State == engine.Running {
				shown = append(shown, x)
			}
		}
		if len(shown) == 0 {
			// Nothing running: show the most recently stopped experiment.
			var last *engine.Experiment
			for i := range all {
				x := &all[i]
				if x.State == engine.Stopped && x.Stopped != nil && (last == nil || x.Stopped.After(*last.Stopped)) {
					last = x
				}
			}
			if last != nil {
				shown = append(shown, *last)
			}
		}
	}
	role, _ := p.sess.Role(c)
	for _, x := range shown {
		rep, err := p.eng.Report(c.UserContext(), x.ID)
		if err != nil {
			return view{}, err
		}
		ux := upliftOf(rep, metric, p.eng.Clock().Now(), p.opts.Currency)
		ux.Inspect = role.Allows(access.PermInspect)
		pg.Shown = append(pg.Shown, ux)
	}
	for _, x := range all {
		if len(shown) > 0 && containsExp(shown, x.ID) {
			continue
		}
		l := experimentLink{ID: x.ID, State: x.State}
		switch {
		case x.Stopped != nil:
			l.When = "stopped " + fmtDay(*x.Stopped)
		case x.Started != nil:
			l.When = "started " + fmtDay(*x.Started)
		default:
			l.When = "created " + fmtDay(x.Created)
		}
		pg.Others = append(pg.Others, l)
	}
	return view{template: "uplift.html", title: "Uplift", nav: "uplift", data: pg}, nil
}

func containsExp(xs []engine.Experiment, id engine.ExperimentID) bool {
	for _, x := range xs {
		if x.ID == id {
			return true
		}
	}
	return false
}

func reportSrc(id engine.ExperimentID) string { return "/v1/experiments/" + string(id) + "/report" }

// upliftOf builds the uplift view of one experiment's report.
func upliftOf(rep *engine.Report, metric string, now time.Time, currency string) upliftExp {
	x := rep.Experiment
	a := newArms(x)
	ux := upliftExp{Exp: x, Src: reportSrc(x.ID), Headline: headline(a, rep), Bottom: bottomLines(rep, a, currency)}
	ux.Status = statusLine(x, rep.Days, now)
	ux.SRM = rep.SRM != nil && rep.SRM.Mismatch
	for _, w := range rep.Warnings {
		if !(ux.SRM && strings.HasPrefix(w, "sample ratio mismatch")) {
			ux.Warnings = append(ux.Warnings, w) // the SRM has its own plain-language alert
		}
	}
	for _, arm := range rep.Arms {
		ux.Arms = append(ux.Arms, armSummary{Name: arm.Name, Label: a.label(arm.Name), Policy: experiments.Policy(arm.Policy),
			Weight: numtext.Fixed(100*arm.Weight, numtext.DecimalsFor(100*arm.Weight, 0)) + "%", Assigned: numF(fmt.Sprintf("arms[name=%s].assigned", arm.Name), float64(arm.Assigned), 1, styleCount)})
	}
	heroes := a.heroes()
	refs := references(x)
	// Tiles: the four business metrics, in the order, then any other primary one.
	order := []string{engine.MetricResponseRate, engine.MetricChurn, engine.MetricDiscount, engine.MetricNPS}
	for _, m := range rep.Metrics {
		if !contains(order, m.Name) && contains(x.Metrics, m.Name) {
			order = append(order, m.Name)
		}
	}
	for _, name := range order {
		m, ok := metricOf(rep, name)
		if !ok {
			continue
		}
		mt := metricTextOf(name)
		t := tile{Metric: mt, Primary: m.Primary, Lower: m.LowerIsBetter}
		for _, av := range m.Arms {
			t.Values = append(t.Values, armValue{Label: a.label(av.Arm), Value: num(fmt.Sprintf("metrics[name=%s].arms[arm=%s].value", name, av.Arm), av.Value, mt.scale, mt.value)})
		}
		for _, h := range heroes {
			for _, ref := range refs {
				cmp, ok := comparisonOf(m, h, ref)
				if !ok {
					continue
				}
				against := "vs " + a.against(ref)
				if len(heroes) > 1 {
					against = a.label(h) + " " + against
				}
				t.Rows = append(t.Rows, tileRow{Against: against, Verdict: verdict(a, m, cmp)})
			}
		}
		ux.Tiles = append(ux.Tiles, t)
	}
	ux.Impact = impactOf(rep, a, heroes, refs, currency)
	ux.Trend = trendOf(rep, a, heroes, metric)
	return ux
}

// references are the arms the others are compared with: the control, then the holdouts.
func references(x engine.Experiment) []string {
	refs := []string{x.Control}
	for _, arm := range x.Arms {
		if arm.Policy == experiments.PolicyNone && arm.Name != x.Control {
			refs = append(refs, arm.Name)
		}
	}
	return refs
}

func metricOf(rep *engine.Report, name string) (engine.MetricResult, bool) {
	for _, m := range rep.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return engine.MetricResult{}, false
}

func comparisonOf(m engine.MetricResult, arm, ref string) (engine.Comparison, bool) {
	for _, c := range m.Comparisons {
		if c.Arm == arm && c.Reference == ref {
			return c, true
		}
	}
	return engine.Comparison{}, false
}

func statusLine(x engine.Experiment, days int, now time.Time) string {
	switch x.State {
	case engine.Running:
		if x.Started == nil {
			return "Running"
		}
		d := int(now.Sub(*x.Started).Hours()/24) + 1
		return fmt.Sprintf("Running since %s (day %d)", fmtDay(*x.Started), max(d, 1))
	case engine.Stopped:
		if x.Started != nil && x.Stopped != nil {
			return fmt.Sprintf("Stopped: ran from %s to %s", fmtDay(*x.Started), fmtDay(*x.Stopped))
		}
		return "Stopped"
	}
	return "Draft: not started yet"
}

// bottomLines words, for each hero arm, its net value per assigned customer against the
// control in one sentence (experiments.BottomLine: the wording lives there), each figure
// tied to the report value it shows.
func bottomLines(rep *engine.Report, a arms, currency string) []bottomLine {
	x := rep.Experiment
	m, ok := metricOf(rep, engine.MetricNetValue)
	if !ok {
		return nil
	}
	var out []bottomLine
	for _, h := range a.heroes() {
		c, ok := comparisonOf(m, h, x.Control)
		if !ok {
			continue
		}
		s := experiments.BottomLine(experiments.NetValue{Arm: a.label(h), Reference: a.against(x.Control), Diff: c.Stats,
			Customers: assignedOf(rep, h), Currency: currency, Stopped: stopped(x)})
		out = append(out, bottomLine{Tone: findingTone(s.Finding), Against: a.against(x.Control),
			Sentence: statementParts(s, cmpPath(m.Name, h, x.Control)+".stats.", fmt.Sprintf("arms[name=%s].assigned", h))})
	}
	return out
}

// findingTone is how a bottom line reads for the business.
func findingTone(f experiments.Finding) Tone {
	switch f {
	case experiments.FindingCreating:
		return ToneGood
	case experiments.FindingLosing:
		return ToneBad
	case experiments.FindingPending, experiments.FindingInconclusive:
		return TonePending
	}
	return ToneNone
}

// statementParts renders an experiments.Statement: each figure marked with the path of
// its value, the comparison's field under stats (base) or the arm's customers.
func statementParts(s experiments.Statement, stats, customers string) []Part {
	out := make([]Part, 0, len(s.Parts))
	for _, p := range s.Parts {
		if p.Figure == nil {
			out = append(out, Part{Text: p.Text})
			continue
		}
		f := p.Figure
		path := stats + f.Source
		if f.Source == experiments.FigureCustomers {
			path = customers
		}
		n := Num{Path: path, Value: ptr(f.Value), Scale: f.Scale, Text: f.Text}
		n.HTML = n.markup()
		out = append(out, Part{Num: &n})
	}
	return out
}

func assignedOf(rep *engine.Report, arm string) int64 {
	for _, t := range rep.Arms {
		if t.Name == arm {
			return t.Assigned
		}
	}
	return 0
}

// impactOf computes the incremental impact rows, each figure with the always-valid 95%
// interval that its verdict reads:
//   - net value: the difference per assigned customer (abs_lift of net_value), and times
//     the arm's assigned customers;
//   - customers kept per 10,000 assigned: −abs_lift of churn × 10,000;
//   - discount money saved: −abs_lift of the discount per assigned customer, per customer
//     and times the arm's assigned customers.
func impactOf(rep *engine.Report, a arms, heroes, refs []string, currency string) []impactRow {
	churn, hasChurn := metricOf(rep, engine.MetricChurn)
	disc, hasDisc := metricOf(rep, engine.MetricDiscount)
	net, hasNet := metricOf(rep, engine.MetricNetValue)
	var out []impactRow
	for _, h := range heroes {
		assigned := assignedOf(rep, h)
		n := float64(assigned)
		for _, ref := range refs {
			row := impactRow{Against: "Compared with " + a.against(ref), SavedWord: "kept", MoneyWord: "less", NetWord: "more", Currency: currency,
				Assigned: numF(fmt.Sprintf("arms[name=%s].assigned", h), n, 1, styleCount)}
			if len(heroes) > 1 {
				row.Against = a.label(h) + " compared with " + a.against(ref)
			}
			if c, ok := comparisonOf(net, h, ref); hasNet && ok && finite(c.Stats.AbsLift) && (c.Stats.AbsLift != 0 || c.Stats.SE != 0) {
				st, base := c.Stats, cmpPath(net.Name, h, ref)+".stats."
				sign := 1.0
				if st.AbsLift < 0 {
					sign, row.NetWord = -1, "less"
				}
				row.NetKnown, row.NetConclusive = true, st.SeqSignificant
				row.Net, row.NetLo, row.NetHi, row.NetTotal, row.NetTotalLo, row.NetTotalHi = moneyFigures(st, base, sign, n)
			}
			if c, ok := comparisonOf(churn, h, ref); hasChurn && ok && finite(c.Stats.AbsLift) {
				st, base := c.Stats, cmpPath(churn.Name, h, ref)+".stats."
				sign := -1.0 // a fall in churn is customers kept
				if st.AbsLift > 0 {
					sign, row.SavedWord = 1, "lost"
				}
				row.ChurnKnown = true
				row.Conclusive = st.SeqSignificant
				row.Saved = num(base+"abs_lift", ptr(st.AbsLift), sign*10000, styleCount)
				row.SavedLo, row.SavedHi = num(base+"seq_ci.lo", ptr(st.SeqCI.Lo), sign*10000, styleCount), num(base+"seq_ci.hi", ptr(st.SeqCI.Hi), sign*10000, styleCount)
				if sign < 0 {
					row.SavedLo, row.SavedHi = row.SavedHi, row.SavedLo
				}
			}
			if c, ok := comparisonOf(disc, h, ref); hasDisc && ok && finite(c.Stats.AbsLift) {
				st, base := c.Stats, cmpPath(disc.Name, h, ref)+".stats."
				sign := -1.0
				if st.AbsLift > 0 {
					sign, row.MoneyWord = 1, "more"
				}
				row.MoneyKnown, row.MoneyConclusive = true, st.SeqSignificant
				row.Money, row.MoneyLo, row.MoneyHi, row.Total, row.TotalLo, row.TotalHi = moneyFigures(st, base, sign, n)
			}
			out = append(out, row)
		}
	}
	return out
}

// moneyFigures is a money difference with its always-valid 95% interval, per assigned
// customer and times the n assigned customers: st's abs_lift and seq_ci (at the report
// path base) times sign, each in the money style of its own size. A negative sign swaps
// the interval's ends, so that lo stays the smaller.
func moneyFigures(st experiments.Comparison, base string, sign, n float64) (one, lo, hi, total, totalLo, totalHi Num) {
	perOne := moneyStyle(false, st.AbsLift, st.SeqCI.Lo, st.SeqCI.Hi)
	perAll := moneyStyle(false, n*st.AbsLift, n*st.SeqCI.Lo, n*st.SeqCI.Hi)
	one = num(base+"abs_lift", ptr(st.AbsLift), sign, perOne)
	lo, hi = num(base+"seq_ci.lo", ptr(st.SeqCI.Lo), sign, perOne), num(base+"seq_ci.hi", ptr(st.SeqCI.Hi), sign, perOne)
	total = num(base+"abs_lift", ptr(st.AbsLift), sign*n, perAll)
	totalLo, totalHi = num(base+"seq_ci.lo", ptr(st.SeqCI.Lo), sign*n, perAll), num(base+"seq_ci.hi", ptr(st.SeqCI.Hi), sign*n, perAll)
	if sign < 0 {
		lo, hi = hi, lo
		totalLo, totalHi = totalHi, totalLo
	}
	return one, lo, hi, total, totalLo, totalHi
}

// trendOf draws the daily cumulative lift of one metric against the control, with its
// always-valid (sequential) interval as the band: the band leaving zero is exactly when
// the verdict becomes conclusive.
func trendOf(rep *engine.Report, a arms, heroes []string, metric string) trend {
	x := rep.Experiment
	if metric == "" || !validMetric(metric) {
		// The bottom line's metric first, then churn, then the first primary metric.
		metric = engine.MetricNetValue
		if !contains(x.Metrics, metric) {
			metric = engine.MetricChurn
		}
		if !contains(x.Metrics, metric) && len(x.Metrics) > 0 {
			metric = x.Metrics[0]
		}
	}
	mt := metricTextOf(metric)
	tr := trend{Metric: mt, Control: a.label(x.Control), Unit: unitOf(mt)}
	for _, m := range []string{engine.MetricNetValue, engine.MetricResponseRate, engine.MetricChurn, engine.MetricDiscount, engine.MetricNPS} {
		tr.Options = append(tr.Options, trendOption{Name: m, Title: metricTextOf(m).Title, Active: m == metric,
			Href: fmt.Sprintf("/?experiment=%s&metric=%s#trend-%s", x.ID, m, x.ID)})
	}
	// The arms charted: the heroes, compared with the control.
	var charted []string
	for _, h := range heroes {
		if h != x.Control {
			charted = append(charted, h)
		}
	}
	chart := LineChart{
		YLimit:  yLimit(metric),
		Title:   fmt.Sprintf("%s: %s minus %s, by day", mt.Title, strings.Join(labels(a, charted), ", "), a.label(x.Control)),
		Desc:    fmt.Sprintf("Cumulative difference in %s between %s and %s at the end of each day, with its always-valid 95%% interval shaded. The numbers are in the table below.", mt.Noun, strings.Join(labels(a, charted), ", "), a.label(x.Control)),
		YFormat: axisFormat(mt),
		Zero:    true,
		Width:   960,
		Height:  300,
	}
	for i, d := range rep.Daily {
		if t, err := time.Parse(time.DateOnly, d.Day); err == nil {
			chart.XTicks = append(chart.XTicks, Tick{At: float64(i), Label: t.Format("2 Jan")})
		}
	}
	for ai, arm := range charted {
		tr.Arms = append(tr.Arms, a.label(arm))
		line := Line{Class: fmt.Sprintf("s%d", ai), Dots: len(rep.Daily) < 40}
		band := Band{Class: fmt.Sprintf("band%d", ai)}
		for i, d := range rep.Daily {
			st := experiments.Comparison{AbsLift: math.NaN(), SeqCI: experiments.Interval{Lo: math.NaN(), Hi: math.NaN()}}
			for _, c := range d.Metrics[metric] {
				if c.Arm == arm {
					st = c.Stats
				}
			}
			line.Points = append(line.Points, Point{X: float64(i), Y: st.AbsLift * mt.scale})
			band.Points = append(band.Points, BandPoint{X: float64(i), Lo: st.SeqCI.Lo * mt.scale, Hi: st.SeqCI.Hi * mt.scale})
		}
		chart.Lines = append(chart.Lines, line)
		chart.Bands = append(chart.Bands, band)
		tr.Legend = append(tr.Legend, legendItem{Class: line.Class, Label: a.label(arm) + " minus " + a.label(x.Control)}, legendItem{Class: band.Class, Label: "always-valid 95% interval"})
	}
	rows, every := tableDays(len(rep.Daily))
	tr.Every, tr.CSV = every, reportSrc(x.ID)+"?format=csv"
	for _, i := range rows {
		d := rep.Daily[i]
		row := trendRow{Day: d.Day}
		for _, arm := range charted {
			base := fmt.Sprintf("daily[%d].metrics.%s[arm=%s].stats.", i, metric, arm)
			cell := trendCell{Lift: num(base+"abs_lift", nil, mt.scale, mt.absSign), Lo: num(base+"seq_ci.lo", nil, mt.scale, mt.absSign), Hi: num(base+"seq_ci.hi", nil, mt.scale, mt.absSign)}
			for _, c := range d.Metrics[metric] {
				if c.Arm == arm {
					cell = trendCell{Lift: num(base+"abs_lift", ptr(c.Stats.AbsLift), mt.scale, mt.absSign),
						Lo: num(base+"seq_ci.lo", ptr(c.Stats.SeqCI.Lo), mt.scale, mt.absSign), Hi: num(base+"seq_ci.hi", ptr(c.Stats.SeqCI.Hi), mt.scale, mt.absSign)}
				}
			}
			row.Cells = append(row.Cells, cell)
		}
		tr.Rows = append(tr.Rows, row)
	}
	tr.Chart = chart.SVG()
	return tr
}

// tableDays picks the days a chart's table lists: every day of a month or less, else every
// 7th day counted back from the last, so that a 90-day experiment's tables stay short (the
// report's CSV has every day). It returns their indices, oldest first, and says which.
func tableDays(n int) ([]int, string) {
	const everyDay, step = 31, 7
	var out []int
	if n <= everyDay {
		for i := range n {
			out = append(out, i)
		}
		return out, "every day"
	}
	for i := n - 1; i >= 0; i -= step {
		out = append(out, i)
	}
	slices.Reverse(out)
	return out, "every 7th day, back from the last"
}

// axisFormat writes a difference chart's y ticks: money in whole units when the tick is
// whole (+50, not +50.00 beside +100), other metrics in their signed style.
func axisFormat(mt metricText) func(float64) string {
	return func(v float64) string {
		if mt.abs == styleMoney && v == math.Trunc(v) {
			return formatNum(v, styleSignedMoneyWhole)
		}
		return formatNum(v, mt.absSign)
	}
}

// yLimit bounds a metric's difference chart: NPS differences within ±100 points (the
// always-valid interval of a few answers reaches ±200), other metrics from the data.
func yLimit(metric string) [2]float64 {
	if metric == engine.MetricNPS {
		return [2]float64{-100, 100}
	}
	return [2]float64{}
}

func validMetric(name string) bool {
	for _, m := range metricTexts {
		if m.Name == name {
			return true
		}
	}
	return false
}

func unitOf(mt metricText) string {
	switch mt.abs {
	case stylePP:
		return "percentage points"
	case stylePoints:
		return "NPS points"
	case styleMoney:
		return "money per assigned customer"
	}
	return ""
}

func labels(a arms, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = a.label(n)
	}
	return out
}
