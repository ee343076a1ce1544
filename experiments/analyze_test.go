package experiments

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// smallOptions reads testdata/small.csv. It is a ';'-separated export with
// a byte-order mark, decimal commas, blank NPS answers, a quoted cell
// holding ';', and two columns that Analyze must ignore.
func smallOptions() AnalyzeOptions {
	return AnalyzeOptions{
		ArmColumn: "arm",
		Control:   "legacy",
		Metrics: []MetricSpec{
			{Column: "responded", Kind: Binary},
			{Column: "spend", Kind: Mean},
			{Column: "visits", Kind: Count},
			{Column: "nps", Kind: NPS, Name: "NPS"},
		},
		Weights: map[string]float64{"legacy": 0.4, "nba": 0.4, "holdout": 0.2},
	}
}

func analyzeFile(t *testing.T, name string, opts AnalyzeOptions) *Analysis {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := Analyze(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAnalyzeSmallByHand(t *testing.T) {
	a := analyzeFile(t, "small.csv", smallOptions())

	// Arms: the control first, then first appearance (nba is on row 2).
	if strings.Join(a.Arms, ",") != "legacy,nba,holdout" || a.Customers[0] != 10 || a.Customers[1] != 10 || a.Customers[2] != 10 {
		t.Fatalf("arms %v customers %v", a.Arms, a.Customers)
	}
	// Summaries added up by hand from the file, arm order legacy, nba, holdout.
	//   responded: 4, 7, 1 of 10.
	//   spend: legacy 10+5.5+20+12+7.5+15 = 70, squares 955.5;
	//          nba 12.5+30+8.25+15+22+9.75+18 = 115.5, squares 2252.375;
	//          holdout 5+12 = 17, squares 169.
	//   visits: 8 (squares 12), 15 (39), 2 (2).
	//   NPS (blank = no answer): legacy 3 promoters, 2 passives, 3
	//   detractors; nba 4, 2, 2; holdout 1, 1, 2.
	want := [][]Summary{
		{{10, 4, 4}, {10, 7, 7}, {10, 1, 1}},
		{{10, 70, 955.5}, {10, 115.5, 2252.375}, {10, 17, 169}},
		{{10, 8, 12}, {10, 15, 39}, {10, 2, 2}},
		{NPSSummary(3, 2, 3), NPSSummary(4, 2, 2), NPSSummary(1, 1, 2)},
	}
	for m, mr := range a.Metrics {
		for i := range want[m] {
			got := mr.Summaries[i]
			if got.N != want[m][i].N || math.Abs(got.Sum-want[m][i].Sum) > 1e-9 || math.Abs(got.SumSq-want[m][i].SumSq) > 1e-9 {
				t.Errorf("%s, %s: summary %+v, want %+v", mr.Metric.Column, a.Arms[i], got, want[m][i])
			}
		}
		// The comparisons are Compare on those summaries.
		for j, c := range mr.Comparisons {
			ref := CompareWith(want[m][j+1], want[m][0], CompareOptions{Kind: mr.Metric.Kind})
			if c.Arm != a.Arms[j+1] || math.Abs(c.Result.PValue-ref.PValue) > 1e-12 || math.Abs(c.Result.AbsLift-ref.AbsLift) > 1e-12 {
				t.Errorf("%s, %s: %+v, want %+v", mr.Metric.Column, c.Arm, c.Result, ref)
			}
		}
	}
	// responded, nba vs legacy: 7/10 vs 4/10, p = erfc(1) (see
	// TestProportionTest).
	if p := a.Metrics[0].Comparisons[0].Result.PValue; math.Abs(p-math.Erfc(1)) > 1e-12 {
		t.Errorf("responded p = %v, want erfc(1)", p)
	}
	// NPS: nba 100·(4−2)/8 = 25 against legacy 100·(3−3)/8 = 0, so the
	// relative lift is undefined.
	nps := a.Metrics[3].Comparisons[0].Result
	if nps.AbsLift != 25 || !math.IsNaN(nps.RelLift) || nps.NTreatment != 8 || nps.NControl != 8 {
		t.Errorf("NPS comparison %+v, want lift 25, no relative lift, 8 respondents each", nps)
	}
	// SRM, by hand: 10/10/10 against 40/40/20 expects 12, 12, 6;
	// χ² = 4/12 + 4/12 + 16/6 = 10/3 on 2 df, p = exp(−5/3) = 0.189.
	if a.SRM == nil || math.Abs(a.SRM.ChiSq-10.0/3) > 1e-12 || math.Abs(a.SRM.PValue-math.Exp(-5.0/3)) > 1e-12 || a.SRM.Mismatch {
		t.Errorf("SRM %+v, want χ² 10/3, p exp(−5/3), no mismatch", a.SRM)
	}
	// Holm over 4 metrics × 2 arms, all with defined p-values.
	var ps []float64
	for _, mr := range a.Metrics {
		for _, c := range mr.Comparisons {
			ps = append(ps, c.Result.PValue)
		}
	}
	adj := Holm(ps)
	k := 0
	for _, mr := range a.Metrics {
		for _, c := range mr.Comparisons {
			if c.HolmP != adj[k] || c.HolmSignificant != (adj[k] < 0.05) {
				t.Errorf("%s, %s: Holm p %v, want %v", mr.Metric.Column, c.Arm, c.HolmP, adj[k])
			}
			k++
		}
	}
	if a.Family != 8 {
		t.Errorf("family %d, want 8", a.Family)
	}
}

func TestAnalyzeGolden(t *testing.T) {
	a := analyzeFile(t, "small.csv", smallOptions())
	var buf bytes.Buffer
	if err := a.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "small.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestAnalyzeGolden -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("WriteText differs from %s (rerun with -update if the change is intended):\n%s", golden, buf.String())
	}
}

func TestAnalyzeCommaAndOptions(t *testing.T) {
	// The same table with ',' separators and '.' decimals, no BOM, no weights.
	csv := "arm,conv,spend\n" +
		"a,1,2.5\n" +
		"b,0,1\n" +
		"a,0,3.5\n" +
		"b,1,2\n" +
		"b,\"1\",0\n"
	a, err := Analyze(strings.NewReader(csv), AnalyzeOptions{
		ArmColumn: "arm", Control: "b",
		Metrics: []MetricSpec{{Column: "conv", Kind: Binary}, {Column: "spend", Kind: Mean, LowerIsBetter: true}},
		Level:   0.9,
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.SRM != nil || strings.Join(a.Arms, ",") != "b,a" || a.Level != 0.9 || a.Tuning != DefaultTuning {
		t.Errorf("analysis %+v", a)
	}
	if s := a.Metrics[1].Summaries[1]; s != (Summary{2, 6, 18.5}) {
		t.Errorf("spend of a = %+v, want {2 6 18.5}", s)
	}
	if c := a.Metrics[1].Comparisons[0].Result; c.Level != 0.9 || c.ChanceToBeat > 0.5 {
		t.Errorf("spend comparison %+v: want level 0.9 and, with lower better and a higher mean, chance < ½", c)
	}
}

func TestAnalyzeErrors(t *testing.T) {
	opts := AnalyzeOptions{
		ArmColumn: "arm", Control: "c",
		Metrics: []MetricSpec{{Column: "x", Kind: Binary}, {Column: "y", Kind: Count}, {Column: "s", Kind: NPS}},
	}
	tests := []struct {
		name  string
		csv   string
		parts []string // the message must name these
	}{
		{"empty", "", []string{"empty table"}},
		{"no arm column", "group,x,y,s\nc,1,1,1\n", []string{"row 1", `"arm"`}},
		{"no metric column", "arm,x,s\nc,1,1\n", []string{"row 1", `"y"`}},
		{"duplicate column", "arm,x,y,s,x\nc,1,1,1,1\n", []string{"row 1", `"x"`}},
		{"not binary", "arm,x,y,s\nc,1,1,1\nt,2,1,1\n", []string{"row 3", `column "x"`, `"2"`}},
		{"fractional count", "arm,x,y,s\nc,1,1.5,1\n", []string{"row 2", `column "y"`}},
		{"negative count", "arm,x,y,s\nc,1,-1,1\n", []string{"row 2", `column "y"`}},
		{"NPS 11", "arm,x,y,s\nc,1,1,11\n", []string{"row 2", `column "s"`}},
		{"empty binary", "arm,x,y,s\nc,,1,1\n", []string{"row 2", `column "x"`}},
		{"NaN", "arm,x,y,s\nc,1,NaN,1\n", []string{"row 2", `column "y"`}},
		{"empty arm", "arm,x,y,s\n ,1,1,1\n", []string{"row 2", `column "arm"`}},
		{"short row", "arm,x,y,s\nc,1,1,1\nc,1\n", []string{"row 3", "2 fields"}},
		{"bad quote", "arm,x,y,s\nc,1,1,1\nc,\"1,1,1\n", []string{"row 3"}},
		{"no control", "arm,x,y,s\nt,1,1,1\n", []string{`control arm "c"`}},
		{"header only", "arm,x,y,s\n", []string{"no data rows"}},
		{"after a multi-line cell", "arm,x,y,s\n\"c\n\",1,1,1\nc,1,1,x\n", []string{"row 3 (line 4)", `column "s"`}},
	}
	for _, tt := range tests {
		_, err := Analyze(strings.NewReader(tt.csv), opts)
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
	if _, err := Analyze(strings.NewReader("arm,x,y,s\nc,1,1,1\nt,0,1,1\n"), AnalyzeOptions{
		ArmColumn: "arm", Control: "c", Metrics: opts.Metrics, Weights: map[string]float64{"c": 1},
	}); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `"t"`) {
		t.Errorf("arm without weight: error %v, want ErrInvalidConfig naming \"t\"", err)
	}
	many := &strings.Builder{}
	many.WriteString("arm,x,y,s\nc,1,1,1\n")
	for i := 0; i <= MaxArms; i++ {
		many.WriteString("id" + strings.Repeat("x", i) + ",1,1,1\n")
	}
	if _, err := Analyze(strings.NewReader(many.String()), opts); !errors.Is(err, ErrInvalidTable) || !strings.Contains(err.Error(), "distinct arms") {
		t.Errorf("too many arms: error %v", err)
	}
	badOpts := []AnalyzeOptions{
		{Control: "c", Metrics: opts.Metrics},
		{ArmColumn: "arm", Metrics: opts.Metrics},
		{ArmColumn: "arm", Control: "c"},
		{ArmColumn: "arm", Control: "c", Metrics: []MetricSpec{{Column: "x"}}},
		{ArmColumn: "arm", Control: "c", Metrics: []MetricSpec{{Column: "x", Kind: Binary}, {Column: "x", Kind: Mean}}},
		{ArmColumn: "arm", Control: "c", Metrics: opts.Metrics, Level: 95},
		{ArmColumn: "arm", Control: "c", Metrics: opts.Metrics, Tuning: -5},
		{ArmColumn: "arm", Control: "c", Metrics: opts.Metrics, Comma: '"'},
		{ArmColumn: "arm", Control: "c", Metrics: opts.Metrics, Weights: map[string]float64{"c": -1}},
	}
	for i, o := range badOpts {
		if _, err := Analyze(strings.NewReader("arm,x,y,s\nc,1,1,1\n"), o); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("bad options %d: error %v, want ErrInvalidConfig", i, err)
		}
	}
}

func TestDetectComma(t *testing.T) {
	tests := []struct {
		input string
		want  rune
	}{
		{"a,b,c\n1,2,3\n", ','},
		{"a;b;c\n1,5;2;3\n", ';'},
		{"\"x;y;z\",b\n", ','}, // separators inside quotes do not count
		{"only", ','},
		{"a;b,c;d", ';'},
		{"", ','},
	}
	for _, tt := range tests {
		br := bufio.NewReaderSize(strings.NewReader(tt.input), 64<<10)
		if got := detectComma(br); got != tt.want {
			t.Errorf("%q: detected %q, want %q", tt.input, got, tt.want)
		}
		// Detection only peeks: the input is still there to read.
		if rest, _ := io.ReadAll(br); string(rest) != tt.input {
			t.Errorf("%q: detection consumed input, %q left", tt.input, rest)
		}
	}
}
