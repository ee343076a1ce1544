package dashboards

import (
	"math"
	"testing"

	"github.com/nextbest/nextbest/experiments"
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

// TestMoneyFigures: the incremental impact's money figures (net value, discount money
// saved) per customer and in total, each naming the report value it shows. A saving
// (sign −1) turns the fall −2.5 [−4, −1] into 2.50 [1.00, 4.00] per customer and, over
// 1,000 customers, 2,500 [1,000, 4,000] in whole units (moneyStyle: 100 or more); a gain
// (sign 1) of 0.05 [−0.02, 0.12] over 100 customers stays in cents: 5.00 [−2.00, 12.00].
func TestMoneyFigures(t *testing.T) {
	const base = "metrics[name=net_value].comparisons[arm=nba][reference=legacy].stats."
	for _, c := range []struct {
		absLift, lo, hi, sign, n float64
		want                     [6]string // one, lo, hi, total, total lo, total hi
		wantPaths                [6]string // the report value each reads, after the swap
	}{
		{-2.5, -4, -1, -1, 1000,
			[6]string{"2.50", "1.00", "4.00", "2,500", "1,000", "4,000"},
			[6]string{"abs_lift", "seq_ci.hi", "seq_ci.lo", "abs_lift", "seq_ci.hi", "seq_ci.lo"}},
		{0.05, -0.02, 0.12, 1, 100,
			[6]string{"0.05", "−0.02", "0.12", "5.00", "−2.00", "12.00"},
			[6]string{"abs_lift", "seq_ci.lo", "seq_ci.hi", "abs_lift", "seq_ci.lo", "seq_ci.hi"}},
	} {
		var st experiments.Comparison
		st.AbsLift, st.SeqCI.Lo, st.SeqCI.Hi = c.absLift, c.lo, c.hi
		one, lo, hi, total, totalLo, totalHi := moneyFigures(st, base, c.sign, c.n)
		for i, n := range []Num{one, lo, hi, total, totalLo, totalHi} {
			scale := c.sign
			if i >= 3 {
				scale *= c.n
			}
			if n.Text != c.want[i] || n.Path != base+c.wantPaths[i] || n.Scale != scale {
				t.Errorf("sign %v figure %d: %q of %s × %v, want %q of %s × %v", c.sign, i, n.Text, n.Path, n.Scale, c.want[i], base+c.wantPaths[i], scale)
			}
		}
	}
}
