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
