package dashboards

import (
	"math"
	"strings"
	"testing"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

var testExp = engine.Experiment{ID: "x", Control: "legacy", State: engine.Running, Metrics: []string{engine.MetricResponseRate, engine.MetricChurn, engine.MetricDiscount, engine.MetricNPS},
	Arms: []experiments.Arm{{Name: "nba", Policy: experiments.PolicyNBA, Weight: 0.45}, {Name: "legacy", Policy: experiments.PolicyLegacy, Weight: 0.45}, {Name: "holdout", Policy: experiments.PolicyNone, Weight: 0.1}}}

// stats is a comparison with the given relative lift and interval and absolute lift. Its
// always-valid interval is abs ± |abs|/2 when seq (it excludes zero), else abs ± 0.02.
func stats(abs, relLo, rel, relHi float64, seq bool) experiments.Comparison {
	half := 0.02
	if seq {
		half = math.Abs(abs) / 2
	}
	return experiments.Comparison{Level: 0.95, NTreatment: 1000, NControl: 1000, AbsLift: abs, AbsCI: experiments.Interval{Lo: abs - 1, Hi: abs + 1},
		RelLift: rel, RelCI: experiments.Interval{Lo: relLo, Hi: relHi}, SeqSignificant: seq, Significant: seq, SeqCI: experiments.Interval{Lo: abs - half, Hi: abs + half}}
}

func metric(name string, lower bool) engine.MetricResult {
	return engine.MetricResult{Name: name, LowerIsBetter: lower, Primary: true}
}

func days(d float64) *float64 { return &d }

func TestVerdict(t *testing.T) {
	stopped := testExp
	stopped.State = engine.Stopped
	nan := math.NaN()
	for _, tc := range []struct {
		name     string
		x        engine.Experiment
		m        engine.MetricResult
		c        engine.Comparison
		tone     Tone
		sentence string
		estimate string
		why      string
	}{
		{"churn cut", testExp, metric(engine.MetricChurn, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(-0.03, -0.27, -0.18, -0.09, true)},
			ToneGood, "NBA cut churn by 18% (95% CI 9% to 27%)", "Always-valid 95% CI of the difference: −4.5 pp to −1.5 pp, which excludes zero.", ""},
		{"churn raised", testExp, metric(engine.MetricChurn, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(0.02, 0.05, 0.2, 0.35, true)},
			ToneBad, "NBA raised churn by 20% (95% CI 5% to 35%)", "", ""},
		{"response rate raised", testExp, metric(engine.MetricResponseRate, false), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(0.02, 0.13, 0.26, 0.39, true)},
			ToneGood, "NBA raised the response rate by 26% (95% CI 13% to 39%)", "", ""},
		{"NPS in points", testExp, metric(engine.MetricNPS, false), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(6.2, 0.1, 0.3, 0.5, true)},
			ToneGood, "NBA raised NPS by 6.2 points (95% CI 5.2 to 7.2)", "Always-valid 95% CI of the difference: +3.1 to +9.3 points, which excludes zero.", ""},
		{"discount without a relative lift", testExp, metric(engine.MetricDiscount, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(1.2, nan, nan, nan, true)},
			ToneBad, "NBA raised retention discounts by 1.20 per customer (95% CI 0.20 to 2.20)", "", ""},
		{"more days", testExp, metric(engine.MetricChurn, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(-0.01, -0.4, -0.18, 0.05, false), MoreDays: days(12)},
			TonePending, "Not yet conclusive: about 12 more days at the current rate.", "So far: −18% (−1.0 pp); always-valid 95% CI −3.0 pp to +1.0 pp.", ""},
		{"more than a year", testExp, metric(engine.MetricChurn, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(-0.01, -0.4, -0.18, 0.05, false), MoreDays: days(1338)},
			TonePending, "Not yet conclusive: at the current rate it would take more than a year to tell, so the difference may be too small to matter.", "", ""},
		{"one more day", testExp, metric(engine.MetricChurn, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(-0.01, -0.4, -0.18, 0.05, false), MoreDays: days(1)},
			TonePending, "Not yet conclusive: about 1 more day at the current rate.", "", ""},
		{"fixed horizon significant only", testExp, metric(engine.MetricChurn, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: func() experiments.Comparison {
			s := stats(-0.01, -0.3, -0.18, -0.02, false)
			s.Significant = true
			return s
		}()}, TonePending, "Not yet conclusive: promising, but keep it running before acting on it.", "So far: −18% (−1.0 pp); always-valid 95% CI −3.0 pp to +1.0 pp.",
			// The first-time reader: an ordinary interval that excludes zero beside "not yet conclusive".
			"The ordinary 95% CI, −30% to −2%, excludes zero, but it holds for one look at a planned sample size only; the verdict waits for the always-valid interval, which holds however often this page is read."},
		{"NPS not yet conclusive, in points", testExp, metric(engine.MetricNPS, false), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: func() experiments.Comparison {
			s := stats(-2.7, -41.11, -6.22, 28.67, false) // the issue's −622% [−4111%, +2867%]: never shown
			s.SeqCI = experiments.Interval{Lo: -8, Hi: 2.6}
			return s
		}(), MoreDays: days(40)},
			TonePending, "Not yet conclusive: about 40 more days at the current rate.", "So far: −2.7 points; always-valid 95% CI −8.0 to +2.6 points.", ""},
		{"no estimate of days", testExp, metric(engine.MetricChurn, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(-0.01, -0.4, -0.18, 0.05, false)},
			TonePending, "Not yet conclusive: not enough data yet to estimate how long it will take.", "", ""},
		{"no difference", testExp, metric(engine.MetricChurn, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(0, -0.1, 0, 0.1, false)},
			TonePending, "No difference so far.", "", ""},
		{"stopped", stopped, metric(engine.MetricChurn, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(-0.01, -0.4, -0.18, 0.05, false), MoreDays: days(3)},
			TonePending, "No conclusive difference: the experiment stopped before one showed.", "", ""},
		{"no data", testExp, metric(engine.MetricChurn, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: experiments.Comparison{AbsLift: nan, RelLift: nan}},
			ToneNone, "No data yet: no customers recorded in one of the arms.", "", ""},
		{"holdout response rate", testExp, metric(engine.MetricResponseRate, false), engine.Comparison{Arm: "nba", Reference: "holdout", Stats: stats(0.1, 0, 0, 0, true)},
			ToneNone, "Not applicable: the holdout is never contacted, so it has no response rate.", "", ""},
		// A holdout that contacts nobody has no responders by construction: never "conclusive".
		{"holdout responders", testExp, metric(engine.MetricResponders, false), engine.Comparison{Arm: "nba", Reference: "holdout", Stats: stats(0.1, 0, 0, 0, true)},
			ToneNone, "Not applicable: the holdout is never contacted, so it has no responders by construction.", "", ""},
		{"net value in money", testExp, metric(engine.MetricNetValue, false), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(4.1, 0.1, 0.2, 0.3, true)},
			ToneGood, "NBA raised net value by 4.10 per customer (95% CI 3.10 to 5.10)", "Always-valid 95% CI of the difference: +2.05 to +6.15 per customer, which excludes zero.", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := verdict(newArms(tc.x), tc.m, tc.c)
			if v.Tone != tc.tone || plain(v.Sentence) != tc.sentence {
				t.Errorf("verdict %s %q, want %s %q", v.Tone, plain(v.Sentence), tc.tone, tc.sentence)
			}
			if tc.estimate != "" && plain(v.Estimate) != tc.estimate {
				t.Errorf("estimate %q, want %q", plain(v.Estimate), tc.estimate)
			}
			if plain(v.Why) != tc.why {
				t.Errorf("why %q, want %q", plain(v.Why), tc.why)
			}
			if v.Conclusive != (tc.tone == ToneGood || tc.tone == ToneBad) {
				t.Errorf("conclusive %v for tone %s", v.Conclusive, v.Tone)
			}
			// Every number in the sentence names its place in the API's report.
			for _, p := range sentence(v.Sentence, v.Estimate, v.Why) {
				if p.Num != nil && !strings.HasPrefix(p.Num.Path, "metrics[name="+tc.m.Name+"].comparisons[arm="+tc.c.Arm+"][reference="+tc.c.Reference+"]") {
					t.Errorf("number %q has path %q", p.Num.Text, p.Num.Path)
				}
			}
		})
	}
}

func report(cmps map[string][]engine.Comparison, assigned int64) *engine.Report {
	rep := &engine.Report{Experiment: testExp, Arms: []engine.ArmTotals{{Name: "nba", Assigned: assigned}, {Name: "legacy", Assigned: assigned}, {Name: "holdout"}}}
	for _, name := range []string{engine.MetricResponseRate, engine.MetricChurn, engine.MetricDiscount, engine.MetricNPS} {
		m := metric(name, name == engine.MetricChurn || name == engine.MetricDiscount)
		m.Comparisons = cmps[name]
		rep.Metrics = append(rep.Metrics, m)
	}
	return rep
}

func TestHeadline(t *testing.T) {
	win := engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(-0.03, -0.27, -0.18, -0.09, true)}
	lose := engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(0.03, 0.1, 0.2, 0.3, true)}
	loseRate := engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(-0.03, -0.3, -0.2, -0.1, true)}
	wait := engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(-0.01, -0.3, -0.1, 0.1, false), MoreDays: days(9)}
	waitLonger := engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(-0.01, -0.3, -0.1, 0.1, false), MoreDays: days(30)}
	holdoutWin := engine.Comparison{Arm: "nba", Reference: "holdout", Stats: stats(-0.05, -0.5, -0.4, -0.3, true)}
	for _, tc := range []struct {
		name      string
		rep       *engine.Report
		tone      Tone
		title     string
		sentences []string
		note      string
	}{
		{"winning", report(map[string][]engine.Comparison{engine.MetricChurn: {win, holdoutWin}, engine.MetricNPS: {wait}}, 100), ToneGood, "NBA is winning",
			[]string{"NBA cut churn by 18% (95% CI 9% to 27%)."}, ""},
		{"losing", report(map[string][]engine.Comparison{engine.MetricDiscount: {lose}}, 100), ToneBad, "NBA is losing on retention discounts",
			[]string{"NBA raised retention discounts by 20% (95% CI 10% to 30%)."}, ""},
		{"mixed, churn first", report(map[string][]engine.Comparison{engine.MetricResponseRate: {loseRate}, engine.MetricChurn: {win}, engine.MetricDiscount: {lose}}, 100), ToneMixed,
			"Mixed: NBA wins on churn but loses on the response rate and retention discounts",
			[]string{"NBA cut churn by 18% (95% CI 9% to 27%).", "NBA lowered the response rate by 20% (95% CI 10% to 30%).", "NBA raised retention discounts by 20% (95% CI 10% to 30%)."}, ""},
		{"too early", report(map[string][]engine.Comparison{engine.MetricChurn: {waitLonger}, engine.MetricNPS: {wait}}, 100), TonePending, "Too early to tell", nil,
			"No primary metric differs conclusively between NBA and the legacy campaigns yet. The clearest difference so far should be conclusive in about 9 more days at the current rate."},
		{"no data", report(nil, 0), ToneNone, "No results yet", nil, "No customer has been assigned to this experiment yet. Results appear here once decisions are made."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := headline(newArms(tc.rep.Experiment), tc.rep)
			var got []string
			for _, s := range h.Sentences {
				got = append(got, plain(s))
			}
			if h.Tone != tc.tone || h.Title != tc.title || strings.Join(got, "|") != strings.Join(tc.sentences, "|") || plain(h.Note) != tc.note {
				t.Errorf("headline %s %q %q note %q\nwant %s %q %q note %q", h.Tone, h.Title, got, plain(h.Note), tc.tone, tc.title, tc.sentences, tc.note)
			}
		})
	}
}

func TestArmLabels(t *testing.T) {
	a := newArms(testExp)
	if a.label("nba") != "NBA" || a.label("holdout") != "Holdout" || a.against("legacy") != "the legacy campaigns" || a.against("holdout") != "the holdout (no contact)" {
		t.Error("labels of a three-arm experiment")
	}
	if h := a.heroes(); len(h) != 1 || h[0] != "nba" {
		t.Errorf("heroes %v", h)
	}
	two := testExp
	two.Arms = []experiments.Arm{{Name: "nba-a", Policy: experiments.PolicyNBA, Weight: 0.3}, {Name: "nba-b", Policy: experiments.PolicyNBA, Weight: 0.3}, {Name: "legacy", Policy: experiments.PolicyLegacy, Weight: 0.4}}
	b := newArms(two)
	if b.label("nba-a") != "nba-a" || len(b.heroes()) != 2 {
		t.Errorf("two NBA arms: label %q heroes %v", b.label("nba-a"), b.heroes())
	}
}
