package table

import (
	"testing"

	"github.com/nextbest/nextbest/experiments"
)

func TestParseDataAndMetricFlags(t *testing.T) {
	data := []struct {
		in          string
		label, path string
	}{
		{"a.csv", "", "a.csv"},
		{"random=logs/a.csv", "random", "logs/a.csv"},
		{" bts =b.csv", "bts", "b.csv"},
		{"./x=1.csv", "", "./x=1.csv"},
		{"logs/day=1/a.csv", "", "logs/day=1/a.csv"},
		{"a=b=c.csv", "a", "b=c.csv"},
	}
	for _, tt := range data {
		got, err := ParseData(tt.in)
		if err != nil || got.Label != tt.label || got.Path != tt.path {
			t.Errorf("--data %q: %+v, %v; want label %q path %q", tt.in, got, err, tt.label, tt.path)
		}
	}
	metrics := []struct {
		in     string
		column string
		kind   experiments.Kind
		lower  bool
	}{
		{"click:binary", "click", experiments.Binary, false},
		{"churned:Binary:lower", "churned", experiments.Binary, true},
		{"spend:mean:higher", "spend", experiments.Mean, false},
		{"a:b:count", "a:b", experiments.Count, false},
		{"score:nps", "score", experiments.NPS, false},
	}
	for _, tt := range metrics {
		got, err := ParseMetric(tt.in)
		if err != nil || got.Column != tt.column || got.Kind != tt.kind || got.LowerIsBetter != tt.lower {
			t.Errorf("--metric %q: %+v, %v", tt.in, got, err)
		}
	}
	seps := map[string]rune{"auto": 0, ",": ',', ";": ';', "tab": '\t', `\t`: '\t', "|": '|'}
	for in, want := range seps {
		if got, err := ParseSep(in); err != nil || got != want {
			t.Errorf("--sep %q: %q, %v; want %q", in, got, err, want)
		}
	}
}
