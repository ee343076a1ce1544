package experiments

import (
	"fmt"
	"sort"
	"strings"
)

// Headline is an experiment's answer to "is NBA winning, and by how much?".
type Headline struct {
	Tone      Tone
	Title     string      // "NBA is winning", "Too early to tell"
	Lead      string      // introduces Sentences: "Against the legacy campaigns, so far:"
	Sentences []Statement // one conclusive verdict each
	Note      Statement   // when nothing is conclusive: what to expect
}

// String is the headline as plain text: the title, then the lead and its sentences, or
// the note.
func (h Headline) String() string {
	var b strings.Builder
	b.WriteString(h.Title + ".")
	if len(h.Sentences) > 0 {
		b.WriteString(" " + h.Lead)
		for _, s := range h.Sentences {
			b.WriteString(" " + s.String())
		}
	}
	if n := h.Note.String(); n != "" {
		b.WriteString(" " + n)
	}
	return b.String()
}

// headlineOrder ranks the primary metrics in a headline: churn first, as the business
// case for NBA usually rests on it; metrics not listed come last, in the report's order.
var headlineOrder = []string{metricChurn, metricResponseRate, metricDiscount, metricNPS}

// Headline summarises the primary metrics of the hero arms (Heroes) against the control:
// winning when at least one is conclusively better and none conclusively worse (each by
// Verdict's rule), losing when one is conclusively worse and none better, mixed when
// both. assigned says whether any customer has been assigned to the experiment.
func (d Design) Headline(results []Result, assigned bool) Headline {
	if !assigned {
		return Headline{Tone: ToneNone, Title: "No results yet", Note: words("No customer has been assigned to this experiment yet. Results appear here once decisions are made.")}
	}
	rank := func(name string) int {
		for i, o := range headlineOrder {
			if o == name {
				return i
			}
		}
		return len(headlineOrder)
	}
	rs := append([]Result(nil), results...)
	sort.SliceStable(rs, func(i, j int) bool { return rank(rs[i].Metric) < rank(rs[j].Metric) })
	hero := d.Heroes()
	var good, bad []string
	var goodV, badV []Verdict
	var minDays *Figure
	for _, r := range rs {
		if !r.Primary || r.Reference != d.Control || !contains(hero, r.Arm) {
			continue
		}
		v := d.Verdict(r)
		switch v.Tone {
		case ToneGood:
			good, goodV = append(good, MetricTextOf(r.Metric).Noun), append(goodV, v)
		case ToneBad:
			bad, badV = append(bad, MetricTextOf(r.Metric).Noun), append(badV, v)
		case TonePending:
			if r.MoreDays != nil && finite(*r.MoreDays) && (minDays == nil || *r.MoreDays < minDays.Value) {
				minDays = &Figure{Source: FigureMoreDays, Value: *r.MoreDays, Scale: 1, Text: styleDays.format(*r.MoreDays), Of: r.Key}
			}
		}
	}
	who := "NBA"
	if len(hero) == 1 {
		who = d.Label(hero[0])
	}
	vs := d.Against(d.Control)
	h := Headline{Lead: "Against " + vs + ", so far:"}
	sentences := func(vs []Verdict) {
		for _, v := range vs {
			h.Sentences = append(h.Sentences, words(v.Sentence, "."))
		}
	}
	switch {
	case len(bad) > 0 && len(good) > 0:
		h.Tone, h.Title = ToneMixed, fmt.Sprintf("Mixed: %s wins on %s but loses on %s", who, join(good), join(bad))
		sentences(goodV)
		sentences(badV)
	case len(bad) > 0:
		h.Tone, h.Title = ToneBad, fmt.Sprintf("%s is losing on %s", who, join(bad))
		sentences(badV)
	case len(good) > 0:
		h.Tone, h.Title = ToneGood, fmt.Sprintf("%s is winning", who)
		sentences(goodV)
	default:
		h.Tone, h.Title, h.Lead = TonePending, "Too early to tell", ""
		s := words(fmt.Sprintf("No primary metric differs conclusively between %s and %s yet.", who, vs))
		if minDays != nil && minDays.Value <= maxDays && !d.Stopped {
			s = words(s, " The clearest difference so far should be conclusive in about ", *minDays, plural(minDays.Value, " more day", " more days"), " at the current rate.")
		}
		if d.Stopped {
			s = words(s, " The experiment has stopped.")
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
