package api

import (
	"bytes"
	"math"
	"testing"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/record"
)

// FuzzMarshalAnswers holds marshalJSON's go-json path for the decide and feedback answers
// to encoding/json (record.MarshalNoEscape): the same bytes, or an error from both.
func FuzzMarshalAnswers(f *testing.F) {
	for _, s := range []struct {
		text                   string
		x, y                   float64
		seq                    uint64
		noAction, dup, learned bool
	}{
		{"lt-a07", 0.12345678901234, 3.4969125, 42, false, false, true},
		{"<a href=\"x\">&amp;</a>", 1e21, 1e20, 0, true, true, false},                   // HTML; the exponent cut-off
		{"\u2028\u2029 é😀", 9.999999999999999e20, 1e-6, 1, false, true, true},           // line separators
		{"\xff\xfe\xc3", 9.99e-7, 1e-7, math.MaxUint64, false, false, false},            // invalid UTF-8
		{"\x00\x1f\b\f\n\r\t\"\\\x7f", 5e-324, math.MaxFloat64, 7, false, false, false}, // controls
		{"", math.Copysign(0, -1), -1.5e-300, 0, true, false, false},
		{"nan", math.NaN(), 1, 0, false, false, false}, // both must refuse
		{"inf", math.Inf(1), math.Inf(-1), 0, false, false, false},
		{"0.1", 0.1, 1.0 / 3, 0, false, false, false},
		{"big", 123456789012345678, -2.5e-7, 0, false, false, false},
	} {
		f.Add(s.text, s.x, s.y, s.seq, s.noAction, s.dup, s.learned)
	}
	f.Fuzz(func(t *testing.T, text string, x, y float64, seq uint64, noAction, dup, learned bool) {
		r := &engine.DecideResult{DecisionID: engine.DecisionID(text), CustomerID: engine.CustomerID(text + "c"), Arm: text, Actions: []engine.Ranked{}, NoAction: noAction}
		if noAction {
			r.Reason = text
		} else {
			r.Actions = append(r.Actions,
				engine.Ranked{ID: engine.ActionID(text), Propensity: x, Score: y, Value: x * y, Priority: x + y, Probability: x / 7},
				engine.Ranked{ID: "b", Propensity: y, Score: x, Value: -x, Priority: y * 1e10, Probability: y * 1e-10})
		}
		for _, v := range []any{r, engine.FeedbackResult{Seq: seq, Duplicate: dup, Learned: learned}} {
			want, wantErr := record.MarshalNoEscape(v)
			got, err := marshalJSON(v)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("%#v: marshalJSON gives %q, %v; encoding/json %q, %v", v, got, err, want, wantErr)
			}
			if err == nil && !bytes.Equal(got, want) {
				t.Fatalf("%#v: marshalJSON gives\n%s\nencoding/json\n%s", v, got, want)
			}
		}
	})
}

func BenchmarkMarshalDecideResult(b *testing.B) {
	r := &engine.DecideResult{DecisionID: "0000019a2b3c4d5e6f708192", CustomerID: "lt-c0012345", Arm: "nba", Actions: []engine.Ranked{
		{ID: "lt-a07", Propensity: 0.12345678901234, Score: 0.1398765, Value: 25, Priority: 3.4969125, Probability: 0.41},
	}}
	for _, bc := range []struct {
		name    string
		marshal func(any) ([]byte, error)
	}{{"encoding-json", record.MarshalNoEscape}, {"go-json", marshalJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.marshal(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
