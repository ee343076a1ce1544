package dashboards

import (
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nextbest/nextbest/internal/numtext"
)

// Num is one number shown on a page, tied to the JSON API value it comes from so that
// tests can check it: the page shows Text, which is Value × Scale rounded; Path names
// Value in the API response of the enclosing element's data-src (see the "num" template
// and cmd/nextbest/browser_test.go). A nil Value is an undefined figure (JSON null).
type Num struct {
	Path  string
	Value *float64
	Scale float64
	Text  string
	// HTML is the number marked up for the page, made once here: templates that call
	// methods on thousands of numbers spend most of their time in reflection.
	HTML template.HTML
}

// Raw is the API value as the JSON API writes it ("null" when undefined).
func (n Num) Raw() string {
	if n.Value == nil || !finite(*n.Value) {
		return "null"
	}
	return strconv.FormatFloat(*n.Value, 'g', -1, 64)
}

// ScaleText is the scale as an attribute value.
func (n Num) ScaleText() string { return strconv.FormatFloat(n.Scale, 'g', -1, 64) }

// Defined reports whether the number has a value.
func (n Num) Defined() bool { return n.Value != nil && finite(*n.Value) }

// Shown is Value × Scale, or NaN when undefined.
func (n Num) Shown() float64 {
	if !n.Defined() {
		return math.NaN()
	}
	return *n.Value * n.Scale
}

// numStyle says how a number is written.
type numStyle int

const (
	styleCount            numStyle = iota // 1,234
	stylePct                              // 12.3%
	styleRelPct                           // 18% or 4.5%: whole percent from 10%
	stylePP                               // 1.2 pp (percentage points)
	styleMoney                            // 1,234 or 12.34
	styleDecimal                          // 0.734
	stylePoints                           // NPS points: 12.3
	styleDays                             // 12
	styleP                                // p-values: 0.034, < 0.001
	styleSignedPct                        // +4.5% or −18%
	styleSignedPP                         // +1.2 pp
	styleSignedPoints                     // +3.1
	styleSignedMoney                      // +1.20
	styleWholePct                         // 18%
	styleSignedWholePct                   // +18%
	styleAmount                           // 80 or 12.50: decimals only when needed
	styleMoneyCents                       // 12.50, 1,234.50: for figures shown together
	styleMoneyWhole                       // 1,234
	styleSignedMoneyCents                 // +12.50
	styleSignedMoneyWhole                 // +1,234
	styleQini                             // a Qini coefficient: 0.0123, four decimals
	styleGain                             // incremental customers: 12.3
	stylePct2                             // a small rate: 1.66%
	styleSignedPP2                        // a small difference of rates: +0.25 pp
)

// moneyStyle is one precision for amounts shown together (a figure and its interval):
// whole units once any is 100 or more, else cents; signed or not.
func moneyStyle(signed bool, xs ...float64) numStyle {
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

// num makes a checked number from an API value. scale multiplies the value (100 for a
// fraction shown in percent) before it is formatted with style; the minus sign is
// typographic (U+2212).
func num(path string, v *float64, scale float64, style numStyle) Num {
	n := Num{Path: path, Value: v, Scale: scale, Text: "—"}
	if n.Defined() {
		n.Text = formatNum(*v*scale, style)
	}
	n.HTML = n.markup()
	return n
}

// markup is <span data-path="..." data-value="..." data-scale="...">text</span>; the
// scale is left out when it is 1, and the attributes when the number has no path.
func (n Num) markup() template.HTML {
	if n.Path == "" {
		return template.HTML(escape(n.Text))
	}
	var b strings.Builder
	b.Grow(len(n.Path) + len(n.Text) + 64)
	b.WriteString(`<span data-path="`)
	b.WriteString(escape(n.Path))
	b.WriteString(`" data-value="`)
	b.WriteString(n.Raw())
	if n.Scale != 1 {
		b.WriteString(`" data-scale="`)
		b.WriteString(n.ScaleText())
	}
	b.WriteString(`">`)
	b.WriteString(escape(n.Text))
	b.WriteString(`</span>`)
	return template.HTML(b.String())
}

// noNum is a figure with nothing to check: a dash.
func noNum() Num { return Num{Text: "—", HTML: "—"} }

// numF is num for a value that is always defined in the API (a plain JSON number).
func numF(path string, v, scale float64, style numStyle) Num {
	return num(path, &v, scale, style)
}

func formatNum(x float64, style numStyle) string {
	switch style {
	case styleCount:
		return numtext.Group(x, 0)
	case stylePct:
		return numtext.Fixed(x, numtext.DecimalsFor(x, 1)) + "%"
	case styleRelPct:
		d := 1
		if math.Abs(x) >= 10 {
			d = 0
		}
		return numtext.Fixed(x, d) + "%"
	case stylePP:
		return numtext.Fixed(x, numtext.DecimalsFor(x, 1)) + " pp"
	case styleMoney:
		if math.Abs(x) >= 100 {
			return numtext.Group(x, 0)
		}
		return numtext.Group(x, 2)
	case styleDecimal:
		return numtext.Fixed(x, 3)
	case stylePoints:
		return numtext.Fixed(x, 1)
	case styleDays:
		return numtext.Group(math.Ceil(x), 0)
	case styleP:
		if x < 0.001 {
			return "< 0.001"
		}
		return numtext.Fixed(x, 3)
	case styleSignedPct:
		return numtext.Signed(formatNum(x, styleRelPct))
	case styleSignedPP:
		return numtext.Signed(formatNum(x, stylePP))
	case styleSignedPoints:
		return numtext.Signed(formatNum(x, stylePoints))
	case styleSignedMoney:
		return numtext.Signed(formatNum(x, styleMoney))
	case styleAmount:
		if x == math.Trunc(x) {
			return numtext.Group(x, 0)
		}
		return numtext.Group(x, 2)
	case styleMoneyCents:
		return numtext.Group(x, 2)
	case styleMoneyWhole:
		return numtext.Group(x, 0)
	case styleSignedMoneyCents:
		return numtext.Signed(numtext.Group(x, 2))
	case styleSignedMoneyWhole:
		return numtext.Signed(numtext.Group(x, 0))
	case styleQini:
		return numtext.Fixed(x, 4)
	case styleGain:
		return numtext.Group(x, 1)
	case styleWholePct:
		return numtext.Fixed(x, 0) + "%"
	case stylePct2:
		return numtext.Fixed(x, 2) + "%"
	case styleSignedPP2:
		return numtext.Signed(numtext.Fixed(x, 2) + " pp")
	case styleSignedWholePct:
		return numtext.Signed(numtext.Fixed(x, 0) + "%")
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func ptr(x float64) *float64 {
	if !finite(x) {
		return nil
	}
	return &x
}

// Part is one piece of a sentence: text, or a checked number.
type Part struct {
	Text string
	Num  *Num
}

// sentence builds parts from text and numbers.
func sentence(items ...any) []Part {
	out := make([]Part, 0, len(items))
	for _, it := range items {
		switch v := it.(type) {
		case string:
			out = append(out, Part{Text: v})
		case Num:
			out = append(out, Part{Num: &v})
		case []Part:
			out = append(out, v...)
		default:
			panic("dashboards: sentence part of unexpected type")
		}
	}
	return out
}

// partsHTML marks up a sentence.
func partsHTML(parts []Part) template.HTML {
	var b strings.Builder
	for _, p := range parts {
		if p.Num != nil {
			b.WriteString(string(p.Num.HTML))
		} else {
			b.WriteString(escape(p.Text))
		}
	}
	return template.HTML(b.String())
}

// plain returns the parts as text (for titles and alt text).
func plain(parts []Part) string {
	var b strings.Builder
	for _, p := range parts {
		if p.Num != nil {
			b.WriteString(p.Num.Text)
		} else {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func fmtDay(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006")
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return fmtTime(*t)
}

// escape is html/template's escaping for text we place in SVG.
func escape(s string) string { return template.HTMLEscapeString(s) }
