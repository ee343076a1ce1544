// Package numtext writes numbers for people: a fixed number of decimals, thousands
// separated by commas, a typographic minus (U+2212), and no sign on a value that rounds
// to zero. The dashboards and the experiments' verdicts write their figures with it, so
// that a figure reads the same on a page as in a verdict's sentence.
package numtext

import (
	"math"
	"strconv"
	"strings"
)

// Fixed writes x with d decimals and a typographic minus; a value that rounds to zero has
// no sign ("0.0", never "−0.0").
func Fixed(x float64, d int) string {
	s := strconv.FormatFloat(x, 'f', d, 64)
	if strings.HasPrefix(s, "-") {
		if strings.Trim(s[1:], "0.") == "" {
			return s[1:]
		}
		return "−" + s[1:]
	}
	return s
}

// Group is Fixed with the thousands separated by commas: 1,234,567.50.
func Group(x float64, d int) string {
	s := Fixed(x, d)
	neg := strings.HasPrefix(s, "−")
	if neg {
		s = strings.TrimPrefix(s, "−")
	}
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteString("−")
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// Signed puts a plus sign on a written positive number: "+4.5%"; a negative one keeps
// its minus and a zero ("0.0%", "0.00 pp") stays unsigned.
func Signed(s string) string {
	if strings.HasPrefix(s, "−") || strings.Trim(s, "0.,%p ") == "" {
		return s
	}
	return "+" + s
}

// DecimalsFor is d, or d+1 for a magnitude below 0.1 (but not zero), so that 0.04% is
// not written as 0.0%.
func DecimalsFor(x float64, d int) int {
	if a := math.Abs(x); a > 0 && a < 0.1 {
		return d + 1
	}
	return d
}

// MoneyWhole reports whether amounts written together (a figure and its interval) are
// written in whole units: once any of them is 100 or more; else they show cents.
func MoneyWhole(xs ...float64) bool {
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) && math.Abs(x) >= 100 {
			return true
		}
	}
	return false
}
