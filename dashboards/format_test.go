package dashboards

import (
	"math"
	"testing"
)

func TestFormatNum(t *testing.T) {
	for _, tc := range []struct {
		x     float64
		style numStyle
		want  string
	}{
		{1234567, styleCount, "1,234,567"},
		{-1234.4, styleCount, "−1,234"},
		{999, styleCount, "999"},
		{12.345, stylePct, "12.3%"},
		{0.04, stylePct, "0.04%"}, // small values keep a significant digit
		{-0.0001, stylePct, "0.00%"},
		{18.4, styleRelPct, "18%"},
		{-4.56, styleRelPct, "−4.6%"},
		{1.25, stylePP, "1.2 pp"}, // strconv rounds half to even on the binary value
		{1234.6, styleMoney, "1,235"},
		{12.345, styleMoney, "12.35"},
		{-0.004, styleMoney, "0.00"}, // never "−0.00"
		{0.73456, styleDecimal, "0.735"},
		{12.1, styleDays, "13"}, // days round up
		{0.0004, styleP, "< 0.001"},
		{0.0456, styleP, "0.046"},
		{4.5, styleSignedPct, "+4.5%"},
		{-18, styleSignedPct, "−18%"},
		{0, styleSignedPct, "0.0%"},
		{2.04, styleSignedPP, "+2.0 pp"},
		{-3.14, styleSignedPoints, "−3.1"},
		{150, styleSignedMoney, "+150"},
		{80, styleAmount, "80"},
		{12.5, styleAmount, "12.50"},
	} {
		if got := formatNum(tc.x, tc.style); got != tc.want {
			t.Errorf("formatNum(%g, %d) = %q, want %q", tc.x, tc.style, got, tc.want)
		}
	}
}

func TestNum(t *testing.T) {
	n := num("a.b", ptr(-0.1834), -100, styleRelPct)
	if n.Text != "18%" || n.Raw() != "-0.1834" || n.ScaleText() != "-100" || n.Shown() != 18.34 {
		t.Errorf("num: %+v raw %s", n, n.Raw())
	}
	for _, v := range []*float64{nil, ptr(math.NaN()), ptr(math.Inf(1))} {
		n := num("a", v, 1, styleCount)
		if n.Text != "—" || n.Raw() != "null" || n.Defined() {
			t.Errorf("undefined value: %+v", n)
		}
	}
}

func TestSentencePlain(t *testing.T) {
	s := sentence("NBA cut churn by ", num("x", ptr(0.18), 100, styleRelPct), " (", sentence("nested"), ")")
	if got := plain(s); got != "NBA cut churn by 18% (nested)" {
		t.Errorf("plain = %q", got)
	}
}
