package dashboards

import (
	"fmt"
	"slices"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

// The verdicts and the headline of an experiment are worded by package experiments
// (Design.Verdict, Design.Headline): the pages only render them, each figure marked with
// the path of the report value it shows.

// metricText is how the pages show one of the report's metrics: its wording
// (experiments.MetricText) and how its values are written in tiles and tables.
type metricText struct {
	experiments.MetricText
	scale   float64 // of values and absolute lifts: 100 for rates (percent, pp)
	value   numStyle
	abs     numStyle
	absSign numStyle
}

// metricTexts are the pages' metrics, in the order they list them.
var metricTexts = func() []metricText {
	var out []metricText
	for _, m := range experiments.MetricTexts() {
		out = append(out, metricTextFor(m))
	}
	return out
}()

func metricTextFor(m experiments.MetricText) metricText {
	mt := metricText{MetricText: m, scale: m.Unit.Scale()}
	switch m.Unit {
	case experiments.UnitRate:
		mt.value, mt.abs, mt.absSign = stylePct, stylePP, styleSignedPP
	case experiments.UnitMoney:
		mt.value, mt.abs, mt.absSign = styleMoney, styleMoney, styleSignedMoney
	case experiments.UnitPoints:
		mt.value, mt.abs, mt.absSign = stylePoints, stylePoints, styleSignedPoints
	default:
		mt.value, mt.abs, mt.absSign = styleDecimal, styleDecimal, styleDecimal
	}
	return mt
}

func metricTextOf(name string) metricText { return metricTextFor(experiments.MetricTextOf(name)) }

// Tone says how a result reads for the business (experiments.Tone).
type Tone = experiments.Tone

// Tones of a verdict.
const (
	ToneGood    = experiments.ToneGood
	ToneBad     = experiments.ToneBad
	ToneMixed   = experiments.ToneMixed
	TonePending = experiments.TonePending
	ToneNone    = experiments.ToneNone
)

// Verdict is a comparison in plain language (experiments.Verdict), rendered.
type Verdict struct {
	Tone       Tone
	Conclusive bool
	Label      string // "Conclusive", "Not yet conclusive", "No data yet", ...
	Sentence   []Part // the verdict: "NBA cut churn by 18% (95% CI 9% to 27%)"
	// Estimate is the always-valid interval the verdict rests on.
	Estimate []Part
	// Why says why an ordinary 95% interval that excludes zero has not made the result
	// conclusive.
	Why []Part
	Big Num // the headline number: the relative (or absolute) lift, signed
}

// arms names the arms of an experiment for people (experiments.Design).
type arms struct {
	x engine.Experiment
	d experiments.Design
}

func newArms(x engine.Experiment) arms {
	return arms{x: x, d: experiments.Design{Arms: x.Arms, Control: x.Control, Stopped: stopped(x)}}
}

// label is an arm's short name: "NBA", "Legacy", "Holdout", or the arm's own name.
func (a arms) label(name string) string { return a.d.Label(name) }

// against names a reference arm after "vs": "the legacy campaigns", "the holdout (no contact)".
func (a arms) against(name string) string { return a.d.Against(name) }

// heroes are the arms whose results the uplift page leads with.
func (a arms) heroes() []string { return a.d.Heroes() }

// policy is an arm's policy; empty for an arm the experiment does not have.
func (a arms) policy(name string) experiments.Policy {
	for _, arm := range a.x.Arms {
		if arm.Name == name {
			return arm.Policy
		}
	}
	return ""
}

func contains(xs []string, s string) bool { return slices.Contains(xs, s) }

// notApplicable reports whether a metric cannot be compared between two arms because one
// of them contacts nobody.
func notApplicable(a arms, metric, arm, ref string) bool {
	return a.d.NotApplicable(metric, arm, ref)
}

// cmpPath is the JSON path of a comparison in the report.
func cmpPath(metric, arm, ref string) string {
	return fmt.Sprintf("metrics[name=%s].comparisons[arm=%s][reference=%s]", metric, arm, ref)
}

// resultOf is one comparison of the report as experiments' verdicts read it.
func resultOf(m engine.MetricResult, c engine.Comparison) experiments.Result {
	return experiments.Result{Key: experiments.Key{Metric: m.Name, Arm: c.Arm, Reference: c.Reference},
		LowerIsBetter: m.LowerIsBetter, Primary: m.Primary, Diff: c.Stats, MoreDays: c.MoreDays}
}

// verdict renders experiments' verdict of one comparison of the report.
func verdict(a arms, m engine.MetricResult, c engine.Comparison) Verdict {
	v := a.d.Verdict(resultOf(m, c))
	return Verdict{Tone: v.Tone, Conclusive: v.Conclusive, Label: v.Label, Sentence: verdictParts(v.Sentence), Estimate: verdictParts(v.Estimate),
		Why: verdictParts(v.Why), Big: figureNum(v.Big)}
}

// figureNum is a verdict's figure marked with the path of its value in the report: the
// comparison's field under stats, or its more_days.
func figureNum(f experiments.Figure) Num {
	path := cmpPath(f.Of.Metric, f.Of.Arm, f.Of.Reference)
	if f.Source == experiments.FigureMoreDays {
		path += "." + f.Source
	} else {
		path += ".stats." + f.Source
	}
	n := Num{Path: path, Value: ptr(f.Value), Scale: f.Scale, Text: f.Text}
	n.HTML = n.markup()
	return n
}

// verdictParts renders a verdict's statement; nil when it is empty.
func verdictParts(s experiments.Statement) []Part {
	if len(s.Parts) == 0 {
		return nil
	}
	out := make([]Part, 0, len(s.Parts))
	for _, p := range s.Parts {
		if p.Figure == nil {
			out = append(out, Part{Text: p.Text})
			continue
		}
		n := figureNum(*p.Figure)
		out = append(out, Part{Num: &n})
	}
	return out
}

func stopped(x engine.Experiment) bool { return x.State == engine.Stopped }

// Headline is an experiment's answer to "is NBA winning, and by how much?"
// (experiments.Headline), rendered.
type Headline struct {
	Tone      Tone
	Title     string
	Lead      string   // introduces Sentences: "Against the legacy campaigns, so far:"
	Sentences [][]Part // one verdict each
	Note      []Part   // when nothing is conclusive: what to expect
}

// headline renders experiments' headline of the report.
func headline(a arms, rep *engine.Report) Headline {
	assigned := false
	for _, arm := range rep.Arms {
		if arm.Assigned > 0 {
			assigned = true
		}
	}
	var rs []experiments.Result
	for _, m := range rep.Metrics {
		for _, c := range m.Comparisons {
			rs = append(rs, resultOf(m, c))
		}
	}
	h := a.d.Headline(rs, assigned)
	out := Headline{Tone: h.Tone, Title: h.Title, Lead: h.Lead, Note: verdictParts(h.Note)}
	for _, s := range h.Sentences {
		out.Sentences = append(out.Sentences, verdictParts(s))
	}
	return out
}
