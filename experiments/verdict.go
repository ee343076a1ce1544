package experiments

import (
	"math"
	"strings"
)

// A verdict words one comparison of an experiment's report for people: conclusive or
// not, in which direction, by how much, and when more will be known. Its wording lives
// here, once, as does the experiment's headline (Design.Headline). The dashboards render
// a Verdict's Statements, marking each Figure with the report value it shows; the
// simulator's report prints them with String.

// Tone says how a result reads for the business.
type Tone string

// Tones of a verdict or a headline.
const (
	ToneGood    Tone = "good"    // conclusive, in the good direction
	ToneBad     Tone = "bad"     // conclusive, in the bad direction
	ToneMixed   Tone = "mixed"   // conclusive both ways on different metrics (a headline)
	TonePending Tone = "pending" // not conclusive yet
	ToneNone    Tone = "none"    // no data, or not applicable
)

// Key names one comparison of a report: Arm against Reference on Metric.
type Key struct {
	Metric, Arm, Reference string
}

// Result is one comparison of an experiment's report, as a verdict reads it.
type Result struct {
	Key
	// LowerIsBetter says a fall of the metric is good (churn, discounts).
	LowerIsBetter bool
	// Primary marks the experiment's primary metrics: the headline reads only those.
	Primary bool
	// Diff compares Arm with Reference.
	Diff Comparison
	// MoreDays estimates how many more days until the observed difference would be
	// detected; nil when unknown.
	MoreDays *float64
}

// FigureMoreDays is the Source of a Figure that shows Result.MoreDays. Every other figure
// of a verdict names a field of Result.Diff by its JSON name ("rel_lift", "abs_ci.lo",
// "seq_ci.hi"), and Figure.Of the comparison.
const FigureMoreDays = "more_days"

// Design is what verdicts need to know of an experiment: its arms, its control, and
// whether it has stopped.
type Design struct {
	Arms    []Arm
	Control string
	Stopped bool
}

// policy is the arm's policy and how many arms share it.
func (d Design) policy(name string) (Policy, int) {
	var p Policy
	found := false
	for _, a := range d.Arms {
		if a.Name == name {
			p, found = a.Policy, true
		}
	}
	if !found {
		return "", 0
	}
	n := 0
	for _, a := range d.Arms {
		if a.Policy == p {
			n++
		}
	}
	return p, n
}

// Label is an arm's short name: "NBA", "Legacy", "Holdout", or the arm's own name when
// several arms share its policy.
func (d Design) Label(arm string) string {
	if p, n := d.policy(arm); n == 1 {
		switch p {
		case PolicyNBA:
			return "NBA"
		case PolicyLegacy:
			return "Legacy"
		case PolicyNone:
			return "Holdout"
		}
	}
	return arm
}

// Against names a reference arm after "vs" or "than": "the legacy campaigns", "the
// holdout (no contact)", "NBA", or the arm's own name when several arms share its policy.
func (d Design) Against(arm string) string {
	if p, n := d.policy(arm); n == 1 {
		switch p {
		case PolicyLegacy:
			return "the legacy campaigns"
		case PolicyNone:
			return "the holdout (no contact)"
		case PolicyNBA:
			return "NBA"
		}
	}
	return arm
}

// Heroes are the arms whose results an experiment's summary leads with: the NBA arms, or
// else every arm that is neither the control nor a holdout, or else every arm but the
// control.
func (d Design) Heroes() []string {
	var nba, treat, other []string
	for _, arm := range d.Arms {
		if arm.Name == d.Control {
			continue
		}
		other = append(other, arm.Name)
		if arm.Policy == PolicyNone {
			continue
		}
		treat = append(treat, arm.Name)
		if arm.Policy == PolicyNBA {
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

// NotApplicable reports whether a metric cannot be compared between two arms because one
// of them contacts nobody: a never-contacted holdout has no response rate, and no
// responders by construction.
func (d Design) NotApplicable(metric, arm, reference string) bool {
	if metric != metricResponseRate && metric != metricResponders {
		return false
	}
	pa, _ := d.policy(arm)
	pr, _ := d.policy(reference)
	return pa == PolicyNone || pr == PolicyNone
}

// Verdict is a comparison in plain language.
type Verdict struct {
	Tone       Tone
	Conclusive bool
	Label      string    // "Conclusive", "Not yet conclusive", "Inconclusive", "No data yet", "Not applicable"
	Sentence   Statement // the verdict: "NBA cut churn by 18% (95% CI 9% to 27%)"
	// Estimate is the always-valid interval the verdict rests on: for an inconclusive
	// result with the estimate so far, for a conclusive one on its own.
	Estimate Statement
	// Why says why an ordinary interval that excludes zero has not made the result
	// conclusive: the verdict reads the always-valid one.
	Why Statement
	Big Figure // the headline number: the relative (or absolute) lift, signed
	// Winner is the label of the arm a conclusive result favours; empty otherwise.
	Winner string
}

// String is the verdict as plain text: its sentence, then the estimate it rests on.
func (v Verdict) String() string {
	s := v.Sentence.String()
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	if e := v.Estimate.String(); e != "" {
		s += " " + e
	}
	return s
}

// Short is the verdict in a few words for a summary line: "NBA better", "Legacy better",
// or its label in lower case ("not yet conclusive").
func (v Verdict) Short() string {
	if v.Conclusive && v.Winner != "" {
		return v.Winner + " better"
	}
	return strings.ToLower(v.Label)
}

// maxDays is the longest wait a verdict quotes: beyond a year, "about 1,338 more days"
// says no more than "the difference may be too small to matter".
const maxDays = 365

// Verdict words one comparison. Whether a difference is conclusive is decided by the
// always-valid confidence sequence (Diff.SeqSignificant; Waudby-Smith et al. 2023, see
// Sequence), so that the result can be read every day without inflating false positives;
// the interval quoted beside a conclusive lift is the comparison's ordinary confidence
// interval of that lift, and every verdict quotes the always-valid interval it rests on.
// A rate's lift is quoted relative ("cut churn by 18%"), NPS in points and net value in
// money (MetricText.Relative).
func (d Design) Verdict(r Result) Verdict {
	mt := MetricTextOf(r.Metric)
	st := r.Diff
	fig := func(src string, value, scale float64, s style) Figure {
		f := Figure{Source: src, Value: value, Scale: scale, Text: "—", Of: r.Key}
		if finite(value) {
			f.Text = s.format(value * scale)
		} else {
			f.Value = math.NaN()
		}
		return f
	}
	who := d.Label(r.Arm)
	if d.NotApplicable(r.Metric, r.Arm, r.Reference) {
		what := "no response rate"
		if r.Metric == metricResponders {
			what = "no responders by construction"
		}
		return Verdict{Tone: ToneNone, Label: "Not applicable", Sentence: words("Not applicable: the holdout is never contacted, so it has " + what + "."),
			Big: fig("rel_lift", math.NaN(), 100, styleSignedPct)}
	}
	if st.NTreatment == 0 || st.NControl == 0 || !finite(st.AbsLift) {
		return Verdict{Tone: ToneNone, Label: "No data yet", Sentence: words("No data yet: " + noDataReason(r.Metric)), Big: fig("rel_lift", math.NaN(), 100, styleSignedPct)}
	}
	absScale := mt.Unit.Scale()
	absPlain, absSigned := mt.Unit.absStyles()
	rel := mt.Relative && finite(st.RelLift) && finite(st.RelCI.Lo) && finite(st.RelCI.Hi)
	lift, lo, hi, field, ciField := st.AbsLift, st.AbsCI.Lo, st.AbsCI.Hi, "abs_lift", "abs_ci"
	scale, plainStyle, signedStyle, unit := absScale, absPlain, absSigned, mt.AbsUnit
	if rel {
		lift, lo, hi, field, ciField = st.RelLift, st.RelCI.Lo, st.RelCI.Hi, "rel_lift", "rel_ci"
		scale, unit = 100, ""
		// One precision for the lift and its interval: whole percent once any is 10% or more.
		plainStyle, signedStyle = styleRelPct, styleSignedPct
		if 100*math.Max(math.Abs(lift), math.Max(math.Abs(lo), math.Abs(hi))) >= 10 {
			plainStyle, signedStyle = styleWholePct, styleSignedWholePct
		}
	} else if mt.Unit == UnitMoney {
		// One precision for a sum of money and its interval.
		plainStyle, signedStyle = moneyStyle(false, lift, lo, hi), moneyStyle(true, lift, lo, hi)
	}
	seqStyle := absSigned
	if mt.Unit == UnitMoney {
		seqStyle = moneyStyle(true, st.AbsLift, st.SeqCI.Lo, st.SeqCI.Hi)
	}
	big := fig(field, lift, scale, signedStyle)
	level := levelPercent(st.Level)
	// The always-valid interval is of the absolute difference: the verdict rests on it,
	// so every verdict shows it.
	seqRange := words(fig("seq_ci.lo", st.SeqCI.Lo, absScale, seqStyle), " to ", fig("seq_ci.hi", st.SeqCI.Hi, absScale, seqStyle), mt.AbsUnit)
	seqCI := words("always-valid "+level+" CI ", seqRange)
	estimate := words("So far: ", big, unit)
	if rel {
		estimate = words(estimate, " (", fig("abs_lift", st.AbsLift, absScale, seqStyle), mt.AbsUnit, ")")
	}
	estimate = words(estimate, "; ", seqCI, ".")

	if st.SeqSignificant && lift != 0 {
		good := (lift < 0) == r.LowerIsBetter
		verb, sign := mt.Up, 1.0
		if lift < 0 {
			verb, sign = mt.Down, -1.0
		}
		// "cut churn by 18% (95% CI 9% to 27%)": magnitudes, so the interval's ends swap
		// when the lift is negative.
		first, second := fig(ciField+".lo", lo, sign*scale, plainStyle), fig(ciField+".hi", hi, sign*scale, plainStyle)
		if sign < 0 {
			first, second = second, first
		}
		v := Verdict{Tone: ToneBad, Conclusive: true, Label: "Conclusive", Big: big, Winner: d.Label(r.Reference),
			Sentence: words(who+" "+verb+" "+mt.Noun+" by ", fig(field, lift, sign*scale, plainStyle), unit, " ("+level+" CI ", first, " to ", second, ")"),
			Estimate: words("Always-valid "+level+" CI of the difference: ", seqRange, ", which excludes zero.")}
		if good {
			v.Tone, v.Winner = ToneGood, who
		}
		return v
	}
	v := Verdict{Tone: TonePending, Label: "Not yet conclusive", Estimate: estimate, Big: big}
	if st.Significant && lift != 0 {
		v.Why = words("The ordinary "+level+" CI, ", fig(ciField+".lo", lo, scale, signedStyle), " to ", fig(ciField+".hi", hi, scale, signedStyle), unit,
			", excludes zero, but it holds for one look at a planned sample size only; the verdict waits for the always-valid interval, which holds however often this page is read.")
	}
	switch {
	case d.Stopped:
		v.Label = "Inconclusive"
		v.Sentence = words("No conclusive difference: the experiment stopped before one showed.")
	case r.MoreDays != nil && *r.MoreDays > maxDays:
		v.Sentence = words("Not yet conclusive: at the current rate it would take more than a year to tell, so the difference may be too small to matter.")
	case r.MoreDays != nil:
		v.Sentence = words("Not yet conclusive: about ", fig(FigureMoreDays, *r.MoreDays, 1, styleDays), plural(*r.MoreDays, " more day", " more days")+" at the current rate.")
	case lift == 0:
		v.Sentence = words("No difference so far.")
	case st.Significant:
		// The fixed-horizon test is significant but the always-valid interval still
		// includes no change: more days will tell, but the power calculation that
		// estimates how many assumes the fixed-horizon test.
		v.Sentence = words("Not yet conclusive: promising, but keep it running before acting on it.")
	default:
		v.Sentence = words("Not yet conclusive: not enough data yet to estimate how long it will take.")
	}
	return v
}

func plural(n float64, one, many string) string {
	if math.Ceil(n) == 1 {
		return one
	}
	return many
}

func noDataReason(metric string) string {
	switch metric {
	case metricResponseRate:
		return "no contacts recorded in one of the arms."
	case metricNPS:
		return "no NPS survey answers recorded in one of the arms."
	}
	return "no customers recorded in one of the arms."
}

// words builds a Statement from text, figures and other statements.
func words(items ...any) Statement {
	var s Statement
	for _, it := range items {
		switch v := it.(type) {
		case string:
			s.Parts = append(s.Parts, Phrase{Text: v})
		case Figure:
			s.Parts = append(s.Parts, Phrase{Figure: &v})
		case Statement:
			s.Parts = append(s.Parts, v.Parts...)
		default:
			panic("experiments: statement part of unexpected type")
		}
	}
	return s
}
