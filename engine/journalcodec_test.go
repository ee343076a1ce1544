package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// randomEvent is an event with every field set from rng, as the committer writes them.
func randomEvent(rng *rand.Rand) *Event {
	e := &Event{
		Seq:        rng.Uint64() >> rng.IntN(64),
		Time:       time.Unix(0, rng.Int64N(4e18)).UTC(),
		DecisionID: DecisionID(fmt.Sprintf("%016x", rng.Uint64())),
		ActionID:   ActionID(fmt.Sprintf("offer-%02d", rng.IntN(30))),
		Outcome:    []Outcome{Accepted, Rejected, Ignored, Clicked, Converted, Timeout}[rng.IntN(6)],
		Learned:    rng.IntN(2) == 0,
	}
	if rng.IntN(2) == 0 {
		e.CustomerID = CustomerID(fmt.Sprintf("c%d", rng.IntN(1000)))
	}
	if rng.IntN(3) == 0 {
		r := rng.NormFloat64() * 100
		e.Reward, e.RewardLearned = &r, rng.IntN(2) == 0
	}
	for i := range rng.IntN(50) {
		e.Features.Index = append(e.Features.Index, int32(i*13-rng.IntN(5)))
		e.Features.Value = append(e.Features.Value, rng.NormFloat64()*1e3)
	}
	return e
}

func randomOutcomeState(rng *rand.Rand) *OutcomeState {
	o := &OutcomeState{Seq: rng.Uint64() >> rng.IntN(64), Outcome: Clicked, Implicit: rng.IntN(2) == 0, Rewarded: rng.IntN(2) == 0}
	for range rng.IntN(4) {
		o.Also = append(o.Also, LoggedOutcome{Outcome: Converted, Seq: rng.Uint64() >> rng.IntN(64)})
	}
	return o
}

func randomContact(rng *rand.Rand) *ContactEvent {
	return &ContactEvent{Customer: CustomerID(fmt.Sprintf("c%d", rng.IntN(1000))), Time: time.Unix(0, rng.Int64N(4e18)).UTC(),
		Channel: []string{"", "web", "email", "sms"}[rng.IntN(4)], Negative: rng.IntN(2) == 0}
}

// journalCodec is one of the three record kinds, for the table-driven tests below.
type journalCodec struct {
	name   string
	random func(*rand.Rand) any
	encode func(any) []byte
	decode func([]byte) (any, error)
}

var journalCodecs = []journalCodec{
	{"event", func(r *rand.Rand) any { return randomEvent(r) },
		func(v any) []byte { return EncodeEvent(nil, v.(*Event)) },
		func(b []byte) (any, error) { var e Event; err := DecodeEvent(b, &e); return &e, err }},
	{"outcome state", func(r *rand.Rand) any { return randomOutcomeState(r) },
		func(v any) []byte { return EncodeOutcomeState(nil, v.(*OutcomeState)) },
		func(b []byte) (any, error) { var o OutcomeState; err := DecodeOutcomeState(b, &o); return &o, err }},
	{"contact", func(r *rand.Rand) any { return randomContact(r) },
		func(v any) []byte { return EncodeContact(nil, v.(*ContactEvent)) },
		func(b []byte) (any, error) { var c ContactEvent; err := DecodeContact(b, &c); return &c, err }},
}

// TestJournalRecordsRoundTrip checks each binary record against the JSON the store wrote
// before it: a record read back equals the value read back from its JSON (what a store
// written by an older nextbest holds), and prints the same.
func TestJournalRecordsRoundTrip(t *testing.T) {
	for _, c := range journalCodecs {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			for i := range 500 {
				v := c.random(rng)
				fromBinary, err := c.decode(c.encode(v))
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				raw, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				fromJSON, err := c.decode(raw)
				if err != nil {
					t.Fatalf("record %d, JSON: %v", i, err)
				}
				if !reflect.DeepEqual(fromBinary, fromJSON) {
					t.Fatalf("record %d differs:\nbinary %+v\nJSON   %+v", i, fromBinary, fromJSON)
				}
				if a, _ := json.Marshal(fromBinary); string(a) != string(raw) {
					t.Fatalf("record %d prints differently:\n%s\n%s", i, a, raw)
				}
			}
		})
	}
}

// TestJournalRecordsCorrupt: every truncation, a trailing byte, an unknown version or
// flag, and bad JSON are errors that wrap errJournalRecord, never a panic.
func TestJournalRecordsCorrupt(t *testing.T) {
	for _, c := range journalCodecs {
		t.Run(c.name, func(t *testing.T) {
			rec := c.encode(c.random(rand.New(rand.NewPCG(9, 10))))
			for n := range len(rec) {
				if _, err := c.decode(rec[:n]); !errors.Is(err, errJournalRecord) {
					t.Fatalf("truncated to %d of %d bytes: err %v", n, len(rec), err)
				}
			}
			if _, err := c.decode(append(rec, 0)); !errors.Is(err, errJournalRecord) {
				t.Errorf("trailing byte: %v", err)
			}
			if _, err := c.decode([]byte{9, 1, 2}); !errors.Is(err, errJournalRecord) {
				t.Errorf("unknown version: %v", err)
			}
			if _, err := c.decode([]byte(`{"seq": "x", "customer": 5}`)); !errors.Is(err, errJournalRecord) {
				t.Errorf("bad JSON record: %v", err)
			}
		})
	}
	// A flag bit this version does not define: the contact's flag byte is its last.
	rec := EncodeContact(nil, &ContactEvent{Customer: "c1", Channel: "web"})
	rec[len(rec)-1] = 4
	if err := DecodeContact(rec, new(ContactEvent)); !errors.Is(err, errJournalRecord) {
		t.Errorf("unknown flag: %v", err)
	}
	// A JSON time the binary form cannot hold is corrupt; one with an offset reads as UTC.
	if err := DecodeEvent([]byte(`{"seq":1,"time":"0000-10-01T00:00:00Z"}`), new(Event)); !errors.Is(err, errJournalRecord) {
		t.Errorf("time out of range: %v", err)
	}
	var c ContactEvent
	if err := DecodeContact([]byte(`{"customer":"c1","time":"2026-11-23T05:00:00+01:00"}`), &c); err != nil || c.Time.Location() != time.UTC || c.Time.Hour() != 4 {
		t.Errorf("time with an offset: %v, %v", c.Time, err)
	}
	// An event whose JSON feature lists differ in length cannot be stored in binary.
	if err := DecodeEvent([]byte(`{"seq":1,"features":{"index":[1,2],"value":[0.5]}}`), new(Event)); !errors.Is(err, errJournalRecord) {
		t.Errorf("uneven JSON features: %v", err)
	}
}

func TestJournalRecordsSpecialFloats(t *testing.T) {
	r := math.Copysign(0, -1)
	e := &Event{Seq: 1, Reward: &r}
	e.Features.Index = []int32{0, 1}
	e.Features.Value = []float64{math.NaN(), math.Inf(-1)}
	var got Event
	if err := DecodeEvent(EncodeEvent(nil, e), &got); err != nil {
		t.Fatal(err)
	}
	if !math.Signbit(*got.Reward) || !math.IsNaN(got.Features.Value[0]) || !math.IsInf(got.Features.Value[1], -1) {
		t.Errorf("special floats changed: %+v %v", got.Features, *got.Reward)
	}
}

// FuzzDecodeJournalRecords: no input panics any of the three decoders, and whatever
// decodes encodes to a record that decodes to the same value.
func FuzzDecodeJournalRecords(f *testing.F) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range journalCodecs {
		v := c.random(rng)
		f.Add(c.encode(v))
		raw, _ := json.Marshal(v)
		f.Add(raw)
	}
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range journalCodecs {
			v, err := c.decode(b)
			if err != nil {
				if !errors.Is(err, errJournalRecord) {
					t.Fatalf("%s: error not wrapping errJournalRecord: %v", c.name, err)
				}
				continue
			}
			again, err := c.decode(c.encode(v))
			if err != nil {
				t.Fatalf("%s: re-encoded record does not decode: %v", c.name, err)
			}
			if e, ok := v.(*Event); ok {
				v, again = normalizeEventNaN(*e), normalizeEventNaN(*again.(*Event))
			}
			if !reflect.DeepEqual(v, again) {
				t.Fatalf("%s: round trip changed the record:\n%+v\n%+v", c.name, v, again)
			}
		}
	})
}

// normalizeEventNaN replaces NaNs (which DeepEqual never finds equal) by a marker value.
func normalizeEventNaN(e Event) Event {
	e.Features.Value = append([]float64(nil), e.Features.Value...)
	for i, v := range e.Features.Value {
		if math.IsNaN(v) {
			e.Features.Value[i] = -12345
		}
	}
	if e.Reward != nil && math.IsNaN(*e.Reward) {
		r := -12345.0
		e.Reward = &r
	}
	return e
}

// TestJSONRecordsReadInTheBinaryShape: a JSON record reads as the value its binary form
// reads as, down to nil against empty lists and the location of a zero time, so that a
// record re-encoded from an old one is the same record (the fuzzer found each of these).
func TestJSONRecordsReadInTheBinaryShape(t *testing.T) {
	var e Event
	if err := DecodeEvent([]byte(`{"seq":1,"time":"0000-12-31T23:00:00-01:00","features":{"index":[],"value":[]}}`), &e); err != nil {
		t.Fatal(err)
	}
	var again Event
	if err := DecodeEvent(EncodeEvent(nil, &e), &again); err != nil || !reflect.DeepEqual(e, again) {
		t.Errorf("event: %+v, re-encoded %+v (%v)", e, again, err)
	}
	var o OutcomeState
	if err := DecodeOutcomeState([]byte(`{"seq":2,"outcome":"clicked","also":[]}`), &o); err != nil || o.Also != nil {
		t.Errorf("outcome state: %+v (%v)", o, err)
	}
	var d Decision
	if err := DecodeDecision([]byte(`{"decision_id":"d1","chosen":[],"outcomes":[{"seq":1}]}`), "d1", nil, &d); err != nil {
		t.Fatal(err)
	}
	var dAgain Decision
	if err := DecodeDecision(EncodeDecision(nil, &d, nil), d.ID, nil, &dAgain); err != nil || !reflect.DeepEqual(d, dAgain) {
		t.Errorf("decision: %+v, re-encoded %+v (%v)", d, dAgain, err)
	}
}
