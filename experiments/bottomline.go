package experiments

import (
	"math"
	"strconv"
	"strings"

	"github.com/nextbest/nextbest/internal/numtext"
)

// The bottom line of an experiment is one sentence: whether an arm creates value against
// a reference arm, by how much money a customer and in total, with the interval its
// verdict rests on. Its wording lives here, once. The dashboards render a Statement
// (marking each Figure with the API value it shows); a terminal report prints
// Statement.String.

// NetValue is what BottomLine words: the comparison of an arm's net value per assigned
// customer with a reference arm's, and how to name them.
type NetValue struct {
	// Arm names the arm for people ("NBA"); Reference names the reference arm after
	// "than" or "against" ("the legacy campaigns").
	Arm, Reference string
	// Diff compares net value per assigned customer, Arm minus Reference (a Mean
	// metric: money kept and earned minus money spent, per customer).
	Diff Comparison
	// Customers is the arm's assigned customers: the total is Diff.AbsLift × Customers.
	Customers int64
	// Currency is written before each amount ("EUR"); empty writes bare amounts.
	Currency string
	// Stopped says the experiment has stopped: a difference not conclusive by then is
	// the final word.
	Stopped bool
}

// Finding is what a bottom line found.
type Finding uint8

// Findings of BottomLine.
const (
	// FindingNone: nothing to compare yet (an arm without customers, or no money
	// recorded in either arm).
	FindingNone Finding = iota
	// FindingPending: a difference so far, not conclusive yet.
	FindingPending
	// FindingCreating: the arm conclusively creates more net value than the reference.
	FindingCreating
	// FindingLosing: the arm conclusively creates less.
	FindingLosing
	// FindingInconclusive: the experiment stopped before a difference was conclusive.
	FindingInconclusive
)

var findingNames = [...]string{"none", "pending", "creating", "losing", "inconclusive"}

// String returns the finding's name: "none", "pending", "creating", "losing" or
// "inconclusive".
func (f Finding) String() string {
	if int(f) < len(findingNames) {
		return findingNames[f]
	}
	return "Finding(" + strconv.Itoa(int(f)) + ")"
}

// Statement is a sentence whose figures are kept apart from its words, so that a page can
// tie each figure to the value it comes from.
type Statement struct {
	Finding Finding // what a BottomLine found; FindingNone in a Verdict (see Verdict.Tone)
	Parts   []Phrase
}

// Phrase is one piece of a Statement: words, or a figure.
type Phrase struct {
	Text   string
	Figure *Figure
}

// Figure is one number of a Statement: Value, the value named by Source, times Scale,
// written as Text. An undefined value is NaN, written "—".
type Figure struct {
	// Source is FigureLift, FigureSeqLo, FigureSeqHi or FigureCustomers in a BottomLine;
	// in a Verdict or a Headline, a field of the comparison Of (see FigureMoreDays).
	Source string
	Value  float64
	Scale  float64
	Text   string
	// Of is the comparison a verdict's figure comes from; zero in a BottomLine.
	Of Key
}

// Sources of a Figure: a field of NetValue.Diff, by its JSON name, or NetValue.Customers.
const (
	FigureLift      = "abs_lift"
	FigureSeqLo     = "seq_ci.lo"
	FigureSeqHi     = "seq_ci.hi"
	FigureCustomers = "customers"
)

// String is the statement as plain text.
func (s Statement) String() string {
	var b strings.Builder
	for _, p := range s.Parts {
		if p.Figure != nil {
			b.WriteString(p.Figure.Text)
		} else {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// BottomLine words whether v.Arm creates value against v.Reference, in one sentence:
//
//   - "NBA is creating value: EUR 4.10 a customer more than the legacy campaigns
//     (always-valid 95% CI 1.20 to 7.00), EUR 37,273 over its 9,091 customers."
//   - "NBA is losing money against the legacy campaigns: EUR 2.30 a customer less
//     (always-valid 95% CI 0.50 to 4.10), EUR 20,909 over its 9,091 customers."
//   - "Not yet conclusive: so far NBA makes EUR 1.10 a customer more than the legacy
//     campaigns (always-valid 95% CI −0.80 to 3.00), EUR 10,000 over its 9,091
//     customers."
//   - once stopped: "No conclusive difference: when the experiment stopped, NBA made ...".
//
// The difference is conclusive when the always-valid confidence sequence of the
// difference per customer, Diff.SeqCI (Waudby-Smith et al. 2023; see Sequence), excludes
// zero: the rule by which an experiment's other verdicts are read, valid however often the
// result is looked at. The interval quoted is that sequence, so the sentence never shows
// an interval that disagrees with its verdict. Amounts are magnitudes after "more" or
// "less", so the interval's ends are negated and swapped when the difference is negative.
// The total is the difference per customer times the arm's customers (the arm's
// incremental net value over what the reference would have made with them).
func BottomLine(v NetValue) Statement {
	d := v.Diff
	if v.Customers <= 0 || d.NTreatment < 2 || d.NControl < 2 || !finite(d.AbsLift) ||
		!finite(d.SeqCI.Lo) || !finite(d.SeqCI.Hi) || (d.AbsLift == 0 && d.SE == 0) {
		return Statement{Finding: FindingNone, Parts: []Phrase{{Text: "No net value to compare yet between " + v.Arm + " and " + v.Reference +
			": it needs customers in both arms, and accepted offers, costs or objective outcomes recorded."}}}
	}
	sign, more := 1.0, "more"
	if d.AbsLift < 0 {
		sign, more = -1, "less"
	}
	// One precision for the amount and its interval: whole units from 100 up.
	dec := 2
	if math.Max(math.Abs(d.AbsLift), math.Max(math.Abs(d.SeqCI.Lo), math.Abs(d.SeqCI.Hi))) >= 100 {
		dec = 0
	}
	money := func(src string, value, scale float64, dec int, currency bool) Phrase {
		text := numtext.Group(value*scale, dec)
		if currency && v.Currency != "" {
			text = v.Currency + " " + text
		}
		return Phrase{Figure: &Figure{Source: src, Value: value, Scale: scale, Text: text}}
	}
	amount := money(FigureLift, d.AbsLift, sign, dec, true)
	first, second := money(FigureSeqLo, d.SeqCI.Lo, sign, dec, false), money(FigureSeqHi, d.SeqCI.Hi, sign, dec, false)
	if sign < 0 {
		first, second = second, first
	}
	total := d.AbsLift * sign * float64(v.Customers)
	totalDec := 2
	if math.Abs(total) >= 100 {
		totalDec = 0
	}
	customers := Phrase{Figure: &Figure{Source: FigureCustomers, Value: float64(v.Customers), Scale: 1, Text: numtext.Group(float64(v.Customers), 0)}}
	noun := " customers."
	if v.Customers == 1 {
		noun = " customer."
	}
	interval := []Phrase{{Text: " (always-valid " + levelPercent(d.Level) + " CI "}, first, {Text: " to "}, second, {Text: "), "},
		money(FigureLift, d.AbsLift, sign*float64(v.Customers), totalDec, true), {Text: " over its "}, customers, {Text: noun}}

	var s Statement
	switch {
	case d.SeqCI.Excludes(0) && d.AbsLift > 0:
		s.Finding = FindingCreating
		s.Parts = append([]Phrase{{Text: v.Arm + " is creating value: "}, amount, {Text: " a customer more than " + v.Reference}}, interval...)
	case d.SeqCI.Excludes(0) && d.AbsLift < 0:
		s.Finding = FindingLosing
		s.Parts = append([]Phrase{{Text: v.Arm + " is losing money against " + v.Reference + ": "}, amount, {Text: " a customer less"}}, interval...)
	case v.Stopped:
		s.Finding = FindingInconclusive
		s.Parts = append([]Phrase{{Text: "No conclusive difference: when the experiment stopped, " + v.Arm + " made "}, amount, {Text: " a customer " + more + " than " + v.Reference}}, interval...)
	default:
		s.Finding = FindingPending
		s.Parts = append([]Phrase{{Text: "Not yet conclusive: so far " + v.Arm + " makes "}, amount, {Text: " a customer " + more + " than " + v.Reference}}, interval...)
	}
	return s
}

// levelPercent writes a confidence level as "95%" (0.95 when the level is unset).
func levelPercent(level float64) string {
	if !(level > 0 && level < 1) {
		level = DefaultLevel
	}
	return strconv.FormatFloat(math.Round(1000*level)/10, 'f', -1, 64) + "%"
}
