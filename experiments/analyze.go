package experiments

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// MaxArms is the most distinct arm values Analyze accepts. More than this
// almost always means the arm column is really a customer ID column.
const MaxArms = 100

// MetricSpec names a metric column of the table and how to read it.
type MetricSpec struct {
	// Column is the header name of the column.
	Column string `json:"column"`
	// Kind says how the cells are read:
	//   - Binary: 0/1, true/false or yes/no;
	//   - Mean: any finite number;
	//   - Count: a non-negative whole number;
	//   - NPS: a 0–10 rating, or empty for a customer who did not answer.
	// Other kinds reject empty cells.
	Kind Kind `json:"kind"`
	// Name is the display name; empty means Column.
	Name string `json:"name,omitempty"`
	// LowerIsBetter marks metrics such as churn or cost.
	LowerIsBetter bool `json:"lower_is_better,omitempty"`
}

func (m MetricSpec) name() string {
	if m.Name != "" {
		return m.Name
	}
	return m.Column
}

// AnalyzeOptions configures Analyze.
type AnalyzeOptions struct {
	// ArmColumn is the header name of the column holding each customer's arm.
	ArmColumn string
	// Control is the arm every other arm is compared with, typically the
	// legacy campaigns or the holdout.
	Control string
	// Metrics are the metric columns to analyse, at least one.
	Metrics []MetricSpec
	// Comma is the field separator. 0 detects ',' or ';' from the header
	// line: whichever occurs more often outside quotes. With ';', a cell
	// holding one ',' and no '.' is read with a decimal comma ("12,5").
	Comma rune
	// Level is the two-sided confidence level; 0 means 0.95.
	Level float64
	// Tuning is the confidence sequence's N*; 0 means DefaultTuning.
	Tuning float64
	// Weights are the designed arm weights. If set, Analyze runs the SRM
	// check on the customers per arm. Weights are normalised by their sum.
	// Every arm in the table must have a weight.
	Weights map[string]float64
	// Progress, if set, is called after each data row with the index of
	// its source (0 for Analyze) and the number of data rows read so far
	// from that source. It lets a command report progress on large tables
	// and must be cheap.
	Progress func(source, rows int)
}

// Analysis is the result of Analyze. It is meant for reports. The engine
// persists Summaries and recomputes Comparisons from them.
type Analysis struct {
	Level   float64
	Tuning  float64
	Control string
	// Arms lists the control first, then the other arms in order of first
	// appearance in the table, then any arms that have a weight but no rows
	// (sorted by name).
	Arms []string
	// Customers is the number of rows per arm, parallel to Arms.
	Customers []int
	// Metrics holds one result per MetricSpec, in order.
	Metrics []MetricResult
	// Family is the number of comparisons in the Holm family: metrics ×
	// non-control arms, counting only comparisons with a defined p-value.
	Family int
	// SRM is the sample-ratio-mismatch check, or nil if no Weights were given.
	SRM *SRMResult
}

// MetricResult is the analysis of one metric.
type MetricResult struct {
	Metric MetricSpec
	// Summaries are per arm, parallel to Analysis.Arms.
	Summaries []Summary
	// Comparisons compare each non-control arm with the control, in the
	// order of Analysis.Arms[1:].
	Comparisons []ArmComparison
}

// ArmComparison is one arm against the control on one metric.
type ArmComparison struct {
	Arm    string
	Result Comparison
	// HolmP is Result.PValue adjusted by Holm over the Analysis.Family
	// comparisons. HolmSignificant is HolmP < 1 − Level.
	HolmP           float64
	HolmSignificant bool
}

// Analyze reads a CSV table with one row per customer and a header row, and
// compares every arm with the control on every metric.
//
// The table needs a column naming each customer's arm and one column per
// metric. Other columns are ignored. For each metric it reports the
// per-arm Summary and a Comparison of each arm with the control (see
// CompareWith). It then Holm-adjusts the p-values over all
// metric × arm comparisons together: GrowthBook's family of goal metrics ×
// variations. If opts.Weights is set, it also runs the SRM check.
//
// Bad options give an error wrapping ErrInvalidConfig. A bad table gives
// one wrapping ErrInvalidTable, naming the row (the header is row 1) and
// the column.
func Analyze(r io.Reader, opts AnalyzeOptions) (*Analysis, error) {
	return AnalyzeSources([]Source{{R: r}}, opts)
}

// Source is one CSV table for AnalyzeSources.
type Source struct {
	// Name identifies the table in error messages, typically its file
	// name. Empty means no prefix, as in Analyze.
	Name string
	// R reads the table: a header row, then one row per customer.
	R io.Reader
	// Arm, if not empty, is the arm of every row of the table. The table
	// then needs no arm column; if it has one, that column is ignored.
	// This is how two logs of different policies, kept in separate files,
	// are compared.
	Arm string
}

// AnalyzeSources is Analyze over several tables read one after the other,
// as if their rows were concatenated. Each table has its own header row
// and separator (detected per table when opts.Comma is 0). Columns are
// found by name, so the tables may order them differently and may have
// other columns that differ; every table needs the metric columns, and
// the arm column unless its Source.Arm is set. An arm given by Source.Arm
// is listed even if its table has no data rows.
//
// Error messages start with the Source.Name of the table at fault, then
// the row and column as in Analyze, where rows count from each table's
// header.
func AnalyzeSources(srcs []Source, opts AnalyzeOptions) (*Analysis, error) {
	lv, err := checkLevel(opts.Level)
	if err != nil {
		return nil, err
	}
	if err := checkAnalyzeOptions(opts); err != nil {
		return nil, err
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("%w: no tables to read", ErrInvalidConfig)
	}
	t := tally{armIndex: make(map[string]int), sums: make([][]Summary, len(opts.Metrics))}
	for i, src := range srcs {
		if err := t.read(i, src, opts); err != nil {
			return nil, err
		}
	}
	if t.rows == 0 {
		return nil, fmt.Errorf("%w: no data rows after the header", ErrInvalidTable)
	}
	arms, armIndex, customers, sums := t.arms, t.armIndex, t.customers, t.sums
	ctl, ok := armIndex[opts.Control]
	if !ok {
		return nil, fmt.Errorf("%w: control arm %q does not appear in column %q; the arms are %s", ErrInvalidTable, opts.Control, opts.ArmColumn, quoteList(arms, 10))
	}
	// Order: control first, then first appearance, then weight-only arms.
	order := []int{ctl}
	for i := range arms {
		if i != ctl {
			order = append(order, i)
		}
	}
	an := &Analysis{Level: lv, Tuning: opts.Tuning, Control: opts.Control}
	if an.Tuning == 0 {
		an.Tuning = DefaultTuning
	}
	for _, i := range order {
		an.Arms = append(an.Arms, arms[i])
		an.Customers = append(an.Customers, customers[i])
	}
	var extra []string
	for name := range opts.Weights {
		if _, ok := armIndex[name]; !ok {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	an.Arms = append(an.Arms, extra...)
	an.Customers = append(an.Customers, make([]int, len(extra))...)

	if opts.Weights != nil {
		w := make([]float64, len(an.Arms))
		for i, name := range an.Arms {
			x, ok := opts.Weights[name]
			if !ok {
				return nil, fmt.Errorf("%w: arm %q is in the table but has no weight", ErrInvalidConfig, name)
			}
			w[i] = x
		}
		srm, err := SRM(an.Customers, w)
		if err != nil {
			return nil, err
		}
		an.SRM = &srm
	}

	var ps []float64
	for m, spec := range opts.Metrics {
		mr := MetricResult{Metric: spec}
		for _, i := range order {
			mr.Summaries = append(mr.Summaries, sums[m][i])
		}
		mr.Summaries = append(mr.Summaries, make([]Summary, len(extra))...)
		for j := 1; j < len(an.Arms); j++ {
			c := CompareWith(mr.Summaries[j], mr.Summaries[0], CompareOptions{
				Kind: spec.Kind, Level: lv, Tuning: an.Tuning, LowerIsBetter: spec.LowerIsBetter,
			})
			mr.Comparisons = append(mr.Comparisons, ArmComparison{Arm: an.Arms[j], Result: c})
			ps = append(ps, c.PValue)
		}
		an.Metrics = append(an.Metrics, mr)
	}
	adj := Holm(ps)
	k := 0
	for m := range an.Metrics {
		for j := range an.Metrics[m].Comparisons {
			c := &an.Metrics[m].Comparisons[j]
			c.HolmP = adj[k]
			c.HolmSignificant = adj[k] < 1-lv
			if !math.IsNaN(adj[k]) {
				an.Family++
			}
			k++
		}
	}
	return an, nil
}

// tally accumulates the per-arm counts and summaries over the tables of
// AnalyzeSources.
type tally struct {
	arms      []string
	armIndex  map[string]int
	customers []int
	sums      [][]Summary // [metric][arm]
	rows      int         // data rows over all tables
}

// arm returns the index of the named arm, adding it if it is new.
func (t *tally) arm(name string) (int, bool) {
	if a, ok := t.armIndex[name]; ok {
		return a, true
	}
	if len(t.arms) == MaxArms {
		return 0, false
	}
	a := len(t.arms)
	t.armIndex[name] = a
	t.arms = append(t.arms, name)
	t.customers = append(t.customers, 0)
	for m := range t.sums {
		t.sums[m] = append(t.sums[m], Summary{})
	}
	return a, true
}

// read adds the rows of one table, the index-th source.
func (t *tally) read(index int, src Source, opts AnalyzeOptions) error {
	prefix := ""
	if src.Name != "" {
		prefix = src.Name + ": "
	}
	br := bufio.NewReaderSize(src.R, 64<<10)
	comma := opts.Comma
	if comma == 0 {
		comma = detectComma(br)
	}
	cr := csv.NewReader(br)
	cr.Comma = comma
	cr.FieldsPerRecord = -1 // checked below, to name the row
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err == io.EOF {
		return fmt.Errorf("%w: %sempty table, want a header row", ErrInvalidTable, prefix)
	}
	if err != nil {
		return fmt.Errorf("%w: %sheader: %w", ErrInvalidTable, prefix, err)
	}
	ncol := len(header)
	cols := make(map[string]int, ncol)
	dup := make(map[string]bool)
	for i, h := range header {
		h = strings.TrimSpace(h)
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // byte-order mark from spreadsheet exports
		}
		if _, ok := cols[h]; ok {
			dup[h] = true
		}
		cols[h] = i
	}
	column := func(name string) (int, error) {
		i, ok := cols[name]
		switch {
		case !ok:
			return 0, fmt.Errorf("%w: %srow 1: no column %q in the header", ErrInvalidTable, prefix, name)
		case dup[name]:
			return 0, fmt.Errorf("%w: %srow 1: column %q appears more than once in the header", ErrInvalidTable, prefix, name)
		}
		return i, nil
	}
	armCol, fixed := -1, -1
	if src.Arm != "" {
		a, ok := t.arm(src.Arm)
		if !ok {
			return fmt.Errorf("%w: %sarm %q: more than %d distinct arms", ErrInvalidTable, prefix, src.Arm, MaxArms)
		}
		fixed = a
	} else if armCol, err = column(opts.ArmColumn); err != nil {
		return err
	}
	metricCols := make([]int, len(opts.Metrics))
	for i, m := range opts.Metrics {
		if metricCols[i], err = column(m.Column); err != nil {
			return err
		}
	}
	decimalComma := comma == ';'

	for row := 2; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %srow %d: %w", ErrInvalidTable, prefix, row, err)
		}
		if len(rec) != ncol {
			return fmt.Errorf("%w: %srow %d%s: %d fields, the header has %d", ErrInvalidTable, prefix, row, lineNote(cr, row), len(rec), ncol)
		}
		a := fixed
		if a < 0 {
			name := strings.TrimSpace(rec[armCol])
			if name == "" {
				return fmt.Errorf("%w: %srow %d%s, column %q: empty arm", ErrInvalidTable, prefix, row, lineNote(cr, row), opts.ArmColumn)
			}
			var ok bool
			if a, ok = t.arm(name); !ok {
				return fmt.Errorf("%w: %srow %d%s, column %q: more than %d distinct arms", ErrInvalidTable, prefix, row, lineNote(cr, row), opts.ArmColumn, MaxArms)
			}
		}
		t.customers[a]++
		for m, spec := range opts.Metrics {
			v, skip, err := parseCell(rec[metricCols[m]], spec.Kind, decimalComma)
			if err != nil {
				return fmt.Errorf("%w: %srow %d%s, column %q: %w", ErrInvalidTable, prefix, row, lineNote(cr, row), spec.Column, err)
			}
			if !skip {
				t.sums[m][a].Add(v)
			}
		}
		t.rows++
		if opts.Progress != nil {
			opts.Progress(index, row-1)
		}
	}
}

func checkAnalyzeOptions(o AnalyzeOptions) error {
	switch {
	case strings.TrimSpace(o.ArmColumn) == "":
		return fmt.Errorf("%w: no arm column", ErrInvalidConfig)
	case o.Control == "":
		return fmt.Errorf("%w: no control arm", ErrInvalidConfig)
	case len(o.Metrics) == 0:
		return fmt.Errorf("%w: no metrics", ErrInvalidConfig)
	case o.Comma != 0 && (o.Comma == '"' || o.Comma == '\r' || o.Comma == '\n' || o.Comma == '\uFFFD'):
		return fmt.Errorf("%w: invalid separator %q", ErrInvalidConfig, o.Comma)
	case o.Tuning != 0 && (!(o.Tuning > 0) || math.IsInf(o.Tuning, 1)):
		return fmt.Errorf("%w: sequence tuning %v is not a positive number", ErrInvalidConfig, o.Tuning)
	}
	names := make(map[string]bool, len(o.Metrics))
	for _, m := range o.Metrics {
		if m.Column == "" {
			return fmt.Errorf("%w: metric with no column", ErrInvalidConfig)
		}
		if m.Kind < Binary || m.Kind > NPS {
			return fmt.Errorf("%w: metric %q: invalid kind %d", ErrInvalidConfig, m.name(), m.Kind)
		}
		if names[m.name()] {
			return fmt.Errorf("%w: metric %q listed twice", ErrInvalidConfig, m.name())
		}
		names[m.name()] = true
	}
	for name, w := range o.Weights {
		if !finite(w) || w < 0 {
			return fmt.Errorf("%w: weight of arm %q is %v", ErrInvalidConfig, name, w)
		}
	}
	return nil
}

// quoteList quotes the first limit names, comma-separated, and says how many
// more there are.
func quoteList(names []string, limit int) string {
	var b strings.Builder
	for i, n := range names {
		if i == limit {
			fmt.Fprintf(&b, " and %d more", len(names)-limit)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(n))
	}
	return b.String()
}

// lineNote returns " (line N)" when the record's line in the file differs
// from its row number, which happens when quoted cells span lines.
func lineNote(cr *csv.Reader, row int) string {
	line, _ := cr.FieldPos(0)
	if line == row {
		return ""
	}
	return fmt.Sprintf(" (line %d)", line)
}

// detectComma picks ';' if the first line holds more semicolons than
// commas outside double quotes, else ','. It peeks at most the reader's
// buffer (64 KiB) without consuming it.
func detectComma(br *bufio.Reader) rune {
	head, _ := br.Peek(br.Size())
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	commas, semis, quoted := 0, 0, false
	for _, c := range head {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ',':
			commas++
		case c == ';':
			semis++
		}
	}
	if semis > commas {
		return ';'
	}
	return ','
}

var errEmpty = errors.New("empty cell")

// parseCell reads one metric cell. skip reports an empty NPS cell (no
// answer). Errors wrap ErrInvalidValue.
func parseCell(s string, kind Kind, decimalComma bool) (v float64, skip bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if kind == NPS {
			return 0, true, nil
		}
		return 0, false, fmt.Errorf("%w: %w: a %s metric needs a value", ErrInvalidValue, errEmpty, kind)
	}
	if kind == Binary {
		switch strings.ToLower(s) {
		case "1", "true", "yes", "y", "t":
			return 1, false, nil
		case "0", "false", "no", "n", "f":
			return 0, false, nil
		}
	}
	num := s
	if decimalComma && strings.Count(num, ",") == 1 && !strings.Contains(num, ".") {
		num = strings.Replace(num, ",", ".", 1)
	}
	x, perr := strconv.ParseFloat(num, 64)
	if perr != nil || !finite(x) {
		return 0, false, fmt.Errorf("%w: %q is not a finite number", ErrInvalidValue, s)
	}
	switch kind {
	case Binary:
		if x != 0 && x != 1 {
			return 0, false, fmt.Errorf("%w: %q is not 0 or 1", ErrInvalidValue, s)
		}
	case Count:
		if x < 0 || x != math.Trunc(x) {
			return 0, false, fmt.Errorf("%w: %q is not a non-negative whole number", ErrInvalidValue, s)
		}
	case NPS:
		if x != math.Trunc(x) || x < 0 || x > 10 {
			return 0, false, fmt.Errorf("%w: NPS rating %q is not a whole number from 0 to 10", ErrInvalidValue, s)
		}
		score, _ := NPSScore(int(x))
		return score, false, nil
	}
	return x, false, nil
}
