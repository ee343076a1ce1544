package dashboards

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

// metricText is how the pages speak about one of the report's metrics.
type metricText struct {
	Name     string // the API's metric name
	Title    string // "Churn"
	noun     string // "churn", in a sentence
	Per      string // what the value is counted over, for the tile's hint
	value    numStyle
	scale    float64 // of values and absolute lifts: 100 for rates (percent, pp)
	abs      numStyle
	absSign  numStyle
	relative bool   // verdicts use the relative lift
	up, down string // verbs for a rise and a fall
	absUnit  string // after an absolute lift in a sentence
}

var metricTexts = []metricText{
	{Name: engine.MetricResponseRate, Title: "Response rate", noun: "the response rate", Per: "responses per contact", value: stylePct, scale: 100, abs: stylePP, absSign: styleSignedPP, relative: true, up: "raised", down: "lowered"},
	{Name: engine.MetricChurn, Title: "Churn", noun: "churn", Per: "customers who left, of those assigned", value: stylePct, scale: 100, abs: stylePP, absSign: styleSignedPP, relative: true, up: "raised", down: "cut"},
	{Name: engine.MetricDiscount, Title: "Retention discount", noun: "retention discounts", Per: "discount money per assigned customer", value: styleMoney, scale: 1, abs: styleMoney, absSign: styleSignedMoney, relative: true, up: "raised", down: "cut", absUnit: " per customer"},
	{Name: engine.MetricNPS, Title: "NPS", noun: "NPS", Per: "Net Promoter Score of survey respondents", value: stylePoints, scale: 1, abs: stylePoints, absSign: styleSignedPoints, relative: false, up: "raised", down: "lowered", absUnit: " points"},
	{Name: engine.MetricResponders, Title: "Responders", noun: "the share of customers who responded", Per: "customers who responded, of those assigned", value: stylePct, scale: 100, abs: stylePP, absSign: styleSignedPP, relative: true, up: "raised", down: "lowered"},
	// Net value can be negative in either arm, so a relative change says nothing: money.
	{Name: engine.MetricNetValue, Title: "Net value", noun: "net value", Per: "money per assigned customer: offers' values and objective outcomes, less discounts and contact costs", value: styleMoney, scale: 1, abs: styleMoney, absSign: styleSignedMoney, relative: false, up: "raised", down: "lowered", absUnit: " per customer"},
	{Name: engine.MetricRevenue, Title: "Revenue", noun: "revenue", Per: "revenue outcomes per assigned customer", value: styleMoney, scale: 1, abs: styleMoney, absSign: styleSignedMoney, relative: true, up: "raised", down: "lowered", absUnit: " per customer"},
}

// notApplicable reports whether a metric cannot be compared between two arms because one
// of them contacts nobody: a never-contacted holdout has no response rate, and no
// responders by construction.
func notApplicable(a arms, metric, arm, ref string) bool {
	if metric != engine.MetricResponseRate && metric != engine.MetricResponders {
		return false
	}
	return a.policy[arm] == experiments.PolicyNone || a.policy[ref] == experiments.PolicyNone
}

func metricTextOf(name string) metricText {
	for _, m := range metricTexts {
		if m.Name == name {
			return m
		}
	}
	return metricText{Name: name, Title: name, noun: name, value: styleDecimal, scale: 1, abs: styleDecimal, absSign: styleDecimal, up: "raised", down: "lowered"}
}

// Tone says how a result reads for the business.
type Tone string

// Tones of a verdict.
const (
	ToneGood    Tone = "good"    // conclusive, in the good direction
	ToneBad     Tone = "bad"     // conclusive, in the bad direction
	ToneMixed   Tone = "mixed"   // conclusive both ways on different metrics
	TonePending Tone = "pending" // not conclusive yet
	ToneNone    Tone = "none"    // no data, or not applicable
)

// Verdict is a comparison in plain language.
type Verdict struct {
	Tone       Tone
	Conclusive bool
	Label      string // "Conclusive", "Not yet conclusive", "No data yet", ...
	Sentence   []Part // the verdict: "NBA cut churn by 18% (95% CI 9% to 27%)"
	// Estimate is the always-valid interval the verdict rests on: for an inconclusive
	// result with the estimate so far, for a conclusive one on its own.
	Estimate []Part
	// Why says why an ordinary 95% interval that excludes zero has not made the result
	// conclusive: the verdict reads the always-valid one.
	Why []Part
	Big Num // the headline number: the relative (or absolute) lift, signed
}

// arms names the arms of an experiment for people.
type arms struct {
	x      engine.Experiment
	policy map[string]experiments.Policy
	count  map[experiments.Policy]int
}

func newArms(x engine.Experiment) arms {
	a := arms{x: x, policy: map[string]experiments.Policy{}, count: map[experiments.Policy]int{}}
	for _, arm := range x.Arms {
		a.policy[arm.Name] = arm.Policy
		a.count[arm.Policy]++
	}
	return a
}

// label is an arm's short name: "NBA", "Legacy", "Holdout", or the arm's own name when
// several arms share a policy.
func (a arms) label(name string) string {
	p := a.policy[name]
	if a.count[p] == 1 {
		switch p {
		case experiments.PolicyNBA:
			return "NBA"
		case experiments.PolicyLegacy:
			return "Legacy"
		case experiments.PolicyNone:
			return "Holdout"
		}
	}
	return name
}

// against names a reference arm after "vs": "the legacy campaigns", "the holdout (no contact)".
func (a arms) against(name string) string {
	p := a.policy[name]
	if a.count[p] == 1 {
		switch p {
		case experiments.PolicyLegacy:
			return "the legacy campaigns"
		case experiments.PolicyNone:
			return "the holdout (no contact)"
		case experiments.PolicyNBA:
			return "NBA"
		}
	}
	return name
}

// heroes are the arms whose results the uplift page leads with: the NBA arms, or else
// every arm that is neither the control nor a holdout, or else every arm but the control.
func (a arms) heroes() []string {
	var nba, treat, other []string
	for _, arm := range a.x.Arms {
		if arm.Name == a.x.Control {
			continue
		}
		other = append(other, arm.Name)
		if arm.Policy == experiments.PolicyNone {
			continue
		}
		treat = append(treat, arm.Name)
		if arm.Policy == experiments.PolicyNBA {
			nba = append(nba, arm.Name)
		}
	}
	switch {
	case len(nba) > 0:
		return nba
	case len(treat) > 0:
		return treat
	}
	return other
}

// cmpPath is the JSON path of a comparison in the report.
func cmpPath(metric, arm, ref string) string {
	return fmt.Sprintf("metrics[name=%s].comparisons[arm=%s][reference=%s]", metric, arm, ref)
}

// levelText is "95%" for the comparison's confidence level.
func levelText(st experiments.Comparison) string {
	if !finite(st.Level) || st.Level <= 0 || st.Level >= 1 {
		return "95%"
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", 100*st.Level), "0"), ".") + "%"
}

// verdict turns one comparison of the report into plain language. Whether a difference
// is conclusive is decided by the always-valid sequential interval (seq_significant), so
// that the page can be read every day without inflating false positives; the interval
// quoted is the comparison's ordinary confidence interval of the lift shown.
func verdict(a arms, m engine.MetricResult, c engine.Comparison) Verdict {
	mt := metricTextOf(m.Name)
	st := c.Stats
	base := cmpPath(m.Name, c.Arm, c.Reference)
	who := a.label(c.Arm)
	if notApplicable(a, m.Name, c.Arm, c.Reference) {
		what := "no response rate"
		if m.Name == engine.MetricResponders {
			what = "no responders by construction"
		}
		return Verdict{Tone: ToneNone, Label: "Not applicable", Sentence: sentence("Not applicable: the holdout is never contacted, so it has " + what + "."), Big: num(base+".stats.rel_lift", nil, 100, styleSignedPct)}
	}
	if st.NTreatment == 0 || st.NControl == 0 || !finite(st.AbsLift) {
		return Verdict{Tone: ToneNone, Label: "No data yet", Sentence: sentence("No data yet: " + noDataReason(m.Name)), Big: num(base+".stats.rel_lift", nil, 100, styleSignedPct)}
	}
	rel := mt.relative && finite(st.RelLift) && finite(st.RelCI.Lo) && finite(st.RelCI.Hi)
	lift, lo, hi, field, ciField := st.AbsLift, st.AbsCI.Lo, st.AbsCI.Hi, "abs_lift", "abs_ci"
	scale, style, sstyle, unit := mt.scale, mt.abs, mt.absSign, mt.absUnit
	if rel {
		lift, lo, hi, field, ciField = st.RelLift, st.RelCI.Lo, st.RelCI.Hi, "rel_lift", "rel_ci"
		scale, unit = 100, ""
		// One precision for the lift and its interval: whole percent once any is 10% or more.
		style, sstyle = styleRelPct, styleSignedPct
		if 100*math.Max(math.Abs(lift), math.Max(math.Abs(lo), math.Abs(hi))) >= 10 {
			style, sstyle = styleWholePct, styleSignedWholePct
		}
	} else if mt.abs == styleMoney {
		// One precision for a sum of money and its interval.
		style, sstyle = moneyStyle(false, lift, lo, hi), moneyStyle(true, lift, lo, hi)
	}
	seqStyle := mt.absSign
	if mt.abs == styleMoney {
		seqStyle = moneyStyle(true, st.AbsLift, st.SeqCI.Lo, st.SeqCI.Hi)
	}
	big := num(base+".stats."+field, &lift, scale, sstyle)
	level := levelText(st)
	// The always-valid interval is of the absolute difference: the verdict rests on it,
	// so every verdict shows it.
	seqRange := sentence(num(base+".stats.seq_ci.lo", ptr(st.SeqCI.Lo), mt.scale, seqStyle), " to ",
		num(base+".stats.seq_ci.hi", ptr(st.SeqCI.Hi), mt.scale, seqStyle), mt.absUnit)
	seqCI := sentence("always-valid "+level+" CI ", seqRange)
	estimate := sentence("So far: ", big, unit)
	if rel {
		estimate = sentence(estimate, " (", num(base+".stats.abs_lift", ptr(st.AbsLift), mt.scale, seqStyle), mt.absUnit, ")")
	}
	estimate = sentence(estimate, "; ", seqCI, ".")

	if st.SeqSignificant && lift != 0 {
		good := (lift < 0) == m.LowerIsBetter
		verb, sign := mt.up, 1.0
		if lift < 0 {
			verb, sign = mt.down, -1.0
		}
		// "cut churn by 18% (95% CI 9% to 27%)": magnitudes, so the interval's ends swap
		// when the lift is negative.
		first, second := num(base+".stats."+ciField+".lo", ptr(lo), sign*scale, style), num(base+".stats."+ciField+".hi", ptr(hi), sign*scale, style)
		if sign < 0 {
			first, second = second, first
		}
		v := Verdict{Tone: ToneBad, Conclusive: true, Label: "Conclusive", Big: big,
			Sentence: sentence(who+" "+verb+" "+mt.noun+" by ", num(base+".stats."+field, &lift, sign*scale, style), unit, " ("+level+" CI ", first, " to ", second, ")"),
			Estimate: sentence("Always-valid "+level+" CI of the difference: ", seqRange, ", which excludes zero.")}
		if good {
			v.Tone = ToneGood
		}
		return v
	}
	v := Verdict{Tone: TonePending, Label: "Not yet conclusive", Estimate: estimate, Big: big}
	if st.Significant && lift != 0 {
		v.Why = sentence("The ordinary "+level+" CI, ", num(base+".stats."+ciField+".lo", ptr(lo), scale, sstyle), " to ", num(base+".stats."+ciField+".hi", ptr(hi), scale, sstyle), unit,
			", excludes zero, but it holds for one look at a planned sample size only; the verdict waits for the always-valid interval, which holds however often this page is read.")
	}
	switch {
	case stopped(a.x):
		v.Label = "Inconclusive"
		v.Sentence = sentence("No conclusive difference: the experiment stopped before one showed.")
	case c.MoreDays != nil && *c.MoreDays > maxDays:
		v.Sentence = sentence("Not yet conclusive: at the current rate it would take more than a year to tell, so the difference may be too small to matter.")
	case c.MoreDays != nil:
		v.Sentence = sentence("Not yet conclusive: about ", num(base+".more_days", c.MoreDays, 1, styleDays), plural(*c.MoreDays, " more day", " more days")+" at the current rate.")
	case lift == 0:
		v.Sentence = sentence("No difference so far.")
	case st.Significant:
		// The fixed-horizon test is significant but the always-valid interval still
		// includes no change: more days will tell, but the power calculation that
		// estimates how many assumes the fixed-horizon test.
		v.Sentence = sentence("Not yet conclusive: promising, but keep it running before acting on it.")
	default:
		v.Sentence = sentence("Not yet conclusive: not enough data yet to estimate how long it will take.")
	}
	return v
}

// maxDays is the longest wait a verdict quotes: beyond a year, "about 1,338 more days"
// says no more than "the difference may be too small to matter".
const maxDays = 365

func plural(n float64, one, many string) string {
	if math.Ceil(n) == 1 {
		return one
	}
	return many
}

func stopped(x engine.Experiment) bool { return x.State == engine.Stopped }

func noDataReason(metric string) string {
	switch metric {
	case engine.MetricResponseRate:
		return "no contacts recorded in one of the arms."
	case engine.MetricNPS:
		return "no NPS survey answers recorded in one of the arms."
	}
	return "no customers recorded in one of the arms."
}

// Headline is an experiment's answer to "is NBA winning, and by how much?".
type Headline struct {
	Tone      Tone
	Title     string
	Lead      string   // introduces Sentences: "Against the legacy campaigns, so far:"
	Sentences [][]Part // one verdict each
	Note      []Part   // when nothing is conclusive: what to expect
}

// headline summarises the primary metrics of the hero arms against the control: winning
// when at least one is conclusively better and none conclusively worse.
func headline(a arms, rep *engine.Report) Headline {
	var good, bad []string
	var goodV, badV []Verdict
	var minDays *Num
	hero := a.heroes()
	anyData := false
	for _, arm := range rep.Arms {
		if arm.Assigned > 0 {
			anyData = true
		}
	}
	if !anyData {
		return Headline{Tone: ToneNone, Title: "No results yet", Note: sentence("No customer has been assigned to this experiment yet. Results appear here once decisions are made.")}
	}
	// Churn first: it is what the business case for NBA usually rests on.
	order := []string{engine.MetricChurn, engine.MetricResponseRate, engine.MetricDiscount, engine.MetricNPS}
	metrics := append([]engine.MetricResult(nil), rep.Metrics...)
	rank := func(name string) int {
		for i, o := range order {
			if o == name {
				return i
			}
		}
		return len(order)
	}
	sort.SliceStable(metrics, func(i, j int) bool { return rank(metrics[i].Name) < rank(metrics[j].Name) })
	for _, m := range metrics {
		if !m.Primary {
			continue
		}
		for _, c := range m.Comparisons {
			if c.Reference != rep.Experiment.Control || !contains(hero, c.Arm) {
				continue
			}
			v := verdict(a, m, c)
			switch v.Tone {
			case ToneGood:
				good, goodV = append(good, metricTextOf(m.Name).noun), append(goodV, v)
			case ToneBad:
				bad, badV = append(bad, metricTextOf(m.Name).noun), append(badV, v)
			case TonePending:
				if c.MoreDays != nil && (minDays == nil || *c.MoreDays < *minDays.Value) {
					n := num(cmpPath(m.Name, c.Arm, c.Reference)+".more_days", c.MoreDays, 1, styleDays)
					minDays = &n
				}
			}
		}
	}
	who := "NBA"
	if len(hero) == 1 {
		who = a.label(hero[0])
	}
	vs := a.against(rep.Experiment.Control)
	h := Headline{Lead: "Against " + vs + ", so far:"}
	with := func(v Verdict) []Part { return sentence(v.Sentence, ".") }
	switch {
	case len(bad) > 0 && len(good) > 0:
		h.Tone, h.Title = ToneMixed, fmt.Sprintf("Mixed: %s wins on %s but loses on %s", who, join(good), join(bad))
		for _, v := range append(goodV, badV...) {
			h.Sentences = append(h.Sentences, with(v))
		}
	case len(bad) > 0:
		h.Tone, h.Title = ToneBad, fmt.Sprintf("%s is losing on %s", who, join(bad))
		for _, v := range badV {
			h.Sentences = append(h.Sentences, with(v))
		}
	case len(good) > 0:
		h.Tone, h.Title = ToneGood, fmt.Sprintf("%s is winning", who)
		for _, v := range goodV {
			h.Sentences = append(h.Sentences, with(v))
		}
	default:
		h.Tone, h.Title, h.Lead = TonePending, "Too early to tell", ""
		s := sentence(fmt.Sprintf("No primary metric differs conclusively between %s and %s yet.", who, vs))
		if minDays != nil && *minDays.Value <= maxDays && !stopped(rep.Experiment) {
			s = sentence(s, " The clearest difference so far should be conclusive in about ", *minDays, plural(*minDays.Value, " more day", " more days"), " at the current rate.")
		}
		if stopped(rep.Experiment) {
			s = sentence(s, " The experiment has stopped.")
		}
		h.Note = s
	}
	return h
}

// join lists names in a sentence: "a", "a and b", "a, b and c".
func join(xs []string) string {
	if len(xs) < 3 {
		return strings.Join(xs, " and ")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
