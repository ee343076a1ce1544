// Package evaltext writes an off-policy evaluation (engine.Evaluation) as text: the
// comparison table of `nextbest evaluate` and its progress lines. The JSON form is the
// API's; the page is the dashboards'.
package evaltext

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/numtext"
	"github.com/nextbest/nextbest/offpolicy"
)

// Progress prints an evaluation's progress to w every interval (none when every <= 0)
// until stop is called: "evaluate: 1,000 decisions read (up to ...), 900 evaluated, 3s".
func Progress(w io.Writer, every time.Duration, read func() engine.JobProgress) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				PrintProgress(w, read(), time.Since(start))
			}
		}
	}()
	return func() { close(done); <-finished }
}

// PrintProgress prints one progress line of an evaluation that has run for elapsed.
func PrintProgress(w io.Writer, p engine.JobProgress, elapsed time.Duration) {
	at := ""
	if !p.LastTime.IsZero() {
		at = " (up to " + p.LastTime.Format("2006-01-02 15:04") + ")"
	}
	fmt.Fprintf(w, "evaluate: %s decisions read%s, %s evaluated, %s\n", numtext.Group(float64(p.Read), 0), at, numtext.Group(float64(p.Evaluated), 0), elapsed.Round(time.Second))
}

// The estimators the table shows, in order; the JSON has all of them.
var tableMethods = []offpolicy.Method{offpolicy.MethodDR, offpolicy.MethodSNIPS, offpolicy.MethodIPS, offpolicy.MethodDM}

// Write prints an evaluation as a person reads it: for each reward a table of every
// policy against the logged one (DR first, then SNIPS, IPS and DM, each with its 95%
// interval and its difference from the logged policy), the weight diagnostics and
// warnings, then what each policy is and the evaluation's notes.
func Write(w io.Writer, ev *engine.Evaluation) {
	fmt.Fprintf(w, "Off-policy evaluation of %s NBA decisions", numtext.Group(float64(ev.Evaluated), 0))
	if !ev.First.IsZero() {
		fmt.Fprintf(w, " from %s to %s", ev.First.Format("2006-01-02 15:04"), ev.Last.Format("2006-01-02 15:04"))
	}
	fmt.Fprintf(w, " (outcomes as of %s; %s decisions read, %.1f s)\n", ev.AsOf.Format("2006-01-02 15:04"), numtext.Group(float64(ev.Read), 0), ev.Seconds)
	for _, x := range ev.Excluded {
		fmt.Fprintf(w, "  not evaluated: %s %s\n", numtext.Group(float64(x.Count), 0), x.Message)
	}
	for _, r := range ev.Rewards {
		fmt.Fprintf(w, "\n%s: %s\n", rewardTitle(r.Name), r.Description)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  policy\testimator\testimate\t95% interval\tvs logged (95% interval)\tESS\tmax weight\twarnings\t")
		for _, p := range ev.Policies {
			re := p.Response
			if r.Name == engine.RewardNetValue {
				re = p.NetValue
			}
			if re == nil {
				fmt.Fprintf(tw, "  %s\t\t(no decision's horizon had passed by the as-of time)\t\t\t\t\t\t\n", p.Name)
				continue
			}
			if p.Spec.Type == engine.PolicyLogged {
				fmt.Fprintf(tw, "  %s\tobserved\t%s\t%s\t\t%s\t\t\t\n", p.Name, evalNum(re.Logged.Value), evalInterval(re.Logged.Normal), numtext.Group(float64(re.N), 0))
			}
			for k, m := range tableMethods {
				e, _ := re.Estimate(m)
				name, ess, maxw, warn := "", "", "", ""
				if k == 0 {
					name = p.Name
					ess = numtext.Group(math.Round(float64(re.Weights.ESS)), 0)
					if math.IsNaN(float64(re.Weights.ESS)) {
						ess = "-"
					}
					maxw = evalNum(re.Weights.MaxWeight)
					var kinds []string
					for _, wr := range re.Warnings {
						kinds = append(kinds, wr.Kind)
					}
					warn = strings.Join(kinds, ", ")
				}
				if p.Spec.Type == engine.PolicyLogged {
					name = ""
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s %s\t%s\t%s\t%s\t\n", name, m, evalNum(e.Value), evalInterval(e.Normal), evalSigned(e.VsLogged), evalInterval(e.VsLoggedInterval), ess, maxw, warn)
			}
		}
		tw.Flush()
	}
	var warned []string
	for _, p := range ev.Policies {
		for _, re := range []*engine.RewardEstimate{p.Response, p.NetValue} {
			if re == nil {
				continue
			}
			for _, wr := range re.Warnings {
				warned = append(warned, fmt.Sprintf("  %s, %s: %s", p.Name, rewardTitle(re.Reward), wr.Message))
			}
		}
	}
	if len(warned) > 0 {
		fmt.Fprintln(w, "\nWarnings (the estimate may not be trusted):")
		for _, s := range warned {
			fmt.Fprintln(w, s)
		}
	}
	fmt.Fprintln(w, "\nPolicies:")
	for _, p := range ev.Policies {
		fmt.Fprintf(w, "  %s: %s\n", p.Name, p.Description)
	}
	fmt.Fprintln(w, "\nNotes:")
	for _, n := range ev.Notes {
		fmt.Fprintf(w, "  - %s\n", n)
	}
}

func rewardTitle(name string) string {
	switch name {
	case engine.RewardResponse:
		return "Response"
	case engine.RewardNetValue:
		return "Net value"
	}
	return name
}

// evalNum prints a number with 4 significant digits, or "-".
func evalNum(f engine.NullFloat) string {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func evalSigned(f engine.NullFloat) string {
	s := evalNum(f)
	if s != "-" && !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

func evalInterval(i engine.IntervalResult) string {
	if math.IsNaN(float64(i.Lo)) || math.IsNaN(float64(i.Hi)) {
		return ""
	}
	return "[" + evalNum(i.Lo) + ", " + evalNum(i.Hi) + "]"
}
