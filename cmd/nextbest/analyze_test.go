package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nextbest/nextbest/experiments"
	"github.com/nextbest/nextbest/experiments/table"
	"github.com/nextbest/nextbest/internal/cli"
)

// The JSON document of `nextbest analyze --json`, decoded with this test's
// own types. Numbers that may be null are pointers.
type (
	analyzeDoc struct {
		ArmColumn string `json:"arm_column"`
		Sources   []struct {
			Path string `json:"path"`
			Arm  string `json:"arm"`
			Rows int    `json:"rows"`
		} `json:"sources"`
		Analysis struct {
			Level   float64 `json:"level"`
			Tuning  float64 `json:"tuning"`
			Control string  `json:"control"`
			Arms    []struct {
				Name      string `json:"name"`
				Customers int    `json:"customers"`
			} `json:"arms"`
			Family int `json:"family"`
			SRM    *struct {
				ChiSq    *float64  `json:"chi_sq"`
				DF       int       `json:"df"`
				PValue   *float64  `json:"p_value"`
				Expected []float64 `json:"expected"`
				Mismatch bool      `json:"mismatch"`
			} `json:"srm"`
			Metrics []docMetric `json:"metrics"`
		} `json:"analysis"`
	}
	docMetric struct {
		Metric struct {
			Column        string `json:"column"`
			Kind          string `json:"kind"`
			LowerIsBetter bool   `json:"lower_is_better"`
		} `json:"metric"`
		Summaries []struct {
			Arm  string   `json:"arm"`
			N    int      `json:"n"`
			Sum  float64  `json:"sum"`
			Mean *float64 `json:"mean"`
		} `json:"summaries"`
		Comparisons []struct {
			Arm             string        `json:"arm"`
			Result          docComparison `json:"result"`
			HolmP           *float64      `json:"holm_p"`
			HolmSignificant bool          `json:"holm_significant"`
		} `json:"comparisons"`
	}
	docComparison struct {
		Treatment   *float64    `json:"treatment"`
		Control     *float64    `json:"control"`
		NTreatment  int         `json:"n_treatment"`
		NControl    int         `json:"n_control"`
		AbsLift     *float64    `json:"abs_lift"`
		AbsCI       docInterval `json:"abs_ci"`
		SE          *float64    `json:"se"`
		DF          *float64    `json:"df"`
		RelLift     *float64    `json:"rel_lift"`
		RelCI       docInterval `json:"rel_ci"`
		PValue      *float64    `json:"p_value"`
		Significant bool        `json:"significant"`
	}
	docInterval struct {
		Lo *float64 `json:"lo"`
		Hi *float64 `json:"hi"`
	}
)

// runAnalyzeCmd runs `nextbest analyze args...` as main would.
func runAnalyzeCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errw bytes.Buffer
	err = run(context.Background(), append([]string{"analyze"}, args...), &out, &errw)
	return out.String(), errw.String(), err
}

// analyzeToJSON runs analyze with --json into a temporary file and decodes it.
func analyzeToJSON(t *testing.T, args ...string) (analyzeDoc, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.json")
	stdout, stderr, err := runAnalyzeCmd(t, append(args, "--json", path)...)
	if err != nil {
		t.Fatalf("analyze %v: %v\nstderr: %s", args, err, stderr)
	}
	if !strings.Contains(stderr, "wrote "+path) {
		t.Errorf("stderr %q does not report the JSON file", stderr)
	}
	return decodeDoc(t, path), stdout
}

func decodeDoc(t *testing.T, path string) analyzeDoc {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc analyzeDoc
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decode %s: %v\n%s", path, err, raw)
	}
	return doc
}

// num dereferences a JSON number that must not be null.
func num(t *testing.T, name string, p *float64) float64 {
	t.Helper()
	if p == nil {
		t.Fatalf("%s is null", name)
	}
	return *p
}

func closeTo(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g ± %g", name, got, want, tol)
	}
}

const fixtures = "testdata/analyze"

func fixture(name string) string { return filepath.Join(fixtures, name) }

// TestAnalyzeTable analyses testdata/analyze/exp.csv, one table with an
// arm column, and checks the numbers against hand computations.
func TestAnalyzeTable(t *testing.T) {
	doc, stdout := analyzeToJSON(t, "--data", fixture("exp.csv"), "--arm", "group", "--control", "legacy",
		"--metric", "converted:binary", "--metric", "spend:mean", "--metric", "nps:nps")
	a := doc.Analysis
	if doc.ArmColumn != "group" || len(doc.Sources) != 1 || doc.Sources[0].Rows != 20 || doc.Sources[0].Arm != "" {
		t.Errorf("sources %+v, want one unlabelled file of 20 rows", doc.Sources)
	}
	if a.Control != "legacy" || a.Level != 0.95 || a.Tuning != 5000 || a.SRM != nil || a.Family != 3 {
		t.Errorf("analysis header %+v", a)
	}
	if len(a.Arms) != 2 || a.Arms[0].Name != "legacy" || a.Arms[0].Customers != 10 || a.Arms[1].Name != "nba" || a.Arms[1].Customers != 10 {
		t.Fatalf("arms %+v, want legacy 10, nba 10", a.Arms)
	}
	if len(a.Metrics) != 3 {
		t.Fatalf("%d metrics, want 3", len(a.Metrics))
	}

	// converted: legacy 4/10, nba 7/10 (counted in the fixture). Unpooled
	// SE = sqrt(.7·.3/10 + .4·.6/10) = sqrt(.045), z = .3/sqrt(.045) = √2,
	// p = 2(1 − Φ(√2)) = erfc(1).
	conv := a.Metrics[0]
	if conv.Metric.Column != "converted" || conv.Metric.Kind != "binary" || conv.Summaries[0].Sum != 4 || conv.Summaries[1].Sum != 7 {
		t.Errorf("converted: %+v", conv)
	}
	c := conv.Comparisons[0].Result
	closeTo(t, "converted lift", num(t, "abs_lift", c.AbsLift), 0.3, 1e-12)
	closeTo(t, "converted SE", num(t, "se", c.SE), math.Sqrt(0.045), 1e-12)
	closeTo(t, "converted p", num(t, "p_value", c.PValue), math.Erfc(1), 1e-12)
	// Relative lift (.7 − .4)/.4 = 75%.
	closeTo(t, "converted rel", num(t, "rel_lift", c.RelLift), 0.75, 1e-12)
	if c.DF != nil {
		t.Errorf("converted df = %v, want null (+Inf: a z test)", *c.DF)
	}

	// spend: legacy five 0s and five 2s (mean 1, s² = 10·1/9 = 10/9); nba
	// five 1s and five 3s (mean 2, s² = 10/9). SE = sqrt(2·(10/9)/10) = √2/3.
	// Equal variances and sizes give Welch df = 2(n − 1) = 18. The CI is
	// 1 ± t(.975, 18)·√2/3 with t(.975, 18) = 2.100922 (Student's t table,
	// R qt(0.975, 18) = 2.100922040). t = 3/√2 = 2.121 lies between
	// t(.975, 18) and t(.98, 18) = 2.214, so 0.04 < p < 0.05.
	sp := a.Metrics[1].Comparisons[0].Result
	closeTo(t, "spend lift", num(t, "abs_lift", sp.AbsLift), 1, 1e-12)
	closeTo(t, "spend SE", num(t, "se", sp.SE), math.Sqrt2/3, 1e-12)
	closeTo(t, "spend df", num(t, "df", sp.DF), 18, 1e-9)
	closeTo(t, "spend CI lo", num(t, "abs_ci.lo", sp.AbsCI.Lo), 1-2.100922040*math.Sqrt2/3, 1e-8)
	closeTo(t, "spend CI hi", num(t, "abs_ci.hi", sp.AbsCI.Hi), 1+2.100922040*math.Sqrt2/3, 1e-8)
	if p := num(t, "spend p", sp.PValue); !(p > 0.04 && p < 0.05) || !sp.Significant {
		t.Errorf("spend p = %v, want in (0.04, 0.05) and significant", p)
	}

	// nps, blank = no answer. legacy 9,10,7,3,2,8,9,0: 3 promoters, 3
	// detractors of 8, NPS 0. nba 10,10,9,9,7,5,9,8,6: 5 promoters, 2
	// detractors of 9, NPS 100·3/9. The control is 0, so no relative lift:
	// null in the JSON.
	nps := a.Metrics[2].Comparisons[0].Result
	if nps.NControl != 8 || nps.NTreatment != 9 {
		t.Errorf("nps respondents %d, %d, want 9, 8", nps.NTreatment, nps.NControl)
	}
	closeTo(t, "nps control", num(t, "control", nps.Control), 0, 1e-12)
	closeTo(t, "nps lift", num(t, "abs_lift", nps.AbsLift), 100.0/3, 1e-9)
	if nps.RelLift != nil || nps.RelCI.Lo != nil || nps.RelCI.Hi != nil {
		t.Errorf("nps relative lift %v %v, want null over a control of 0", nps.RelLift, nps.RelCI)
	}

	// The printed table: the data line, the arms and the converted rows.
	for _, want := range []string{
		"Data: 20 rows from 1 file(s)",
		"(column group)  20 rows  " + fixture("exp.csv"),
		`control "legacy"`,
		"converted (binary, higher is better)",
		"70.00%  +30.00pp",
		"spend (mean, higher is better)",
		"Holm family: 3 comparisons",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

// TestAnalyzeLabels compares two logs in separate files with LABEL=PATH.
// a.csv (the control) has a pandas index column with an empty header and
// ',' separators; b.csv has ';' separators, other column order and an
// extra column. Neither has the arm column.
func TestAnalyzeLabels(t *testing.T) {
	doc, stdout := analyzeToJSON(t, "--data", "random="+fixture("a.csv"), "--data", "bts="+fixture("b.csv"),
		"--arm", "policy", "--control", "random", "--metric", "click:binary", "--weights", "random=1,bts=1")
	a := doc.Analysis
	if len(doc.Sources) != 2 || doc.Sources[0].Arm != "random" || doc.Sources[0].Rows != 80 ||
		doc.Sources[1].Arm != "bts" || doc.Sources[1].Rows != 70 {
		t.Errorf("sources %+v, want random 80 rows, bts 70", doc.Sources)
	}
	if a.Arms[0].Name != "random" || a.Arms[0].Customers != 80 || a.Arms[1].Name != "bts" || a.Arms[1].Customers != 70 {
		t.Fatalf("arms %+v", a.Arms)
	}
	// 56/70 against 48/80 is Newcombe (1998b)'s worked example: Table II,
	// method 10, gives 0.0524 to 0.3339.
	m := a.Metrics[0]
	if m.Summaries[0].Sum != 48 || m.Summaries[1].Sum != 56 {
		t.Errorf("clicks %v and %v, want 48 and 56", m.Summaries[0].Sum, m.Summaries[1].Sum)
	}
	c := m.Comparisons[0].Result
	closeTo(t, "Newcombe lo", num(t, "abs_ci.lo", c.AbsCI.Lo), 0.0524, 5e-5)
	closeTo(t, "Newcombe hi", num(t, "abs_ci.hi", c.AbsCI.Hi), 0.3339, 5e-5)
	// z = 0.2/sqrt(.8·.2/70 + .6·.4/80), p = erfc(z/√2).
	z := 0.2 / math.Sqrt(0.8*0.2/70+0.6*0.4/80)
	closeTo(t, "p", num(t, "p_value", c.PValue), math.Erfc(z/math.Sqrt2), 1e-12)
	// SRM, 80 and 70 against 1:1: χ² = 2·5²/75 = 2/3 on 1 df,
	// p = P(χ²₁ > 2/3) = erfc(sqrt(1/3)).
	if a.SRM == nil || a.SRM.DF != 1 || a.SRM.Mismatch {
		t.Fatalf("SRM %+v", a.SRM)
	}
	closeTo(t, "SRM chi2", num(t, "chi_sq", a.SRM.ChiSq), 2.0/3, 1e-12)
	closeTo(t, "SRM p", num(t, "p_value", a.SRM.PValue), math.Erfc(math.Sqrt(1.0/3)), 1e-12)
	for _, want := range []string{"policy=random  80 rows", "policy=bts     70 rows", "Sample ratio: chi2 = 0.67 on 1 df"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

// TestAnalyzeNullJSON checks that undefined statistics become null: an arm
// whose file has no rows, and an infinite χ² from a weight of 0.
func TestAnalyzeNullJSON(t *testing.T) {
	// --json - sends the JSON alone to stdout and the table to stderr.
	stdout, stderr, err := runAnalyzeCmd(t, "--data", "random="+fixture("a.csv"), "--data", "bts="+fixture("empty.csv"),
		"--arm", "policy", "--control", "random", "--metric", "click:binary", "--json", "-")
	if err != nil {
		t.Fatal(err)
	}
	var doc analyzeDoc
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout)
	}
	if !strings.Contains(stderr, "click (binary") || !strings.Contains(stderr, "n/a") {
		t.Errorf("stderr lacks the table:\n%s", stderr)
	}
	a := doc.Analysis
	if len(a.Arms) != 2 || a.Arms[1].Name != "bts" || a.Arms[1].Customers != 0 || a.Family != 0 {
		t.Fatalf("arms %+v family %d, want bts with 0 rows and an empty family", a.Arms, a.Family)
	}
	m := a.Metrics[0]
	c := m.Comparisons[0]
	if m.Summaries[1].Mean != nil || c.Result.AbsLift != nil || c.Result.AbsCI.Lo != nil || c.Result.PValue != nil || c.HolmP != nil || c.Result.Significant {
		t.Errorf("empty arm: %+v, want nulls", c)
	}
	if !strings.Contains(stdout, `"p_value": null`) || !strings.Contains(stdout, `"holm_p": null`) {
		t.Errorf("JSON does not write null:\n%s", stdout)
	}

	// bts has rows but weight 0: the design cannot produce them, χ² = +Inf.
	doc, stdout = analyzeToJSON(t, "--data", "random="+fixture("a.csv"), "--data", "bts="+fixture("b.csv"),
		"--arm", "policy", "--control", "random", "--metric", "click:binary", "--weights", "random=1,bts=0,other=1")
	s := doc.Analysis.SRM
	if s == nil || s.ChiSq != nil || s.PValue == nil || *s.PValue != 0 || !s.Mismatch {
		t.Errorf("SRM %+v, want chi_sq null, p 0, mismatch", s)
	}
	if !strings.Contains(stdout, "SAMPLE RATIO MISMATCH") {
		t.Errorf("stdout lacks the mismatch warning:\n%s", stdout)
	}
	// other has a weight and no file: listed with 0 rows.
	if arms := doc.Analysis.Arms; len(arms) != 3 || arms[2].Name != "other" || arms[2].Customers != 0 {
		t.Errorf("arms %+v, want other with 0 rows last", arms)
	}
}

func TestAnalyzeMisuse(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := fixture("a.csv"), fixture("b.csv")
	badValue := write("bad.csv", "policy,click\nrandom,0\nrandom,2\n")
	noClick := write("noclick.csv", "policy,clicks\nrandom,0\n")
	base := []string{"--arm", "policy", "--control", "random", "--metric", "click:binary"}
	labelled := append([]string{"--data", "random=" + a, "--data", "bts=" + b}, base...)
	with := func(extra ...string) []string { return append(append([]string{}, labelled...), extra...) }

	tests := []struct {
		name  string
		args  []string
		parts []string // the message must hold these
		table bool     // the error wraps experiments.ErrInvalidTable
	}{
		{"no data", base, []string{"--data FILE is required"}, false},
		{"no arm", []string{"--data", a, "--control", "random", "--metric", "click:binary"}, []string{"--arm COLUMN is required"}, false},
		{"no control", []string{"--data", a, "--arm", "policy", "--metric", "click:binary"}, []string{"--control ARM is required"}, false},
		{"no metric", []string{"--data", a, "--arm", "policy", "--control", "random"}, []string{"--metric NAME:KIND is required"}, false},
		{"metric without kind", with("--metric", "spend"), []string{`--metric "spend"`, "want NAME:KIND"}, false},
		{"unknown kind", with("--metric", "spend:ratio"), []string{`unknown kind "ratio"`, "binary, mean, count or nps"}, false},
		{"metric without name", with("--metric", ":binary"), []string{"no column name"}, false},
		{"metric twice", with("--metric", "click:mean"), []string{`column "click" is given twice`}, false},
		{"metric is the arm", with("--metric", "policy:binary"), []string{"also the --arm column"}, false},
		{"level in percent", with("--level", "95"), []string{"--level 95", "did you mean 0.95?"}, false},
		{"level 1", with("--level", "1"), []string{"--level 1", "between 0 and 1"}, false},
		{"tuning 0", with("--tuning", "0"), []string{"--tuning 0"}, false},
		{"one weight", with("--weights", "random=1"), []string{"two arms with a positive weight"}, false},
		{"bad weight", with("--weights", "random=x,bts=1"), []string{`weight of "random" is "x"`}, false},
		{"negative weight", with("--weights", "random=-1,bts=1"), []string{`weight of "random" is "-1"`}, false},
		{"weight twice", with("--weights", "random=1,random=1"), []string{`arm "random" is given twice`}, false},
		{"weight not ARM=W", with("--weights", "random,bts=1"), []string{`"random" is not ARM=WEIGHT`}, false},
		{"label without weight", with("--weights", "random=1,other=1"), []string{`no weight for arm "bts"`}, false},
		{"separator", with("--sep", "ab"), []string{`--sep "ab"`}, false},
		{"JSON directory", with("--json", filepath.Join(dir, "no", "out.json")), []string{"--json", "does not exist"}, false},
		{"quote separator", with("--sep", `"`), []string{"--sep"}, false},
		{"empty label", append([]string{"--data", "=" + a}, base...), []string{"empty label"}, false},
		{"label without file", append([]string{"--data", "random="}, base...), []string{"no file after"}, false},
		{"file twice", append([]string{"--data", "random=" + a, "--data", "bts=" + a}, base...), []string{"given twice"}, false},
		{"control not a label", []string{"--data", "x=" + a, "--data", "y=" + b, "--arm", "policy", "--control", "random", "--metric", "click:binary"},
			[]string{`--control "random" is not one of the --data labels "x", "y"`}, false},
		{"stray argument", append(append([]string{}, labelled...), b), []string{"unexpected argument", "own --data"}, false},
		{"missing file", append([]string{"--data", filepath.Join(dir, "nope.csv")}, base...), []string{"nope.csv", "no such file"}, false},
		// Table errors name the file, the row and the column.
		{"bad value", append([]string{"--data", badValue}, base...), []string{"bad.csv: row 3", `column "click"`, `"2" is not 0 or 1`}, true},
		{"missing metric column in 2nd file", append([]string{"--data", "random=" + a, "--data", "bts=" + noClick}, base...),
			[]string{"noclick.csv: row 1", `no column "click"`}, true},
		{"no arm column", append([]string{"--data", a}, base...), []string{"a.csv: row 1", `no column "policy"`}, true},
		{"control not in the table", []string{"--data", badValue, "--arm", "policy", "--control", "legacy", "--metric", "click:mean"},
			[]string{`control arm "legacy" does not appear`, `the arms are "random"`}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runAnalyzeCmd(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, p := range tt.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not mention %s", err, p)
				}
			}
			if got := errors.Is(err, experiments.ErrInvalidTable); got != tt.table {
				t.Errorf("error %q: wraps ErrInvalidTable = %v, want %v", err, got, tt.table)
			}
			if !strings.HasPrefix(err.Error(), "analyze: ") {
				t.Errorf("error %q does not start with the command", err)
			}
		})
	}

	// A file whose name holds "=" is read as LABEL=PATH, with a hint.
	t.Run("file name with =", func(t *testing.T) {
		t.Chdir(dir)
		write("x=1.csv", "policy,click\nrandom,0\n")
		_, _, err := runAnalyzeCmd(t, append([]string{"--data", "x=1.csv"}, base...)...)
		if err == nil || !strings.Contains(err.Error(), "write ./x=1.csv") {
			t.Errorf("error %v, want the ./ hint", err)
		}
		if _, _, err := runAnalyzeCmd(t, append([]string{"--data", "./x=1.csv"}, base...)...); err != nil {
			t.Errorf("./x=1.csv: %v", err)
		}
	})

	// An unknown flag is a usage error (exit 2), named once.
	var ue cli.UsageError
	if _, _, err := runAnalyzeCmd(t, "--colour", "red"); !errors.As(err, &ue) || !strings.Contains(err.Error(), "--colour") {
		t.Errorf("unknown flag: error %v, want a usage error naming --colour", err)
	}
}

func TestAnalyzeHelp(t *testing.T) {
	stdout, _, err := runAnalyzeCmd(t, "--help")
	if err != nil {
		t.Errorf("--help: error %v, want none", err)
	}
	for _, want := range []string{"LABEL=PATH", "binary", "nps", ":lower", "Examples:", "--data random=obd/random/men/men.csv", "--weights", "--sep", "--json"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, stdout)
		}
	}
}

// TestAnalyzeProgress reports rows read every ProgressEvery rows (1e6 by
// default, 50 here).
func TestAnalyzeProgress(t *testing.T) {
	o := table.Options{
		Data:    []table.Source{{Label: "random", Path: fixture("a.csv")}, {Label: "bts", Path: fixture("b.csv")}},
		Arm:     "policy",
		Control: "random",
		Metrics: []experiments.MetricSpec{{Column: "click", Kind: experiments.Binary}},
		Level:   0.95, Tuning: experiments.DefaultTuning, ProgressEvery: 50,
	}
	var stdout, stderr bytes.Buffer
	if err := table.Run(context.Background(), o, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	want := "analyze: 50 rows read (" + fixture("a.csv") + ")\n" +
		"analyze: 100 rows read (" + fixture("b.csv") + ")\n" +
		"analyze: 150 rows read (" + fixture("b.csv") + ")\n" +
		"analyze: 150 rows read in all\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}

	// A cancelled context stops the reading.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := table.Run(ctx, o, io.Discard, io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v, want context.Canceled", err)
	}
}

// obdDir is the Open Bandit Dataset sample, outside the repository: the
// repository is /work/main and the data /work/shared/data.
const obdDir = "../../../shared/data/open_bandit_dataset"

// TestOBDIndependent checks `nextbest analyze` on the Open Bandit Dataset
// sample against a computation that shares no code with experiments: its
// own CSV counting, the Wilson bounds found by bisection on the score
// equation, Newcombe's method 10 from them, and the unpooled z test.
func TestOBDIndependent(t *testing.T) {
	if _, err := os.Stat(filepath.Join(obdDir, "SOURCE.md")); err != nil {
		t.Skipf("Open Bandit Dataset sample not found at %s: %v", obdDir, err)
	}
	// Clicks per file, from SOURCE.md's table ("Files, rows, columns"):
	// 10,000 data rows each.
	clicks := map[string]int{"random/men": 46, "bts/men": 69, "random/women": 46, "bts/women": 46}
	const rows = 10000
	for _, campaign := range []string{"men", "women"} {
		t.Run(campaign, func(t *testing.T) {
			file := func(policy string) string { return filepath.Join(obdDir, policy, campaign, campaign+".csv") }
			xR, nR := countColumn(t, file("random"), "click")
			xB, nB := countColumn(t, file("bts"), "click")
			if nR != rows || nB != rows || xR != clicks["random/"+campaign] || xB != clicks["bts/"+campaign] {
				t.Fatalf("counted random %d/%d, bts %d/%d; SOURCE.md says %d/%d and %d/%d",
					xR, nR, xB, nB, clicks["random/"+campaign], rows, clicks["bts/"+campaign], rows)
			}

			doc, _ := analyzeToJSON(t, "--data", "random="+file("random"), "--data", "bts="+file("bts"),
				"--arm", "policy", "--control", "random", "--metric", "click:binary")
			m := doc.Analysis.Metrics[0]
			if m.Summaries[0].N != nR || m.Summaries[0].Sum != float64(xR) || m.Summaries[1].N != nB || m.Summaries[1].Sum != float64(xB) {
				t.Fatalf("analyze counts %+v, independent random %d/%d bts %d/%d", m.Summaries, xR, nR, xB, nB)
			}
			c := m.Comparisons[0].Result

			pB, pR := float64(xB)/float64(nB), float64(xR)/float64(nR)
			d := pB - pR
			// Newcombe (1998b) method 10, from the Wilson (1927) bounds of
			// each arm at z = 1.959963984540054 (R qnorm(0.975)).
			const z = 1.959963984540054
			lB, uB := wilsonByBisection(xB, nB, z)
			lR, uR := wilsonByBisection(xR, nR, z)
			lo := d - math.Sqrt((pB-lB)*(pB-lB)+(uR-pR)*(uR-pR))
			hi := d + math.Sqrt((uB-pB)*(uB-pB)+(pR-lR)*(pR-lR))
			// The unpooled two-proportion z test.
			se := math.Sqrt(pB*(1-pB)/float64(nB) + pR*(1-pR)/float64(nR))
			p := math.Erfc(math.Abs(d/se) / math.Sqrt2)

			const tol = 1e-9
			closeTo(t, "abs_lift", num(t, "abs_lift", c.AbsLift), d, tol)
			closeTo(t, "abs_ci.lo", num(t, "abs_ci.lo", c.AbsCI.Lo), lo, tol)
			closeTo(t, "abs_ci.hi", num(t, "abs_ci.hi", c.AbsCI.Hi), hi, tol)
			closeTo(t, "se", num(t, "se", c.SE), se, tol)
			closeTo(t, "p_value", num(t, "p_value", c.PValue), p, tol)
			closeTo(t, "rel_lift", num(t, "rel_lift", c.RelLift), d/pR, tol)
			t.Logf("%s: random %d/%d, bts %d/%d: lift %+.6f [%+.6f, %+.6f], p = %.6f", campaign, xR, nR, xB, nB, d, lo, hi, p)
		})
	}
}

// countColumn counts the data rows of a CSV file and the sum of its 0/1
// column named col.
func countColumn(t *testing.T, path, col string) (ones, n int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	idx := -1
	for i, h := range header {
		if h == col {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("%s: no column %q in %v", path, col, header)
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return ones, n
		}
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.Atoi(rec[idx])
		if err != nil || (v != 0 && v != 1) {
			t.Fatalf("%s: row %d: %s = %q", path, n+2, col, rec[idx])
		}
		ones += v
		n++
	}
}

// wilsonByBisection returns Wilson's score interval for x of n: the two
// roots π of the score equation (p̂ − π)² = z²·π(1 − π)/n (Wilson 1927),
// found by bisection on each side of p̂ rather than by the quadratic
// formula.
func wilsonByBisection(x, n int, z float64) (lo, hi float64) {
	ph := float64(x) / float64(n)
	// g < 0 inside the interval, > 0 outside.
	g := func(pi float64) float64 { return (ph-pi)*(ph-pi) - z*z*pi*(1-pi)/float64(n) }
	root := func(inside, outside float64) float64 {
		for range 200 {
			mid := (inside + outside) / 2
			if g(mid) <= 0 {
				inside = mid
			} else {
				outside = mid
			}
		}
		return (inside + outside) / 2
	}
	lo, hi = 0, 1
	if x > 0 {
		lo = root(ph, 0)
	}
	if x < n {
		hi = root(ph, 1)
	}
	return lo, hi
}
