package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/nextbest/nextbest/internal/binrec"
)

// randomDecision is a decision with every field set from rng, as the engine logs them
// (UTC times, non-nil candidates).
func randomDecision(rng *rand.Rand) *Decision {
	d := &Decision{
		ID:                  DecisionID(fmt.Sprintf("%016x", rng.Uint64())),
		CustomerID:          CustomerID(fmt.Sprintf("c%d", rng.IntN(1000))),
		NoActionProbability: rng.Float64(),
		Channel:             []string{"web", "email", "sms"}[rng.IntN(3)],
		Time:                time.Unix(0, rng.Int64N(4e18)).UTC(),
		Arm:                 []string{"", "nba", "legacy", "holdout"}[rng.IntN(4)],
		Source:              []string{"inbound", "outbound", "campaign"}[rng.IntN(3)],
		Schema:              "auto:abc",
		Candidates:          []Candidate{},
		NoAction:            rng.IntN(2) == 0,
	}
	if rng.IntN(2) == 0 {
		d.Experiment = "x1"
		d.Context = json.RawMessage(`{"num":1.5,"s":"é \"q\""}`)
		d.Deadline = d.Time.Add(30 * time.Minute)
		d.Reason = "contact policy: at most 1 per 24h"
	}
	for i := range rng.IntN(50) {
		d.Features.Index = append(d.Features.Index, int32(i*13-rng.IntN(5)))
		d.Features.Value = append(d.Features.Value, rng.NormFloat64()*1e3)
	}
	for i := range rng.IntN(25) {
		c := Candidate{ID: ActionID(fmt.Sprintf("offer-%02d", i)), Rank: rng.IntN(30), Propensity: rng.Float64(), Score: rng.Float64(),
			Value: rng.Float64() * 100, Weight: 1, Priority: rng.Float64() * 50, Probability: rng.Float64(), ModelSeq: rng.Uint64() >> rng.IntN(64)}
		if rng.IntN(3) == 0 { // a priced candidate (netChoice)
			c.Cost, c.ContactCost, c.Effect = rng.Float64()*80, rng.Float64(), -rng.Float64()*0.3
			c.EffectSD, c.EffectValue, c.Net = rng.Float64()*0.1, rng.Float64()*50, rng.NormFloat64()*20
		}
		if rng.IntN(4) == 0 {
			c = Candidate{ID: c.ID, Filtered: "eligibility", Detail: "profile.age: unknown field"}
		}
		d.Candidates = append(d.Candidates, c)
		if c.Filtered == "" && rng.IntN(3) == 0 {
			d.Chosen = append(d.Chosen, c.ID)
		}
	}
	return d
}

// TestDecisionRecordRoundTrip checks the binary record against the JSON the log used
// before it: a record read back equals the decision read back from its JSON.
func TestDecisionRecordRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		d := randomDecision(rng)
		var fromBinary, fromJSON Decision
		if err := DecodeDecision(EncodeDecision(nil, d), &fromBinary); err != nil {
			t.Fatalf("decision %d: %v", i, err)
		}
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := DecodeDecision(raw, &fromJSON); err != nil {
			t.Fatalf("decision %d, JSON record: %v", i, err)
		}
		if !reflect.DeepEqual(fromBinary, fromJSON) {
			t.Fatalf("decision %d differs:\nbinary %+v\nJSON   %+v", i, fromBinary, fromJSON)
		}
		// And what the log endpoint prints is the same either way.
		a, _ := json.Marshal(&fromBinary)
		if string(a) != string(raw) {
			t.Fatalf("decision %d prints differently:\n%s\n%s", i, a, raw)
		}
	}
}

func TestDecisionRecordSpecialFloats(t *testing.T) {
	d := &Decision{ID: "d", Candidates: []Candidate{{ID: "a", Score: math.NaN(), Priority: math.Inf(1), Value: math.Copysign(0, -1)}}}
	var got Decision
	if err := DecodeDecision(EncodeDecision(nil, d), &got); err != nil {
		t.Fatal(err)
	}
	c := got.Candidates[0]
	if !math.IsNaN(c.Score) || !math.IsInf(c.Priority, 1) || !math.Signbit(c.Value) {
		t.Errorf("special floats changed: %+v", c)
	}
}

func TestDecisionRecordCorrupt(t *testing.T) {
	rec := EncodeDecision(nil, randomDecision(rand.New(rand.NewPCG(3, 4))))
	for n := range len(rec) {
		var d Decision
		if err := DecodeDecision(rec[:n], &d); !errors.Is(err, errRecord) {
			t.Fatalf("truncated to %d of %d bytes: err %v", n, len(rec), err)
		}
	}
	var d Decision
	if err := DecodeDecision(append(rec, 0), &d); !errors.Is(err, errRecord) {
		t.Errorf("trailing byte: %v", err)
	}
	if err := DecodeDecision([]byte{9, 1, 2}, &d); !errors.Is(err, errRecord) {
		t.Errorf("unknown version: %v", err)
	}
	if err := DecodeDecision([]byte(`{"decision_id": 5}`), &d); !errors.Is(err, errRecord) {
		t.Errorf("bad JSON record: %v", err)
	}
}

// FuzzDecodeDecision: no input panics or allocates without bound, and whatever decodes
// encodes to a record that decodes to the same decision.
func FuzzDecodeDecision(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 4 {
		f.Add(EncodeDecision(nil, randomDecision(rng)))
	}
	raw, _ := json.Marshal(randomDecision(rng))
	f.Add(raw)
	f.Add([]byte{decisionRecordV1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decision
		if err := DecodeDecision(b, &d); err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("error not wrapping errRecord: %v", err)
			}
			return
		}
		var again Decision
		if err := DecodeDecision(EncodeDecision(nil, &d), &again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalizeNaN(d), normalizeNaN(again)) {
			t.Fatalf("round trip changed the decision:\n%+v\n%+v", d, again)
		}
	})
}

// normalizeNaN replaces NaNs (which DeepEqual never finds equal) by a marker value.
func normalizeNaN(d Decision) Decision {
	fix := func(v *float64) {
		if math.IsNaN(*v) {
			*v = -12345
		}
	}
	d.Features.Value = append([]float64(nil), d.Features.Value...)
	for i := range d.Features.Value {
		fix(&d.Features.Value[i])
	}
	d.Candidates = append([]Candidate(nil), d.Candidates...)
	for i := range d.Candidates {
		c := &d.Candidates[i]
		for _, v := range []*float64{&c.Propensity, &c.Score, &c.Value, &c.Weight, &c.Priority, &c.Probability} {
			fix(v)
		}
	}
	return d
}

// TestDecisionRecordV2 checks that records of version 2 (before the priced terms) still
// read: a version 2 record written by the test's own writer of that layout reads back as
// the same decision as the version 3 record of it.
func TestDecisionRecordV2(t *testing.T) {
	d := &Decision{ID: "d1", CustomerID: "c1", Channel: "web", Time: time.Unix(1700000000, 0).UTC(), Arm: "nba", Source: "inbound", Schema: "s",
		Candidates: []Candidate{{ID: "a", Rank: 1, Propensity: 0.5, Score: 0.4, Value: 10, Weight: 1, Priority: 4, Probability: 0.6, ModelSeq: 7},
			{ID: "b", Filtered: "eligibility"}},
		Chosen: []ActionID{"a"}}
	v3 := EncodeDecision(nil, d)
	v2 := append([]byte{2}, encodeV2Body(d)...)
	v2 = binrec.AppendChecksum(v2, 0)
	var got Decision
	if err := DecodeDecision(v2, &got); err != nil {
		t.Fatalf("version 2 record: %v", err)
	}
	var want Decision
	if err := DecodeDecision(v3, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("version 2 reads as %+v, version 3 as %+v", got, want)
	}
}

// encodeV2Body is the test's own writer of a version 2 decision record's fields (after
// the version byte, before the checksum), as decisioncodec.go wrote them before version 3.
func encodeV2Body(d *Decision) []byte {
	var b []byte
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	tm := func(t time.Time) {
		if t.IsZero() {
			b = append(b, 0)
			return
		}
		b = binary.AppendVarint(append(b, 1), t.UnixNano())
	}
	f := func(v float64) { b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v)) }
	str(string(d.ID))
	str(string(d.CustomerID))
	str(d.Channel)
	tm(d.Time)
	for _, s := range []string{d.Arm, string(d.Experiment), d.Source, string(d.Context), d.Schema} {
		str(s)
	}
	b = binary.AppendUvarint(b, uint64(len(d.Features.Index)))
	b = binary.AppendUvarint(b, uint64(len(d.Candidates)))
	for _, c := range d.Candidates {
		str(string(c.ID))
		str(c.Filtered)
		str(c.Detail)
		b = binary.AppendVarint(b, int64(c.Rank))
		for _, v := range []float64{c.Propensity, c.Score, c.Value, c.Weight, c.Priority, c.Probability} {
			f(v)
		}
		b = binary.AppendUvarint(b, c.ModelSeq)
	}
	b = binary.AppendUvarint(b, uint64(len(d.Chosen)))
	for _, id := range d.Chosen {
		str(string(id))
	}
	if d.NoAction {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	str(d.Reason)
	tm(d.Deadline)
	return b
}
