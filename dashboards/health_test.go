package dashboards

import (
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
)

func TestModelWarnings(t *testing.T) {
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	ago := func(h int) time.Time { return now.Add(-time.Duration(h) * time.Hour) }
	auc := func(x float64) *float64 { return &x }
	info := func(resp, pos, chosen int64, a *float64) engine.ModelInfo {
		return engine.ModelInfo{Chosen: chosen, Health: engine.Health{Responses: resp, Positives: pos, AUC: a, AUCWindow: int(min(resp, 1000))}}
	}
	snap := func(v uint64, at time.Time, resp, pos, chosen int64, a *float64) engine.Snapshot {
		return engine.Snapshot{Version: v, Time: at, Responses: resp, Positives: pos, Chosen: chosen, AUC: a}
	}
	for _, tc := range []struct {
		name     string
		info     engine.ModelInfo
		versions []engine.Snapshot // newest first
		want     []string
	}{
		{"healthy", info(2000, 400, 5000, auc(0.75)), []engine.Snapshot{snap(3, ago(1), 1900, 380, 4800, auc(0.76)), snap(2, ago(30), 1000, 200, 2500, auc(0.74))}, nil},
		{"never learnt", info(0, 0, 150, nil), nil, []string{"not-learning"}},
		{"too few choices to tell", info(0, 0, 99, nil), nil, nil},
		// Responses flat since version 2 (30 h ago) while NBA chose it 300 more times.
		{"stalled", info(1000, 200, 3000, auc(0.75)), []engine.Snapshot{snap(3, ago(2), 1000, 200, 2900, auc(0.75)), snap(2, ago(30), 1000, 200, 2700, auc(0.75)), snap(1, ago(60), 500, 100, 1000, auc(0.74))}, []string{"stalled"}},
		{"flat but recent", info(1000, 200, 3000, auc(0.75)), []engine.Snapshot{snap(3, ago(2), 1000, 200, 2700, auc(0.75)), snap(2, ago(30), 900, 180, 2600, auc(0.75))}, nil},
		{"flat but not chosen", info(1000, 200, 2750, auc(0.75)), []engine.Snapshot{snap(2, ago(30), 1000, 200, 2700, auc(0.75))}, nil},
		{"auc drop", info(3000, 600, 9000, auc(0.68)), []engine.Snapshot{snap(3, ago(2), 2900, 580, 8800, auc(0.70)), snap(2, ago(30), 2000, 400, 6000, auc(0.76))}, []string{"auc-drop"}},
		{"auc within 0.05", info(3000, 600, 9000, auc(0.72)), []engine.Snapshot{snap(2, ago(30), 2000, 400, 6000, auc(0.76))}, nil},
		// 0.96 at 40 positives is noise: too few to compare.
		{"early auc ignored", info(3000, 600, 9000, auc(0.70)), []engine.Snapshot{snap(2, ago(300), 200, 40, 600, auc(0.96))}, nil},
		// The model: AUC 0.53 after 25,000 choices. With 3% positive responses
		// the window of 1,000 holds 30 positives (>= aucJudged, 20): weak, not healthy.
		{"weak ranking", info(25000, 750, 25000, auc(0.53)), nil, []string{"weak-ranking"}},
		// 0.4% positive: 4 in the window, too few to judge (and no warning).
		{"too few to judge", info(25000, 100, 25000, auc(0.53)), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := modelWarnings(tc.info, tc.versions, now)
			var kinds []string
			for _, w := range got {
				kinds = append(kinds, w.Kind)
			}
			if len(kinds) != len(tc.want) || (len(kinds) > 0 && kinds[0] != tc.want[0]) {
				t.Errorf("warnings %v, want %v (%v)", kinds, tc.want, got)
			}
		})
	}
}

func TestRanking(t *testing.T) {
	auc := func(x float64) *float64 { return &x }
	rate := func(x float64) *float64 { return &x }
	for _, tc := range []struct {
		name     string
		h        engine.Health
		pos, neg int
		judged   bool
		weak     bool
		text     string
	}{
		// Counts from the calibration bins: 100 × 0.3 = 30 positive, 70 + 50 negative.
		{"judged from the bins", engine.Health{Responses: 5000, Positives: 10, AUC: auc(0.71), AUCWindow: 150,
			Calibration: []engine.CalibrationBin{{Count: 100, ObservedRate: rate(0.3)}, {Count: 50, ObservedRate: rate(0)}, {Count: 0}}},
			30, 120, true, false, "Ranks: AUC 0.710 over the last 150 responses (30 positive)."},
		{"weak", engine.Health{Responses: 25000, Positives: 750, AUC: auc(0.53), AUCWindow: 1000}, 30, 970, true, true,
			"Weak ranking: AUC 0.530 over the last 1,000 responses (30 positive). The model barely tells them apart (0.5 is a coin toss): what it sees does not predict them, or it has not learnt how yet."},
		{"not judged", engine.Health{Responses: 1000, Positives: 6, AUC: auc(0.9), AUCWindow: 1000}, 6, 994, false, false,
			"Ranking not judged yet: the AUC window holds 6 positive responses and 994 negative ones; at least 20 of each are needed."},
		{"no AUC", engine.Health{Responses: 4, Positives: 4, AUCWindow: 4}, 4, 0, false, false,
			"Ranking not judged yet: the AUC window holds 4 positive responses and 0 negative ones; at least 20 of each are needed."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rankingOf(tc.h)
			if r.Pos != tc.pos || r.Neg != tc.neg || r.Judged != tc.judged || r.Weak != tc.weak {
				t.Errorf("ranking %+v, want %d positive, %d negative, judged %v, weak %v", r, tc.pos, tc.neg, tc.judged, tc.weak)
			}
			if got := rankingText(r, responseWords); got != tc.text {
				t.Errorf("text %q\nwant %q", got, tc.text)
			}
		})
	}
	// An effect model's labels.
	r := rankingOf(engine.Health{Responses: 172, Positives: 35, AUC: auc(0.711), AUCWindow: 172})
	if got, want := rankingText(r, labelWords("churn")), "Ranks: AUC 0.711 over the last 172 churn labels (35 where churn occurred)."; got != want {
		t.Errorf("labels: %q, want %q", got, want)
	}
}
