package record_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/nextbest/nextbest/record"
)

// BenchmarkDecisionRecord writes and reads a decision record of the benchmark's shape (20
// candidates, 40 features): the binary record the log stores (record.EncodeDecision), and
// for comparison the JSON the log stored before, with encoding/json and goccy/go-json.
func BenchmarkDecisionRecord(b *testing.B) {
	d := &record.Decision{ID: "0123456789abcdef", CustomerID: "c00001", Channel: "web", Time: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), Arm: "nba", Source: "inbound", Context: []byte(`{"num_01":1.5,"str_01":"alpha"}`), Schema: "auto:0123456789ab", Candidates: []record.Candidate{}}
	for i := range 40 {
		d.Features.Index = append(d.Features.Index, int32(i*7))
		d.Features.Value = append(d.Features.Value, float64(i)*0.37)
	}
	for i := range 20 { // the engine benchmarks' catalog (engine/bench_test.go, benchActions)
		d.Candidates = append(d.Candidates, record.Candidate{ID: record.ActionID(fmt.Sprintf("offer-%02d", i)), Rank: i + 1, Propensity: 0.1234567, Score: 0.2345678, Value: 65, Weight: 1, Priority: 12.345678, Probability: 0.01, ModelSeq: 12345})
	}
	d.Chosen = []record.ActionID{"offer-00"}
	std, err := json.Marshal(d)
	if err != nil {
		b.Fatal(err)
	}
	fast, err := gojson.Marshal(d)
	if err != nil || string(fast) != string(std) {
		b.Fatalf("go-json wrote %d bytes unlike encoding/json's %d (err %v)", len(fast), len(std), err)
	}
	bin := record.EncodeDecision(nil, d, nil)
	b.Logf("record sizes: JSON %d bytes, binary %d bytes", len(std), len(bin))
	b.Run("encode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(d)
		}
	})
	b.Run("encode/go-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = gojson.Marshal(d)
		}
	})
	b.Run("encode/binary", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf = record.EncodeDecision(buf[:0], d, nil)
		}
	})
	b.Run("decode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var x record.Decision
			_ = record.DecodeDecision(std, d.ID, nil, &x)
		}
	})
	b.Run("decode/binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var x record.Decision
			_ = record.DecodeDecision(bin, d.ID, nil, &x)
		}
	})
}

// BenchmarkJournalRecords writes and reads the three records every feedback stores (an
// event with 40 features, its outcome state, a contact) in the binary forms the store
// writes (record.EncodeEvent and the others) and, for comparison, the go-json the store
// wrote before them.
func BenchmarkJournalRecords(b *testing.B) {
	reward := 12.5
	ev := &record.Event{Seq: 123456, Time: time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC), DecisionID: "0123456789abcdefaa", ActionID: "offer-07",
		CustomerID: "c00001", Outcome: record.Accepted, Reward: &reward, Learned: true, RewardLearned: true}
	for i := range 40 {
		ev.Features.Index = append(ev.Features.Index, int32(i*7))
		ev.Features.Value = append(ev.Features.Value, float64(i)*0.37-1.2345678)
	}
	st := &record.OutcomeState{Seq: 123456, Outcome: record.Accepted, Rewarded: true}
	ct := &record.ContactEvent{Customer: "c00001", Time: ev.Time, Channel: "web", Negative: true}
	bin := [][]byte{record.EncodeEvent(nil, ev), record.EncodeOutcomeState(nil, st), record.EncodeContact(nil, ct)}
	var js [][]byte
	for _, v := range []any{ev, st, ct} {
		j, err := gojson.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		js = append(js, j)
	}
	b.Logf("record sizes (JSON -> binary): event %d -> %d, outcome state %d -> %d, contact %d -> %d bytes",
		len(js[0]), len(bin[0]), len(js[1]), len(bin[1]), len(js[2]), len(bin[2]))
	b.Run("encode/go-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = gojson.Marshal(ev)
			_, _ = gojson.Marshal(st)
			_, _ = gojson.Marshal(ct)
		}
	})
	b.Run("encode/binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = record.EncodeEvent(nil, ev)
			_ = record.EncodeOutcomeState(nil, st)
			_ = record.EncodeContact(nil, ct)
		}
	})
	decodeAll := func(recs [][]byte) {
		var e record.Event
		var o record.OutcomeState
		var c record.ContactEvent
		if record.DecodeEvent(recs[0], &e) != nil || record.DecodeOutcomeState(recs[1], &o) != nil || record.DecodeContact(recs[2], &c) != nil {
			b.Fatal("decode failed")
		}
	}
	b.Run("decode/go-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeAll(js)
		}
	})
	b.Run("decode/binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeAll(bin)
		}
	})
}
