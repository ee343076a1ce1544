package experiments

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestAnalyzeSources(t *testing.T) {
	opts := AnalyzeOptions{ArmColumn: "arm", Control: "c", Metrics: []MetricSpec{{Column: "x", Kind: Binary}}}
	var calls [][2]int
	opts.Progress = func(src, rows int) { calls = append(calls, [2]int{src, rows}) }
	srcs := []Source{
		// An arm column, ',' separators.
		{Name: "one.csv", R: strings.NewReader("arm,x\nc,1\nt,0\n")},
		// Labelled: no arm column, ';' separators, columns in another order.
		{Name: "two.csv", R: strings.NewReader("y;x\n5;1\n6;1\n"), Arm: "t"},
		// Labelled: its arm column is ignored.
		{Name: "three.csv", R: strings.NewReader("x,arm\n0,c\n"), Arm: "u"},
		// Labelled and empty: the arm is listed with no rows.
		{Name: "four.csv", R: strings.NewReader("x\n"), Arm: "v"},
	}
	a, err := AnalyzeSources(srcs, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Rows by arm: c 1 (x=1), t 1+2 (x = 0, 1, 1), u 1 (x=0), v 0.
	if strings.Join(a.Arms, ",") != "c,t,u,v" {
		t.Fatalf("arms %v", a.Arms)
	}
	want := []Summary{{1, 1, 1}, {3, 2, 2}, {1, 0, 0}, {}}
	for i, s := range a.Metrics[0].Summaries {
		if s != want[i] || a.Customers[i] != want[i].N {
			t.Errorf("arm %s: summary %+v customers %d, want %+v", a.Arms[i], s, a.Customers[i], want[i])
		}
	}
	// Progress: source index and rows so far in that source.
	wantCalls := [][2]int{{0, 1}, {0, 2}, {1, 1}, {1, 2}, {2, 1}}
	if len(calls) != len(wantCalls) {
		t.Fatalf("progress calls %v, want %v", calls, wantCalls)
	}
	for i := range calls {
		if calls[i] != wantCalls[i] {
			t.Errorf("progress call %d: %v, want %v", i, calls[i], wantCalls[i])
		}
	}
	// The empty arm v has an undefined comparison and is left out of Holm.
	if a.Family != 2 || !math.IsNaN(a.Metrics[0].Comparisons[2].HolmP) {
		t.Errorf("family %d, v's Holm p %v; want 2 and NaN", a.Family, a.Metrics[0].Comparisons[2].HolmP)
	}
}

func TestAnalyzeSourcesErrors(t *testing.T) {
	opts := AnalyzeOptions{ArmColumn: "arm", Control: "c", Metrics: []MetricSpec{{Column: "x", Kind: Binary}}}
	good := func() Source { return Source{Name: "good.csv", R: strings.NewReader("arm,x\nc,1\n")} }
	tests := []struct {
		name  string
		srcs  []Source
		parts []string
	}{
		{"bad cell in the second table", []Source{good(), {Name: "bad.csv", R: strings.NewReader("arm,x\nc,0\nt,7\n")}},
			[]string{"bad.csv: row 3", `column "x"`}},
		{"no arm column, unlabelled", []Source{good(), {Name: "nolabel.csv", R: strings.NewReader("x\n1\n")}},
			[]string{"nolabel.csv: row 1", `no column "arm"`}},
		{"no metric column, labelled", []Source{good(), {Name: "l.csv", R: strings.NewReader("y\n1\n"), Arm: "t"}},
			[]string{"l.csv: row 1", `no column "x"`}},
		{"empty table", []Source{good(), {Name: "e.csv", R: strings.NewReader("")}},
			[]string{"e.csv: empty table"}},
		{"short row", []Source{{Name: "s.csv", R: strings.NewReader("arm,x\nc\n")}},
			[]string{"s.csv: row 2", "1 fields"}},
		{"no control", []Source{{Name: "t.csv", R: strings.NewReader("x\n1\n"), Arm: "t"}},
			[]string{`control arm "c" does not appear`, `the arms are "t"`}},
		{"no rows anywhere", []Source{{Name: "h.csv", R: strings.NewReader("x\n"), Arm: "c"}},
			[]string{"no data rows"}},
	}
	for _, tt := range tests {
		_, err := AnalyzeSources(tt.srcs, opts)
		if !errors.Is(err, ErrInvalidTable) {
			t.Errorf("%s: error %v, want ErrInvalidTable", tt.name, err)
			continue
		}
		for _, p := range tt.parts {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("%s: error %q does not mention %s", tt.name, err, p)
			}
		}
	}
	if _, err := AnalyzeSources(nil, opts); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("no sources: error %v, want ErrInvalidConfig", err)
	}
}

func TestQuoteList(t *testing.T) {
	if got := quoteList([]string{"a", "b", "c"}, 2); got != `"a", "b" and 1 more` {
		t.Errorf("quoteList = %s", got)
	}
}
