package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/nextbest/nextbest/experiments"
)

// Options configure an analysis of experiment tables (nextbest analyze's flags).
type Options struct {
	Data    []Source
	Arm     string // column of the arm, or the name given to labels
	Control string
	Metrics []experiments.MetricSpec
	Level   float64
	Tuning  float64
	Weights map[string]float64 // nil: no SRM check
	Sep     rune               // 0: detected per file
	JSON    string             // "": none; "-": stdout

	// ProgressEvery is the number of rows between progress lines on
	// stderr. It is not a flag; tests lower it.
	ProgressEvery int
}

// Source is one --data flag: a CSV file, and the arm of all its rows
// when it was given as LABEL=PATH.
type Source struct {
	Label string // "": the rows name their arm in the --arm column
	Path  string
}

// DefaultProgressEvery is how many rows pass between progress lines.
const DefaultProgressEvery = 1_000_000

// Parse fills o from the raw flags and checks every option, so that
// misuse is reported before any file is read.
func (o *Options) Parse(data, metrics []string, weights, sep string) error {
	o.Arm = strings.TrimSpace(o.Arm)
	o.Control = strings.TrimSpace(o.Control)
	switch {
	case len(data) == 0:
		return errors.New("--data FILE is required")
	case o.Arm == "":
		return errors.New("--arm COLUMN is required")
	case o.Control == "":
		return errors.New("--control ARM is required")
	case len(metrics) == 0:
		return errors.New("--metric NAME:KIND is required, e.g. --metric converted:binary")
	case !(o.Level > 0 && o.Level < 1):
		hint := ""
		if o.Level > 1 && o.Level < 100 {
			hint = fmt.Sprintf(" (did you mean %g?)", o.Level/100)
		}
		return fmt.Errorf("--level %g: want a confidence level between 0 and 1, such as 0.95%s", o.Level, hint)
	case !(o.Tuning > 0) || math.IsInf(o.Tuning, 1):
		return fmt.Errorf("--tuning %g: want a positive number of rows", o.Tuning)
	}
	paths := make(map[string]bool)
	for _, d := range data {
		src, err := ParseData(d)
		if err != nil {
			return err
		}
		if src.Label != "" {
			// "x=1.csv" names a file that exists: say how to read it.
			if _, err := os.Stat(src.Path); errors.Is(err, os.ErrNotExist) {
				if _, err := os.Stat(d); err == nil {
					return fmt.Errorf("--data %q: reads file %s as arm %q, and there is no such file; to read the file %s, write ./%s", d, src.Path, src.Label, d, d)
				}
			}
		}
		if paths[filepath.Clean(src.Path)] {
			return fmt.Errorf("--data %q: file %s is given twice", d, src.Path)
		}
		paths[filepath.Clean(src.Path)] = true
		o.Data = append(o.Data, src)
	}
	names := make(map[string]bool)
	for _, m := range metrics {
		spec, err := ParseMetric(m)
		if err != nil {
			return err
		}
		if names[spec.Column] {
			return fmt.Errorf("--metric %q: column %q is given twice", m, spec.Column)
		}
		if spec.Column == o.Arm {
			return fmt.Errorf("--metric %q: column %q is also the --arm column", m, spec.Column)
		}
		names[spec.Column] = true
		o.Metrics = append(o.Metrics, spec)
	}
	if weights != "" {
		w, err := ParseWeights(weights)
		if err != nil {
			return err
		}
		o.Weights = w
	}
	var err error
	if o.Sep, err = ParseSep(sep); err != nil {
		return err
	}
	if o.JSON != "" && o.JSON != "-" {
		if fi, err := os.Stat(filepath.Dir(o.JSON)); err != nil || !fi.IsDir() {
			return fmt.Errorf("--json %s: directory %s does not exist", o.JSON, filepath.Dir(o.JSON))
		}
	}

	// With every file labelled, the arms are known before reading.
	labels := make(map[string]bool)
	for _, d := range o.Data {
		if d.Label == "" {
			return nil
		}
		labels[d.Label] = true
	}
	if !labels[o.Control] {
		return fmt.Errorf("--control %q is not one of the --data labels %s", o.Control, quoted(slices.Sorted(maps.Keys(labels))))
	}
	for l := range labels {
		if _, ok := o.Weights[l]; o.Weights != nil && !ok {
			return fmt.Errorf("--weights %q: no weight for arm %q", weights, l)
		}
	}
	return nil
}

// ParseData reads PATH or LABEL=PATH. The part before the first "=" is
// a label only if it holds no path separator, so ./a=b.csv and
// dir/x=1/f.csv are plain paths.
func ParseData(s string) (Source, error) {
	if strings.TrimSpace(s) == "" {
		return Source{}, errors.New("--data: empty file name")
	}
	label, path, ok := strings.Cut(s, "=")
	if !ok || strings.ContainsAny(label, `/\`) {
		return Source{Path: s}, nil
	}
	label = strings.TrimSpace(label)
	switch {
	case label == "":
		return Source{}, fmt.Errorf("--data %q: empty label before \"=\" (write LABEL=PATH, or ./PATH for a file whose name holds \"=\")", s)
	case path == "":
		return Source{}, fmt.Errorf("--data %q: no file after \"=\"", s)
	case strings.ContainsFunc(label, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return Source{}, fmt.Errorf("--data %q: the label holds a control character", s)
	}
	return Source{Label: label, Path: path}, nil
}

// ParseMetric reads NAME:KIND or NAME:KIND:lower. The name is
// everything before the kind, so it may itself hold ':'.
func ParseMetric(s string) (experiments.MetricSpec, error) {
	parts := strings.Split(s, ":")
	lower := false
	if n := len(parts); n >= 3 {
		switch strings.ToLower(strings.TrimSpace(parts[n-1])) {
		case "lower":
			lower, parts = true, parts[:n-1]
		case "higher":
			parts = parts[:n-1]
		}
	}
	if len(parts) < 2 {
		return experiments.MetricSpec{}, fmt.Errorf("--metric %q: want NAME:KIND, with KIND binary, mean, count or nps (e.g. %s:binary)", s, s)
	}
	kindName := strings.ToLower(strings.TrimSpace(parts[len(parts)-1]))
	column := strings.TrimSpace(strings.Join(parts[:len(parts)-1], ":"))
	if column == "" {
		return experiments.MetricSpec{}, fmt.Errorf("--metric %q: no column name before the kind", s)
	}
	kind, err := experiments.ParseKind(kindName)
	if err != nil {
		return experiments.MetricSpec{}, fmt.Errorf("--metric %q: unknown kind %q: want binary, mean, count or nps, optionally followed by :lower", s, kindName)
	}
	return experiments.MetricSpec{Column: column, Kind: kind, LowerIsBetter: lower}, nil
}

// ParseWeights reads ARM=W,ARM=W,... with non-negative weights, at least
// two of them positive. They need not sum to 1: SRM divides by the sum.
func ParseWeights(s string) (map[string]float64, error) {
	w := make(map[string]float64)
	positive := 0
	for _, part := range strings.Split(s, ",") {
		name, num, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("--weights %q: %q is not ARM=WEIGHT", s, part)
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return nil, fmt.Errorf("--weights %q: weight of %q is %q, want a non-negative number", s, name, strings.TrimSpace(num))
		}
		if _, dup := w[name]; dup {
			return nil, fmt.Errorf("--weights %q: arm %q is given twice", s, name)
		}
		w[name] = x
		if x > 0 {
			positive++
		}
	}
	if positive < 2 {
		return nil, fmt.Errorf("--weights %q: need at least two arms with a positive weight", s)
	}
	return w, nil
}

// ParseSep reads the --sep flag; auto gives 0.
func ParseSep(s string) (rune, error) {
	switch strings.ToLower(s) {
	case "auto", "":
		return 0, nil
	case "tab", `\t`:
		return '\t', nil
	case "comma":
		return ',', nil
	case "semicolon":
		return ';', nil
	}
	r, size := utf8.DecodeRuneInString(s)
	if size != len(s) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
		return 0, fmt.Errorf("--sep %q: want auto, tab or a single character other than a quote or newline", s)
	}
	return r, nil
}

// analyzeJSON is the document written by --json.
type analyzeJSON struct {
	ArmColumn string                `json:"arm_column"`
	Sources   []sourceJSON          `json:"sources"`
	Analysis  *experiments.Analysis `json:"analysis"`
}

type sourceJSON struct {
	Path string `json:"path"`
	Arm  string `json:"arm,omitempty"` // the LABEL of LABEL=PATH
	Rows int    `json:"rows"`
}

// Run reads the files, analyses them and writes the outputs.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	// Open every file first, so a typo in the last one costs no reading.
	files := make([]*os.File, 0, len(o.Data))
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, d := range o.Data {
		f, err := os.Open(d.Path)
		if err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
		files = append(files, f)
	}
	// Cancelling ctx (Ctrl-C) closes the files, which ends the reading.
	stop := context.AfterFunc(ctx, func() {
		for _, f := range files {
			f.Close()
		}
	})
	defer stop()

	srcs := make([]experiments.Source, len(o.Data))
	for i, d := range o.Data {
		srcs[i] = experiments.Source{Name: d.Path, R: files[i], Arm: d.Label}
	}
	rows := make([]int, len(o.Data))
	total := 0
	every := o.ProgressEvery
	if every <= 0 {
		every = DefaultProgressEvery
	}
	an, err := experiments.AnalyzeSources(srcs, experiments.AnalyzeOptions{
		ArmColumn: o.Arm, Control: o.Control, Metrics: o.Metrics,
		Comma: o.Sep, Level: o.Level, Tuning: o.Tuning, Weights: o.Weights,
		Progress: func(src, n int) {
			rows[src] = n
			total++
			if total%every == 0 {
				fmt.Fprintf(stderr, "analyze: %d rows read (%s)\n", total, o.Data[src].Path)
			}
		},
	})
	if ctx.Err() != nil {
		return fmt.Errorf("analyze: %w", ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	if total >= every {
		fmt.Fprintf(stderr, "analyze: %d rows read in all\n", total)
	}

	text := stdout
	if o.JSON == "-" {
		text = stderr
	}
	if err := writeSources(text, o, rows); err != nil {
		return err
	}
	if err := an.WriteText(text); err != nil {
		return err
	}
	if o.JSON == "" {
		return nil
	}
	doc := analyzeJSON{ArmColumn: o.Arm, Analysis: an}
	for i, d := range o.Data {
		doc.Sources = append(doc.Sources, sourceJSON{Path: d.Path, Arm: d.Label, Rows: rows[i]})
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("analyze: encode JSON: %w", err)
	}
	b = append(b, '\n')
	if o.JSON == "-" {
		_, err := stdout.Write(b)
		return err
	}
	if err := writeFileAtomic(o.JSON, b); err != nil {
		return fmt.Errorf("analyze: write JSON: %w", err)
	}
	fmt.Fprintf(stderr, "analyze: wrote %s\n", o.JSON)
	return nil
}

// writeSources lists the files read, their arm and their rows.
func writeSources(w io.Writer, o Options, rows []int) error {
	total := 0
	for _, n := range rows {
		total += n
	}
	fmt.Fprintf(w, "Data: %d rows from %d file(s)\n", total, len(o.Data))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for i, d := range o.Data {
		arm := fmt.Sprintf("(column %s)", o.Arm)
		if d.Label != "" {
			arm = fmt.Sprintf("%s=%s", o.Arm, d.Label)
		}
		fmt.Fprintf(tw, "  %s\t%d rows\t%s\n", arm, rows[i], d.Path)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}

// writeFileAtomic writes b to a temporary file next to path and renames it
// into place, so a reader never sees half a file.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
