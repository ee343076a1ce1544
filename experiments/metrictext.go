package experiments

import (
	"math"

	"github.com/nextbest/nextbest/internal/numtext"
)

// MetricText is how people are told about one of a report's metrics: its title, the noun
// a sentence uses, the verbs for a rise and a fall, and the unit its figures are written
// in. MetricTextOf gives it by the metric's name in the report.
type MetricText struct {
	Name  string // the report's metric name: "churn"
	Title string // "Churn"
	Noun  string // "churn", in a sentence
	Per   string // what the value is counted over
	Unit  Unit
	// Relative says a verdict quotes the relative lift ("cut churn by 18%"); otherwise,
	// and when the relative lift is undefined, the absolute one.
	Relative bool
	Up, Down string // verbs for a rise and a fall: "raised", "cut"
	AbsUnit  string // after an absolute lift in a sentence: " per customer", " points"
}

// Unit is what a metric's values are counted in, which decides how its figures are
// written.
type Unit uint8

// Units of a metric.
const (
	// UnitNumber: a plain number, written with three decimals.
	UnitNumber Unit = iota
	// UnitRate: a share; values in percent, differences in percentage points ("pp").
	UnitRate
	// UnitMoney: money per customer; cents below 100, whole units from 100 up.
	UnitMoney
	// UnitPoints: NPS points, one decimal.
	UnitPoints
)

// Scale is what a value of the unit is multiplied by to be written: 100 for a rate
// (shown in percent), else 1.
func (u Unit) Scale() float64 {
	if u == UnitRate {
		return 100
	}
	return 1
}

// The metric names of an experiment report (engine.Metric*), as the wording needs them.
const (
	metricResponseRate = "response_rate"
	metricChurn        = "churn"
	metricDiscount     = "retention_discount"
	metricNPS          = "nps"
	metricResponders   = "responders"
	metricNetValue     = "net_value"
	metricRevenue      = "revenue"
)

var metricTexts = []MetricText{
	{Name: metricResponseRate, Title: "Response rate", Noun: "the response rate", Per: "responses per contact", Unit: UnitRate, Relative: true, Up: "raised", Down: "lowered"},
	{Name: metricChurn, Title: "Churn", Noun: "churn", Per: "customers who left, of those assigned", Unit: UnitRate, Relative: true, Up: "raised", Down: "cut"},
	{Name: metricDiscount, Title: "Retention discount", Noun: "retention discounts", Per: "discount money per assigned customer", Unit: UnitMoney, Relative: true, Up: "raised", Down: "cut", AbsUnit: " per customer"},
	{Name: metricNPS, Title: "NPS", Noun: "NPS", Per: "Net Promoter Score of survey respondents", Unit: UnitPoints, Relative: false, Up: "raised", Down: "lowered", AbsUnit: " points"},
	{Name: metricResponders, Title: "Responders", Noun: "the share of customers who responded", Per: "customers who responded, of those assigned", Unit: UnitRate, Relative: true, Up: "raised", Down: "lowered"},
	// Net value can be negative in either arm, so a relative change says nothing: money.
	{Name: metricNetValue, Title: "Net value", Noun: "net value", Per: "money per assigned customer: offers' values and objective outcomes, less discounts and contact costs", Unit: UnitMoney, Relative: false, Up: "raised", Down: "lowered", AbsUnit: " per customer"},
	{Name: metricRevenue, Title: "Revenue", Noun: "revenue", Per: "revenue outcomes per assigned customer", Unit: UnitMoney, Relative: true, Up: "raised", Down: "lowered", AbsUnit: " per customer"},
}

// MetricTexts is the wording of every metric a report can hold, in the order pages list
// them. The slice is a copy.
func MetricTexts() []MetricText { return append([]MetricText(nil), metricTexts...) }

// MetricTextOf is the wording of the named metric; a name it does not know is its own
// title and noun, written as a plain number.
func MetricTextOf(name string) MetricText {
	for _, m := range metricTexts {
		if m.Name == name {
			return m
		}
	}
	return MetricText{Name: name, Title: name, Noun: name, Unit: UnitNumber, Up: "raised", Down: "lowered"}
}

// style says how a figure of a verdict is written.
type style uint8

const (
	styleNumber           style = iota // 0.734
	stylePP                            // 1.2 pp (percentage points)
	styleSignedPP                      // +1.2 pp
	stylePoints                        // NPS points: 12.3
	styleSignedPoints                  // +3.1
	styleRelPct                        // 18% or 4.5%: whole percent from 10%
	styleSignedPct                     // +4.5% or −18%
	styleWholePct                      // 18%
	styleSignedWholePct                // +18%
	styleMoneyCents                    // 12.50, 1,234.50
	styleMoneyWhole                    // 1,234
	styleSignedMoneyCents              // +12.50
	styleSignedMoneyWhole              // +1,234
	styleDays                          // 12: whole days, rounded up
)

// absStyles are how a unit's absolute differences are written, unsigned and signed.
func (u Unit) absStyles() (plain, signed style) {
	switch u {
	case UnitRate:
		return stylePP, styleSignedPP
	case UnitPoints:
		return stylePoints, styleSignedPoints
	case UnitMoney:
		return styleMoneyCents, styleSignedMoneyCents
	}
	return styleNumber, styleNumber
}

// moneyStyle is one precision for amounts written together (a figure and its interval):
// whole units once any is 100 or more, else cents; signed or not.
func moneyStyle(signed bool, xs ...float64) style {
	whole := numtext.MoneyWhole(xs...)
	switch {
	case whole && signed:
		return styleSignedMoneyWhole
	case whole:
		return styleMoneyWhole
	case signed:
		return styleSignedMoneyCents
	}
	return styleMoneyCents
}

// format writes x in the style, with a typographic minus (U+2212).
func (s style) format(x float64) string {
	switch s {
	case stylePP:
		return numtext.Fixed(x, numtext.DecimalsFor(x, 1)) + " pp"
	case styleSignedPP:
		return signed(styleSignedPP, numtext.Fixed(x, numtext.DecimalsFor(x, 1))+" pp")
	case stylePoints:
		return numtext.Fixed(x, 1)
	case styleSignedPoints:
		return signed(s, numtext.Fixed(x, 1))
	case styleRelPct, styleSignedPct:
		d := 1
		if math.Abs(x) >= 10 {
			d = 0
		}
		return signed(s, numtext.Fixed(x, d)+"%")
	case styleWholePct, styleSignedWholePct:
		return signed(s, numtext.Fixed(x, 0)+"%")
	case styleMoneyCents, styleSignedMoneyCents:
		return signed(s, numtext.Group(x, 2))
	case styleMoneyWhole, styleSignedMoneyWhole:
		return signed(s, numtext.Group(x, 0))
	case styleDays:
		return numtext.Group(math.Ceil(x), 0)
	}
	return numtext.Fixed(x, 3)
}

// signed puts a plus sign on a written positive number when the style is a signed one.
func signed(s style, text string) string {
	switch s {
	case styleSignedPP, styleSignedPoints, styleSignedPct, styleSignedWholePct, styleSignedMoneyCents, styleSignedMoneyWhole:
		return numtext.Signed(text)
	}
	return text
}
