package experiments

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// WriteText writes the analysis as aligned plain-text tables: the arms and
// the SRM check, then one table per metric. The control row shows the
// control's mean. Every other row shows that arm against the control:
//
//   - lift: the absolute lift with its fixed-horizon CI;
//   - rel: the relative lift with its CI;
//   - p: the fixed-horizon p-value;
//   - p (Holm): the p-value adjusted over the whole family;
//   - P(better): the Bayesian chance to beat control;
//   - always-valid CI: the confidence sequence;
//   - verdict: "better" or "worse" when the Holm-adjusted p is below
//     1 − level, else "inconclusive".
//
// Binary means and lifts are in percent and percentage points (pp).
func (a *Analysis) WriteText(w io.Writer) error {
	var buf bytes.Buffer
	a.writeText(&buf)
	// tabwriter pads the empty trailing cells of the control rows; trim them.
	lines := strings.SplitAfter(buf.String(), "\n")
	for i, l := range lines {
		if strings.HasSuffix(l, "\n") {
			lines[i] = strings.TrimRight(l[:len(l)-1], " ") + "\n"
		}
	}
	_, err := io.WriteString(w, strings.Join(lines, ""))
	return err
}

func (a *Analysis) writeText(ew io.Writer) {
	pct := fmt.Sprintf("%g%%", 100*a.Level)
	fmt.Fprintf(ew, "Experiment analysis: %d arms, control %q, %s intervals, sequence tuning N* = %g\n",
		len(a.Arms), clean(a.Control), pct, a.Tuning)
	total := 0
	for _, n := range a.Customers {
		total += n
	}
	if a.SRM != nil {
		s := a.SRM
		if s.Mismatch {
			fmt.Fprintf(ew, "SAMPLE RATIO MISMATCH: chi2 = %.2f on %d df, p = %s < %g. The assignment or the data is broken; do not trust the results below.\n",
				s.ChiSq, s.DF, fmtP(s.PValue), SRMThreshold)
		} else {
			fmt.Fprintf(ew, "Sample ratio: chi2 = %.2f on %d df, p = %s: no mismatch (threshold %g).\n",
				s.ChiSq, s.DF, fmtP(s.PValue), SRMThreshold)
		}
	}
	fmt.Fprintln(ew)

	tw := tabwriter.NewWriter(ew, 0, 8, 2, ' ', 0)
	if a.SRM != nil {
		fmt.Fprintln(tw, "arm\tcustomers\tshare\texpected")
	} else {
		fmt.Fprintln(tw, "arm\tcustomers\tshare")
	}
	for i, name := range a.Arms {
		share := math.NaN()
		if total > 0 {
			share = float64(a.Customers[i]) / float64(total)
		}
		if a.SRM != nil {
			exp := math.NaN()
			if total > 0 {
				exp = a.SRM.Expected[i] / float64(total)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", clean(name), a.Customers[i], fmtPct(share, 1), fmtPct(exp, 1))
		} else {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", clean(name), a.Customers[i], fmtPct(share, 1))
		}
	}
	_ = tw.Flush()

	for _, m := range a.Metrics {
		dir := "higher is better"
		if m.Metric.LowerIsBetter {
			dir = "lower is better"
		}
		fmt.Fprintf(ew, "\n%s (%s, %s)\n", clean(m.Metric.name()), m.Metric.Kind, dir)
		tw := tabwriter.NewWriter(ew, 0, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "arm\tn\tmean\tlift\t%s CI\trel\t%s CI\tp\tp (Holm)\tP(better)\talways-valid %s CI\tverdict\n", pct, pct, pct)
		f := formatterFor(m.Metric.Kind)
		if len(m.Summaries) > 0 {
			fmt.Fprintf(tw, "%s\t%d\t%s\t(control)\t\t\t\t\t\t\t\t\n", clean(a.Arms[0]), m.Summaries[0].N, f.mean(m.Summaries[0].Mean()))
		}
		for j, c := range m.Comparisons {
			r := c.Result
			verdict := "inconclusive"
			if c.HolmSignificant {
				good := r.AbsLift > 0
				if m.Metric.LowerIsBetter {
					good = !good
				}
				verdict = "worse"
				if good {
					verdict = "better"
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				clean(c.Arm), m.Summaries[j+1].N, f.mean(r.Treatment),
				f.lift(r.AbsLift), f.interval(r.AbsCI),
				fmtSignedPct(r.RelLift), fmtPctInterval(r.RelCI),
				fmtP(r.PValue), fmtP(c.HolmP), fmtPct(r.ChanceToBeat, 1),
				f.interval(r.SeqCI), verdict)
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(ew, "\nHolm family: %d comparisons. Fixed-horizon p-values and CIs are valid once, at the planned sample size; the always-valid CI may be read at any time.\n", a.Family)
}

// formatter formats values of one metric kind.
type formatter struct {
	mean, lift func(float64) string
	interval   func(Interval) string
}

func formatterFor(k Kind) formatter {
	if k == Binary {
		return formatter{
			mean: func(x float64) string { return fmtPct(x, 2) },
			lift: func(x float64) string { return fmtNum("%+.2fpp", 100*x, x) },
			interval: func(iv Interval) string {
				return fmtInterval("[%+.2f, %+.2f]pp", 100*iv.Lo, 100*iv.Hi, iv)
			},
		}
	}
	return formatter{
		mean:     func(x float64) string { return fmtNum("%.3f", x, x) },
		lift:     func(x float64) string { return fmtNum("%+.3f", x, x) },
		interval: func(iv Interval) string { return fmtInterval("[%+.3f, %+.3f]", iv.Lo, iv.Hi, iv) },
	}
}

const na = "n/a"

func fmtNum(format string, shown, raw float64) string {
	if !finite(raw) {
		return na
	}
	return fmt.Sprintf(format, shown)
}

func fmtInterval(format string, lo, hi float64, iv Interval) string {
	if !finite(iv.Lo) || !finite(iv.Hi) {
		return na
	}
	return fmt.Sprintf(format, lo, hi)
}

func fmtPct(x float64, digits int) string {
	if !finite(x) {
		return na
	}
	return fmt.Sprintf("%.*f%%", digits, 100*x)
}

func fmtSignedPct(x float64) string {
	if !finite(x) {
		return na
	}
	return fmt.Sprintf("%+.1f%%", 100*x)
}

func fmtPctInterval(iv Interval) string {
	return fmtInterval("[%+.1f%%, %+.1f%%]", 100*iv.Lo, 100*iv.Hi, iv)
}

// fmtP prints a p-value with four decimals, "<0.0001" below that.
func fmtP(p float64) string {
	switch {
	case !finite(p):
		return na
	case p < 0.0001:
		return "<0.0001"
	}
	return fmt.Sprintf("%.4f", p)
}

// clean makes a name from the table safe for one aligned line.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
