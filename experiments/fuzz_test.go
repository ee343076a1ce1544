package experiments

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzAnalyze feeds arbitrary bytes to Analyze. It must never panic; it
// either fails with one of the package's sentinel errors or returns an
// analysis that WriteText can print. The seed corpus is in
// testdata/fuzz/FuzzAnalyze, plus the cases added below.
func FuzzAnalyze(f *testing.F) {
	f.Add([]byte("arm,conv,spend,visits,nps\ncontrol,1,2.5,1,9\nnba,0,0,0,\ncontrol,0,1e3,2,3\nnba,1,7,4,10\n"), uint8(0))
	f.Add([]byte("\ufeffarm;conv;spend;visits;nps\ncontrol;1;2,5;1;9\nnba;0;0;0;\n"), uint8(1))
	f.Add([]byte("arm,conv,spend,visits,nps\ncontrol,1,NaN,1,11\n"), uint8(2))
	f.Add([]byte("arm,conv,spend,visits,nps\n\"con\ntrol\",1,1,1,1\n"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, variant uint8) {
		opts := AnalyzeOptions{
			ArmColumn: "arm",
			Control:   "control",
			Metrics: []MetricSpec{
				{Column: "conv", Kind: Binary},
				{Column: "spend", Kind: Mean, LowerIsBetter: true},
				{Column: "visits", Kind: Count},
				{Column: "nps", Kind: NPS},
			},
		}
		if variant&1 != 0 {
			opts.Weights = map[string]float64{"control": 0.5, "nba": 0.4, "holdout": 0.1}
		}
		if variant&2 != 0 {
			opts.Comma = ';'
		}
		if variant&4 != 0 {
			opts.Level = 0.9
			opts.Tuning = 100
		}
		a, err := Analyze(bytes.NewReader(data), opts)
		if err != nil {
			if !errors.Is(err, ErrInvalidTable) && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if a.Arms[0] != "control" || len(a.Customers) != len(a.Arms) {
			t.Fatalf("bad analysis: arms %v customers %v", a.Arms, a.Customers)
		}
		if err := a.WriteText(io.Discard); err != nil {
			t.Fatal(err)
		}
	})
}
