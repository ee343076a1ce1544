package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/features"
)

// sliceLog is a decision log in memory, in time order, as store.Decisions reads it.
type sliceLog []*engine.Decision

func (l sliceLog) Decisions(ctx context.Context, since time.Time, fn func(*engine.Decision) error) error {
	for _, d := range l {
		if d.Time.Before(since) {
			continue
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 123456789, time.UTC)

// testDecisions returns n decisions a minute apart with every field an export carries:
// contexts, features, scored, priced and filtered candidates, chosen actions, no-action
// decisions with their probability, and outcomes (responses, a timeout, a late positive,
// a label).
func testDecisions(n int, seed uint64) sliceLog {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out sliceLog
	for i := range n {
		t := t0.Add(time.Duration(i) * time.Minute)
		d := &engine.Decision{ID: engine.NewDecisionID(t, rng), CustomerID: engine.CustomerID(fmt.Sprintf("c%03d", rng.IntN(100))), Channel: "web",
			Time: t, Arm: "nba", Source: "inbound", Schema: "auto:abc", Deadline: t.Add(30 * time.Minute),
			Context:  json.RawMessage(fmt.Sprintf(`{"num_01":%.2f,"str_01":"alpha","flag_01":true}`, rng.NormFloat64())),
			Features: features.Vector{Index: []int32{0, 17, 4000}, Value: []float64{1, rng.NormFloat64(), 1}}}
		if i%7 == 0 {
			d.Experiment = "x1"
		}
		for j := range 5 {
			c := engine.Candidate{ID: engine.ActionID(fmt.Sprintf("offer-%d", j)), Rank: j + 1, Propensity: rng.Float64(), Score: rng.Float64(),
				Value: 50, Weight: 1, ModelSeq: uint64(100 + i + j)}
			c.Priority = c.Score * c.Value
			if j == 4 {
				c = engine.Candidate{ID: c.ID, Filtered: "eligibility", Detail: "profile.age: unknown field"}
			}
			if j == 2 {
				c.Cost, c.ContactCost, c.Effect, c.EffectSD, c.EffectValue, c.Net = 24, 0.5, -0.02, 0.01, 6, 3.5
			}
			d.Candidates = append(d.Candidates, c)
		}
		switch i % 5 {
		case 0: // offered nothing
			d.NoAction, d.Reason, d.NoActionProbability, d.Deadline = true, "below_threshold", 0.25, time.Time{}
		default:
			d.Candidates[0].Probability = 0.6
			d.Chosen = []engine.ActionID{"offer-0", "offer-1"}
		}
		ev := func(seq int, a engine.ActionID, o engine.Outcome, learned bool) engine.Event {
			return engine.Event{Seq: uint64(seq), Time: t.Add(time.Duration(seq) * time.Second), DecisionID: d.ID, ActionID: a, Outcome: o, Learned: learned}
		}
		switch i % 5 {
		case 1:
			d.Outcomes = []engine.Event{ev(1, "offer-0", engine.Accepted, true)}
		case 2:
			d.Outcomes = []engine.Event{ev(1, "offer-0", engine.Timeout, true), ev(2, "offer-0", engine.Clicked, true)}
		case 3:
			r := 12.5
			e := ev(1, "offer-0", engine.Ignored, true)
			e.Reward = &r
			l := ev(2, "offer-0", engine.LabelMiss, false)
			l.Objective = "churn"
			d.Outcomes = []engine.Event{e, l}
		}
		out = append(out, d)
	}
	return out
}

// TestParquetRoundTrip: a Parquet export reads back, by a reader of the library's own,
// as the rows RowOf made: every column of every decision, exactly.
func TestParquetRoundTrip(t *testing.T) {
	log := testDecisions(250, 1)
	var buf bytes.Buffer
	n, err := Write(context.Background(), log, &buf, Options{Format: Parquet, RowGroup: 100})
	if err != nil || n != len(log) {
		t.Fatalf("wrote %d of %d: %v", n, len(log), err)
	}
	rows, err := parquet.Read[Row](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(log) {
		t.Fatalf("read %d rows of %d", len(rows), len(log))
	}
	for i, got := range rows {
		// The logged action and its propensity, from the decision itself: offer-0 with
		// probability 0.6, or nothing with the no-action probability 0.25
		// (testDecisions).
		switch d := log[i]; {
		case d.NoAction && (got.Action != "" || got.Probability != nil || got.NoActionProbability != 0.25):
			t.Fatalf("row %d, no action: action %q, probability %v, no-action probability %v", i, got.Action, got.Probability, got.NoActionProbability)
		case !d.NoAction && (got.Action != "offer-0" || got.Probability == nil || *got.Probability != 0.6 || got.Chosen[1] != "offer-1"):
			t.Fatalf("row %d: action %q, probability %v, chosen %v", i, got.Action, got.Probability, got.Chosen)
		}
		want := RowOf(log[i])
		want.ContextJSON, got.ContextJSON = nil, nil // not a Parquet column
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("row %d:\ngot  %+v\nwant %+v", i, got, want)
		}
	}
	s, err := Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	// 250 rows in row groups of 100: 3. Decisions 0, 5, 10, ... offer nothing (50 of
	// them); of the others, i%5 in {1, 2, 3} have a response (150).
	want := Summary{Rows: 250, RowGroups: 3, First: micro(t0), Last: micro(t0.Add(249 * time.Minute)), Offered: 200, Answered: 150, Checked: true}
	if s != want {
		t.Errorf("summary %+v, want %+v", s, want)
	}
}

// TestJSONLines: a JSON lines export is one object a line with the columns of Row, the
// context as the object sent, and the same values as the Parquet rows.
func TestJSONLines(t *testing.T) {
	log := testDecisions(20, 2)
	var buf bytes.Buffer
	if _, err := Write(context.Background(), log, &buf, Options{Format: JSONLines}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	i := 0
	for sc.Scan() {
		var got map[string]any
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		d := log[i]
		if got["decision_id"] != string(d.ID) || got["time"] != micro(d.Time).Format(time.RFC3339Nano) || got["schema_hash"] != d.Schema {
			t.Errorf("line %d: %v", i, got)
		}
		ctx, _ := got["context"].(map[string]any)
		if ctx["str_01"] != "alpha" {
			t.Errorf("line %d: context %v", i, got["context"])
		}
		var row Row
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		want := RowOf(d)
		want.Context, row.ContextJSON, want.ContextJSON = "", nil, nil
		if !reflect.DeepEqual(row, want) {
			t.Fatalf("line %d:\ngot  %+v\nwant %+v", i, row, want)
		}
		i++
	}
	if i != len(log) {
		t.Fatalf("%d lines for %d decisions", i, len(log))
	}
}

// TestWindow: since and until bound the export (since <= time < until); an empty window
// is a valid file with no rows; since after until is an error before anything is read.
func TestWindow(t *testing.T) {
	log := testDecisions(100, 3)
	for _, c := range []struct {
		name         string
		since, until time.Time
		rows         int
	}{
		{"all", time.Time{}, time.Time{}, 100},
		{"since", t0.Add(90 * time.Minute), time.Time{}, 10},
		{"until", time.Time{}, t0.Add(10 * time.Minute), 10},
		{"both, until exclusive", t0.Add(10 * time.Minute), t0.Add(20 * time.Minute), 10},
		{"empty window", t0.Add(10 * time.Minute), t0.Add(10 * time.Minute), 0},
		{"after the log", t0.Add(1000 * time.Hour), time.Time{}, 0},
	} {
		for _, f := range []Format{Parquet, JSONLines} {
			var buf bytes.Buffer
			n, err := Write(context.Background(), log, &buf, Options{Format: f, Since: c.since, Until: c.until})
			if err != nil || n != c.rows {
				t.Fatalf("%s, %s: %d rows (%v), want %d", c.name, f, n, err, c.rows)
			}
			if f == JSONLines {
				if lines := strings.Count(buf.String(), "\n"); lines != c.rows {
					t.Errorf("%s: %d lines", c.name, lines)
				}
				continue
			}
			s, err := Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil || s.Rows != int64(c.rows) {
				t.Errorf("%s: the file reads as %+v, %v", c.name, s, err)
			}
			if c.rows > 0 && (s.First.Before(micro(c.since)) || !c.until.IsZero() && !s.Last.Before(micro(c.until))) {
				t.Errorf("%s: rows from %v to %v", c.name, s.First, s.Last)
			}
		}
	}
	read := false
	probe := logFunc(func(context.Context, time.Time, func(*engine.Decision) error) error { read = true; return nil })
	for _, o := range []Options{
		{Format: Parquet, Since: t0.Add(time.Hour), Until: t0},
		{Format: "csv"},
		{Format: Parquet, RowGroup: -1},
	} {
		if _, err := Write(context.Background(), probe, io.Discard, o); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if read {
		t.Error("the log was read for options that make no export")
	}
}

type logFunc func(ctx context.Context, since time.Time, fn func(*engine.Decision) error) error

func (f logFunc) Decisions(ctx context.Context, since time.Time, fn func(*engine.Decision) error) error {
	return f(ctx, since, fn)
}

// TestRowGroupsStream: an export writes each row group to its output as it fills, not at
// the end, so that its memory is one row group's whatever the log's size.
func TestRowGroupsStream(t *testing.T) {
	log := testDecisions(2500, 4)
	var out countingWriter
	var atEnd int64
	tail := logFunc(func(ctx context.Context, since time.Time, fn func(*engine.Decision) error) error {
		if err := log.Decisions(ctx, since, fn); err != nil {
			return err
		}
		atEnd = out.n // every decision handed over, the file not yet closed
		return nil
	})
	if _, err := Write(context.Background(), tail, &out, Options{Format: Parquet, RowGroup: 500}); err != nil {
		t.Fatal(err)
	}
	// Five row groups of 500: at least the first four are out before the writer closes.
	if atEnd < out.n*3/5 {
		t.Errorf("%d of %d bytes written before the log was read to its end", atEnd, out.n)
	}
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// TestVerifyCorrupt: a damaged or foreign file is an error wrapping ErrCorrupt, never a
// panic: truncated anywhere, a byte changed anywhere in its data, nothing, noise, and a
// Parquet file of another schema.
func TestVerifyCorrupt(t *testing.T) {
	var buf bytes.Buffer
	if _, err := Write(context.Background(), testDecisions(40, 5), &buf, Options{Format: Parquet, RowGroup: 16}); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	check := func(name string, b []byte) {
		t.Helper()
		if _, err := Verify(bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, n := range []int{0, 3, 4, 100, len(file) / 2, len(file) - 9, len(file) - 8, len(file) - 1} {
		check(fmt.Sprintf("truncated to %d of %d bytes", n, len(file)), file[:n])
	}
	// A changed byte in the data (every row group: page headers and pages) is caught by
	// the checksum in the footer; one in the page indexes or the footer, by Parquet's
	// structure when it breaks it (a changed statistic does not: Parquet keeps no
	// checksum of its footer). Neither may panic, nor fail otherwise than ErrCorrupt.
	f, err := parquet.OpenFile(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	dataLen, _ := f.Lookup(metaDataBytes)
	var data int
	fmt.Sscan(dataLen, &data)
	if data < len(file)/3 {
		t.Fatalf("data of %d bytes in a file of %d", data, len(file))
	}
	caught, tried := 0, 0
	for pos := 0; pos < len(file); pos += 17 {
		b := bytes.Clone(file)
		b[pos] ^= 0xff
		_, err := Verify(bytes.NewReader(b), int64(len(b)))
		switch {
		case err != nil && !errors.Is(err, ErrCorrupt):
			t.Fatalf("byte %d changed: %v", pos, err)
		case pos < data && err == nil:
			t.Fatalf("byte %d of the data changed, and the file verifies", pos)
		case pos >= data:
			tried++
			if err != nil {
				caught++
			}
		}
	}
	t.Logf("%d of %d bytes of data; of the changed bytes in the page indexes and the footer, %d of %d caught", data, len(file), caught, tried)
	check("noise", bytes.Repeat([]byte("PAR1 noise "), 100))
	type other struct {
		A int64 `parquet:"a"`
	}
	var o bytes.Buffer
	if err := parquet.Write(&o, []other{{1}, {2}}); err != nil {
		t.Fatal(err)
	}
	check("another schema", o.Bytes())
}

// TestRewardOf: the reward is the first chosen action's response as the engine learned
// it.
func TestRewardOf(t *testing.T) {
	one, zero := 1.0, 0.0
	ev := func(a engine.ActionID, o engine.Outcome, learned bool) engine.Event {
		return engine.Event{ActionID: a, Outcome: o, Learned: learned}
	}
	label := ev("a", engine.LabelHit, false)
	label.Objective = "churn"
	for _, c := range []struct {
		name   string
		chosen []engine.ActionID
		events []engine.Event
		want   *float64
	}{
		{"nothing offered", nil, nil, nil},
		{"unanswered", []engine.ActionID{"a"}, nil, nil},
		{"accepted", []engine.ActionID{"a"}, []engine.Event{ev("a", engine.Accepted, true)}, &one},
		{"ignored", []engine.ActionID{"a"}, []engine.Event{ev("a", engine.Ignored, true)}, &zero},
		{"timed out", []engine.ActionID{"a"}, []engine.Event{ev("a", engine.Timeout, true)}, &zero},
		{"a positive after the timeout", []engine.ActionID{"a"}, []engine.Event{ev("a", engine.Timeout, true), ev("a", engine.Clicked, true)}, &one},
		{"converted after a click", []engine.ActionID{"a"}, []engine.Event{ev("a", engine.Clicked, true), ev("a", engine.Converted, false)}, &one},
		{"a click after an explicit no (logged, not learned)", []engine.ActionID{"a"}, []engine.Event{ev("a", engine.Ignored, true), ev("a", engine.Clicked, false)}, &zero},
		{"the second offer's response", []engine.ActionID{"a", "b"}, []engine.Event{ev("b", engine.Accepted, true)}, nil},
		{"a label is no response", []engine.ActionID{"a"}, []engine.Event{label}, nil},
		{"learned by no model (schema changed)", []engine.ActionID{"a"}, []engine.Event{ev("a", engine.Rejected, false)}, &zero},
	} {
		got := RewardOf(&engine.Decision{Chosen: c.chosen, Outcomes: c.events})
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("%s: %v, want %v", c.name, deref(got), deref(c.want))
		}
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
