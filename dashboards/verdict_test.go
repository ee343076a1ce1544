package dashboards

import (
	"math"
	"strings"
	"testing"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

// The wording of verdicts and headlines is tested in package experiments (verdict_test.go,
// the same cases); these tests check that the pages render it as it is worded, each
// number marked with the report value it shows.

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

// checkPaths fails when a rendered number does not show the report value its path names.
func checkPaths(t *testing.T, rep *engine.Report, parts []Part) {
	t.Helper()
	for _, p := range parts {
		if p.Num == nil || (p.Num.Value == nil && p.Num.Text == "—") {
			continue // words, or a figure the verdict leaves undefined (not applicable)
		}
		var want *float64
		for _, m := range rep.Metrics {
			for _, c := range m.Comparisons {
				base := cmpPath(m.Name, c.Arm, c.Reference) + "."
				if !strings.HasPrefix(p.Num.Path, base) {
					continue
				}
				v, ok := map[string]float64{"stats.abs_lift": c.Stats.AbsLift, "stats.abs_ci.lo": c.Stats.AbsCI.Lo, "stats.abs_ci.hi": c.Stats.AbsCI.Hi,
					"stats.rel_lift": c.Stats.RelLift, "stats.rel_ci.lo": c.Stats.RelCI.Lo, "stats.rel_ci.hi": c.Stats.RelCI.Hi,
					"stats.seq_ci.lo": c.Stats.SeqCI.Lo, "stats.seq_ci.hi": c.Stats.SeqCI.Hi}[strings.TrimPrefix(p.Num.Path, base)]
				if p.Num.Path == base+"more_days" && c.MoreDays != nil {
					v, ok = *c.MoreDays, true
				}
				if ok {
					want = &v
				}
			}
		}
		if want == nil || p.Num.Value == nil || *p.Num.Value != *want {
			t.Errorf("number %q: path %q names %v, the number holds %v", p.Num.Text, p.Num.Path, want, p.Num.Value)
		}
	}
}

func TestVerdictRendered(t *testing.T) {
	for _, tc := range []struct {
		name     string
		m        engine.MetricResult
		c        engine.Comparison
		sentence string
	}{
		{"churn cut", metric(engine.MetricChurn, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(-0.03, -0.27, -0.18, -0.09, true)},
			"NBA cut churn by 18% (95% CI 9% to 27%)"},
		{"more days", metric(engine.MetricChurn, true), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(-0.01, -0.4, -0.18, 0.05, false), MoreDays: days(12)},
			"Not yet conclusive: about 12 more days at the current rate."},
		{"net value in money", metric(engine.MetricNetValue, false), engine.Comparison{Arm: "nba", Reference: "legacy", Stats: stats(4.1, 0.1, 0.2, 0.3, true)},
			"NBA raised net value by 4.10 per customer (95% CI 3.10 to 5.10)"},
		{"holdout response rate", metric(engine.MetricResponseRate, false), engine.Comparison{Arm: "nba", Reference: "holdout", Stats: stats(0.1, 0, 0, 0, true)},
			"Not applicable: the holdout is never contacted, so it has no response rate."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newArms(testExp)
			v := verdict(a, tc.m, tc.c)
			want := a.d.Verdict(resultOf(tc.m, tc.c))
			if plain(v.Sentence) != tc.sentence || plain(v.Sentence) != want.Sentence.String() || plain(v.Estimate) != want.Estimate.String() ||
				plain(v.Why) != want.Why.String() || v.Tone != want.Tone || v.Label != want.Label || v.Big.Text != want.Big.Text {
				t.Errorf("rendered %s %q %q, worded %s %q %q", v.Tone, plain(v.Sentence), plain(v.Estimate), want.Tone, want.Sentence.String(), want.Estimate.String())
			}
			m := tc.m
			m.Comparisons = []engine.Comparison{tc.c}
			checkPaths(t, &engine.Report{Metrics: []engine.MetricResult{m}}, sentence(v.Sentence, v.Estimate, v.Why, v.Big))
		})
	}
}

func TestHeadlineRendered(t *testing.T) {
	rep := &engine.Report{Experiment: testExp, Arms: []engine.ArmTotals{{Name: "nba", Assigned: 100}, {Name: "legacy", Assigned: 100}, {Name: "holdout"}}}
	churn, nps := metric(engine.MetricChurn, true), metric(engine.MetricNPS, false)
	churn.Comparisons = []engine.Comparison{{Arm: "nba", Reference: "legacy", Stats: stats(-0.01, -0.3, -0.1, 0.1, false), MoreDays: days(30)}}
	nps.Comparisons = []engine.Comparison{{Arm: "nba", Reference: "legacy", Stats: stats(-0.01, -0.3, -0.1, 0.1, false), MoreDays: days(9)}}
	rep.Metrics = []engine.MetricResult{churn, nps}
	h := headline(newArms(testExp), rep)
	if want := "No primary metric differs conclusively between NBA and the legacy campaigns yet. The clearest difference so far should be conclusive in about 9 more days at the current rate."; h.Tone != TonePending || plain(h.Note) != want {
		t.Errorf("headline %s %q, want pending %q", h.Tone, plain(h.Note), want)
	}
	checkPaths(t, rep, h.Note)
	// The 9 days are the NPS comparison's.
	for _, p := range h.Note {
		if p.Num != nil && p.Num.Path != cmpPath(engine.MetricNPS, "nba", "legacy")+".more_days" {
			t.Errorf("the days of the headline come from %s", p.Num.Path)
		}
	}
	// A winning one: its sentence is the verdict's, with a full stop.
	churn.Comparisons[0].Stats = stats(-0.03, -0.27, -0.18, -0.09, true)
	rep.Metrics = []engine.MetricResult{churn}
	h = headline(newArms(testExp), rep)
	if h.Tone != ToneGood || h.Title != "NBA is winning" || len(h.Sentences) != 1 || plain(h.Sentences[0]) != "NBA cut churn by 18% (95% CI 9% to 27%)." {
		t.Errorf("headline %s %q %v", h.Tone, h.Title, h.Sentences)
	}
	checkPaths(t, rep, h.Sentences[0])
}

// TestMetricWording: every metric the engine reports has its own wording in experiments,
// not the fallback for an unknown name.
func TestMetricWording(t *testing.T) {
	for _, name := range []string{engine.MetricResponseRate, engine.MetricChurn, engine.MetricDiscount, engine.MetricNPS, engine.MetricResponders, engine.MetricNetValue, engine.MetricRevenue} {
		if mt := metricTextOf(name); mt.Title == name || !validMetric(name) {
			t.Errorf("metric %q has no wording: %+v", name, mt)
		}
	}
}
