package engine

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/internal/binrec"
)

// randomDecision is a decision with every field set from rng, as the engine logs them
// (UTC times, non-nil candidates): half with an id from NewDecisionID (whose time the
// record of version 4 takes from the id), candidates scored as nbaChoice and netChoice
// score them (priority = score x value x weight, score = priority / weight) and with
// unrelated scores, priced ones, filtered ones, and contexts of the shapes clients send.
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
		d.ID = NewDecisionID(d.Time, rng)
	}
	if rng.IntN(2) == 0 {
		d.Experiment = "x1"
		d.Context = json.RawMessage(randomContext(rng))
		d.Deadline = d.Time.Add([]time.Duration{30 * time.Minute, 1500 * time.Millisecond, 7}[rng.IntN(3)])
		d.Reason = "contact policy: at most 1 per 24h"
	}
	for i := range rng.IntN(50) {
		d.Features.Index = append(d.Features.Index, int32(i*13-rng.IntN(5)))
		v := rng.NormFloat64() * 1e3
		switch rng.IntN(4) {
		case 0:
			v = 1 // one-hot
		case 1:
			v = 1e300 // beyond float32
		}
		d.Features.Value = append(d.Features.Value, v)
	}
	for i := range rng.IntN(25) {
		c := Candidate{ID: ActionID(fmt.Sprintf("offer-%02d", i)), Rank: rng.IntN(30), Propensity: rng.Float64(), Score: rng.Float64(),
			Value: []float64{50 + 15*float64(i), 12.34, rng.Float64() * 100}[rng.IntN(3)], Weight: []float64{1, 0.8, 2}[rng.IntN(3)],
			Priority: rng.Float64() * 50, Probability: rng.Float64(), ModelSeq: rng.Uint64() >> rng.IntN(64)}
		switch rng.IntN(3) {
		case 0: // nbaChoice
			c.Priority = c.Score * (c.Value * c.Weight)
		case 1: // netChoice
			c.Priority = rng.NormFloat64() * 100
			c.Score = c.Priority / c.Weight
		}
		if rng.IntN(3) == 0 { // a priced candidate (netChoice)
			c.Cost, c.ContactCost, c.Effect = rng.Float64()*80, 0.25, -rng.Float64()*0.3
			c.EffectSD, c.EffectValue, c.Net = rng.Float64()*0.1, rng.Float64()*50, rng.NormFloat64()*20
		}
		if rng.IntN(2) == 0 {
			c.Probability = 0
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

// randomContext returns a context as a client sends it: compact JSON of numbers, strings
// and booleans, sometimes nested or spaced out.
func randomContext(rng *rand.Rand) string {
	words := []string{"alpha", "bravo", `q"uote`, "é", `back\slash`}
	m := map[string]any{}
	for j := range rng.IntN(30) {
		switch j % 4 {
		case 0:
			m[fmt.Sprintf("num_%02d", j)] = math.Round(rng.NormFloat64()*1000) / 100
		case 1:
			m[fmt.Sprintf("str_%02d", j)] = words[rng.IntN(len(words))]
		case 2:
			m[fmt.Sprintf("flag_%02d", j)] = rng.IntN(2) == 0
		case 3:
			m[fmt.Sprintf("big_%02d", j)] = rng.NormFloat64() * 1e25
		}
	}
	if rng.IntN(4) == 0 {
		m["nested"] = map[string]any{"list": []any{1, "two", nil, 3.5}}
	}
	b, _ := json.Marshal(m)
	if rng.IntN(5) == 0 {
		b, _ = json.MarshalIndent(m, "", "  ")
	}
	return string(b)
}

// rel32 is float32's relative rounding error, 2^-24; a derived field (priority from a
// rounded score) may carry two roundings of it.
const rel32 = 0x1p-24

// near32 reports whether got is want rounded to float32 precision: within 2 x 2^-24 of
// it (relative), or both NaN, or equal.
func near32(want, got float64) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) && math.IsNaN(got)
	}
	return want == got || math.Abs(got-want) <= 2*rel32*math.Abs(want)
}

// checkDecoded compares a decision read back from its version 4 record with the one
// written: exact where the record is exact (every name and id, the context's bytes, times,
// ranks, model sequences, amounts, feature indexes and one-hot values), within float32's
// precision for the estimates (the comment of the version 4 layout).
func checkDecoded(t *testing.T, want, got *Decision) {
	t.Helper()
	w, g := *want, *got
	if !bytes.Equal(w.Context, g.Context) {
		t.Fatalf("context:\n%s\n%s", w.Context, g.Context)
	}
	if !reflect.DeepEqual(w.Features.Index, g.Features.Index) || len(w.Features.Value) != len(g.Features.Value) {
		t.Fatalf("feature indexes: %v, read %v", w.Features.Index, g.Features.Index)
	}
	for i, v := range w.Features.Value {
		if (v == 1 || math.Abs(v) > math.MaxFloat32) && g.Features.Value[i] != v || !near32(v, g.Features.Value[i]) {
			t.Fatalf("feature %d: %v, read %v", i, v, g.Features.Value[i])
		}
	}
	if !near32(w.NoActionProbability, g.NoActionProbability) {
		t.Fatalf("no-action probability %v, read %v", w.NoActionProbability, g.NoActionProbability)
	}
	if len(w.Candidates) != len(g.Candidates) {
		t.Fatalf("%d candidates, read %d", len(w.Candidates), len(g.Candidates))
	}
	for i := range w.Candidates {
		wc, gc := w.Candidates[i], g.Candidates[i]
		for _, f := range []struct {
			name      string
			want, got float64
		}{{"propensity", wc.Propensity, gc.Propensity}, {"score", wc.Score, gc.Score}, {"priority", wc.Priority, gc.Priority},
			{"probability", wc.Probability, gc.Probability}, {"effect", wc.Effect, gc.Effect}, {"effect_sd", wc.EffectSD, gc.EffectSD},
			{"effect_value", wc.EffectValue, gc.EffectValue}, {"net", wc.Net, gc.Net}} {
			if !near32(f.want, f.got) {
				t.Fatalf("candidate %d %s: %v, read %v", i, f.name, f.want, f.got)
			}
		}
		wc.Propensity, wc.Score, wc.Priority, wc.Probability, wc.Effect, wc.EffectSD, wc.EffectValue, wc.Net = 0, 0, 0, 0, 0, 0, 0, 0
		gc.Propensity, gc.Score, gc.Priority, gc.Probability, gc.Effect, gc.EffectSD, gc.EffectValue, gc.Net = 0, 0, 0, 0, 0, 0, 0, 0
		if !reflect.DeepEqual(wc, gc) {
			t.Fatalf("candidate %d:\n%+v\nread %+v", i, wc, gc)
		}
	}
	w.Context, g.Context, w.Features, w.Candidates, g.Candidates = nil, nil, g.Features, nil, nil
	w.NoActionProbability, g.NoActionProbability = 0, 0
	if !reflect.DeepEqual(w, g) {
		t.Fatalf("decision:\n%+v\nread %+v", w, g)
	}
}

// TestDecisionRecordRoundTrip: a decision written as version 4 reads back as itself, to
// float32 precision for its estimates and exactly for the rest; and read back and written
// again, it reads back the same.
func TestDecisionRecordRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	strs, _ := NewStrings(nil)
	for i := range 2000 {
		d := randomDecision(rng)
		rec := EncodeDecision(nil, d, strs)
		var got, again Decision
		if err := DecodeDecision(rec, d.ID, strs, &got); err != nil {
			t.Fatalf("decision %d: %v", i, err)
		}
		checkDecoded(t, d, &got)
		if err := DecodeDecision(EncodeDecision(nil, &got, strs), d.ID, strs, &again); err != nil {
			t.Fatalf("decision %d again: %v", i, err)
		}
		if !reflect.DeepEqual(normalizeNaN(got), normalizeNaN(again)) {
			t.Fatalf("decision %d changes when written again:\n%+v\n%+v", i, got, again)
		}
	}
	// The engine's names (channels, arms, sources, the schema, action ids, reasons,
	// context keys) were numbered; nothing else was.
	if n := strs.Len(); n < 30 || n > 200 {
		t.Errorf("the dictionary holds %d strings", n)
	}
}

// TestDecisionRecordNoDictionary: without a dictionary every name is spelt out, and the
// record reads back without one.
func TestDecisionRecordNoDictionary(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 200 {
		d := randomDecision(rng)
		var got Decision
		if err := DecodeDecision(EncodeDecision(nil, d, nil), d.ID, nil, &got); err != nil {
			t.Fatalf("decision %d: %v", i, err)
		}
		checkDecoded(t, d, &got)
	}
}

// TestDecisionRecordSize: the record of a decision of the load test's shape (20 candidates
// of which 19 ranked and one filtered, 30 context fields sent as 477 bytes of JSON, 33
// features) against the 2,258 bytes of version 3 measured on such decisions (a sample of
// 3,000 from BenchmarkDecide's engine with HTTP contexts, docs/benchmarks.md).
func TestDecisionRecordSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	strs, _ := NewStrings(nil)
	d := loadTestDecision(rng)
	EncodeDecision(nil, d, strs) // numbers the names
	v3, v4 := len(encodeV3(d)), len(EncodeDecision(nil, d, strs))
	t.Logf("context %d bytes; record: version 3 %d bytes, version 4 %d bytes", len(d.Context), v3, v4)
	// 450 bytes: the budget that leaves room for the key and Badger's entry overhead
	// (about 50 bytes in a table block, less Snappy's few percent) within the 500
	// bytes a decision on disk (TestLogSize measures that).
	if v4 > 450 || v3 < 2000 {
		t.Errorf("version 4 record %d bytes (version 3 %d)", v4, v3)
	}
}

// loadTestDecision is a decision of the load test's shape (cmd/nextbest loadtest.go:
// decideBodies and setupCatalog): 30 context fields, 20 candidates, an auto-encoded
// feature vector of 20 one-hot and 13 standardised values.
func loadTestDecision(rng *rand.Rand) *Decision {
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	var ctx strings.Builder
	ctx.WriteByte('{')
	for j := range 6 {
		fmt.Fprintf(&ctx, `"flag_%02d":%v,`, j+1, rng.IntN(2) == 0)
	}
	for j := range 12 {
		fmt.Fprintf(&ctx, `"num_%02d":%v,`, j+1, math.Round(rng.NormFloat64()*1000+float64(j)*10)/100)
	}
	for j := range 12 {
		fmt.Fprintf(&ctx, `"str_%02d":%q,`, j+1, words[rng.IntN(len(words))])
	}
	now := time.Date(2026, 12, 6, 6, 49, 39, 553222096, time.UTC)
	d := &Decision{ID: NewDecisionID(now, rng), CustomerID: "c00681", Channel: "web", Time: now, Arm: "nba", Source: "inbound",
		Context: json.RawMessage(strings.TrimSuffix(ctx.String(), ",") + "}"), Schema: strings.Repeat("eea1b389", 8),
		Deadline: now.Add(30 * time.Minute), Candidates: []Candidate{}}
	idx := int32(0)
	for i := range 33 {
		idx += 1 + rng.Int32N(240)
		v := 1.0
		if i%5 == 1 || i%5 == 3 {
			v = rng.NormFloat64()
		}
		d.Features.Index = append(d.Features.Index, idx)
		d.Features.Value = append(d.Features.Value, v)
	}
	for i := range 20 {
		c := Candidate{ID: ActionID(fmt.Sprintf("lt-%02d", i+1)), Propensity: rng.Float64() * 0.2, Score: rng.Float64() * 0.2,
			Value: float64(50 + 15*i), Weight: 1, ModelSeq: 19000 + rng.Uint64N(1000)}
		c.Priority = c.Score * (c.Value * c.Weight)
		if i == 7 {
			c = Candidate{ID: c.ID, Filtered: "eligibility"}
		}
		if i == 3 {
			c.Probability, c.Detail = rng.Float64(), "explore"
			d.Chosen = []ActionID{c.ID}
		}
		d.Candidates = append(d.Candidates, c)
	}
	// Ranked as nbaChoice ranks them: by priority, highest first.
	order := []int{}
	for i, c := range d.Candidates {
		if c.Filtered == "" {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(d.Candidates[b].Priority, d.Candidates[a].Priority) })
	for r, i := range order {
		d.Candidates[i].Rank = r + 1
	}
	return d
}

func TestDecisionRecordSpecialFloats(t *testing.T) {
	d := &Decision{ID: "d", Candidates: []Candidate{{ID: "a", Rank: 1, Score: math.NaN(), Priority: math.Inf(1), Value: math.Copysign(0, -1), Weight: 1},
		{ID: "b", Rank: 2, Score: 1e-50, Priority: 1e-50, Value: 1e300, Weight: 1, Probability: 1e-50}},
		Features:            featuresOf(map[int32]float64{1: math.NaN(), 2: math.Inf(-1), 3: 1e-320, 4: -1e39}),
		NoActionProbability: 1e-50}
	var got Decision
	if err := DecodeDecision(EncodeDecision(nil, d, nil), d.ID, nil, &got); err != nil {
		t.Fatal(err)
	}
	a, b := got.Candidates[0], got.Candidates[1]
	if !math.IsNaN(a.Score) || !math.IsInf(a.Priority, 1) || a.Value != 0 {
		t.Errorf("special floats changed: %+v", a)
	}
	// Under float32's smallest value an estimate reads as 0; an amount stays exact.
	if b.Score != 0 || b.Priority != 0 || b.Probability != 0 || b.Value != 1e300 || got.NoActionProbability != 0 {
		t.Errorf("tiny estimates and a huge amount: %+v, no-action probability %v", b, got.NoActionProbability)
	}
	x := got.Features.Value
	if !math.IsNaN(x[0]) || !math.IsInf(x[1], -1) || x[2] != 1e-320 || x[3] != -1e39 {
		t.Errorf("feature values %v", x)
	}
}

// featuresOf returns the vector of m's values at indexes 1, 2, ... len(m).
func featuresOf(m map[int32]float64) (x features.Vector) {
	for i := range int32(len(m)) {
		x.Index = append(x.Index, i+1)
		x.Value = append(x.Value, m[i+1])
	}
	return x
}

func TestDecisionRecordCorrupt(t *testing.T) {
	strs, _ := NewStrings(nil)
	d := randomDecision(rand.New(rand.NewPCG(3, 4)))
	rec := EncodeDecision(nil, d, strs)
	for n := range len(rec) {
		var got Decision
		if err := DecodeDecision(rec[:n], d.ID, strs, &got); !errors.Is(err, errRecord) {
			t.Fatalf("truncated to %d of %d bytes: err %v", n, len(rec), err)
		}
	}
	var got Decision
	for _, c := range []struct {
		name string
		rec  []byte
		id   DecisionID
		strs *Strings
	}{
		{"trailing byte", append(bytes.Clone(rec), 0), d.ID, strs},
		{"unknown version", []byte{9, 1, 2}, "d", nil},
		{"bad JSON record", []byte(`{"decision_id": 5}`), "d", nil},
		{"a dictionary without the record's strings", rec, d.ID, mustStrings(t)},
		{"no dictionary", rec, d.ID, nil},
		// A record whose time is its id's, read under an id that carries none.
		{"time from a malformed id", EncodeDecision(nil, &Decision{ID: NewDecisionID(time.Unix(5, 0).UTC(), rand.New(rand.NewPCG(1, 1))), Time: time.Unix(5, 0).UTC()}, nil), "not-an-id", nil},
		{"unknown header flags", v4Record(0x100), "d", nil},
	} {
		if err := DecodeDecision(c.rec, c.id, c.strs, &got); !errors.Is(err, errRecord) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func mustStrings(t *testing.T) *Strings {
	s, err := NewStrings(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// v4Record returns a checksummed version 4 record of header flags h and nothing else.
func v4Record(h uint64) []byte {
	return binrec.AppendChecksum(binary.AppendUvarint([]byte{decisionRecordV4}, h), 0)
}

// FuzzDecodeDecision: no input panics or allocates without bound; whatever decodes writes
// a record that reads back with every exact field the same, and that record, read and
// written again, reads back the same (its estimates are float32 from the first writing on).
func FuzzDecodeDecision(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	strs, _ := NewStrings(nil)
	for range 4 {
		d := randomDecision(rng)
		f.Add(EncodeDecision(nil, d, strs), string(d.ID))
		f.Add(encodeV3(d), "")
	}
	d := loadTestDecision(rng)
	f.Add(EncodeDecision(nil, d, strs), string(d.ID))
	raw, _ := json.Marshal(randomDecision(rng))
	f.Add(raw, "")
	f.Add([]byte{decisionRecordV1, 0xff, 0xff, 0xff, 0xff, 0x0f}, "")
	f.Fuzz(func(t *testing.T, b []byte, id string) {
		var d Decision
		if err := DecodeDecision(b, DecisionID(id), strs, &d); err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("error not wrapping errRecord: %v", err)
			}
			return
		}
		var again, third Decision
		if err := DecodeDecision(EncodeDecision(nil, &d, strs), d.ID, strs, &again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		exact := func(d Decision) Decision {
			d.Features.Value, d.NoActionProbability = nil, 0
			d.Candidates = append([]Candidate(nil), d.Candidates...)
			for i := range d.Candidates {
				c := &d.Candidates[i]
				c.Propensity, c.Score, c.Priority, c.Probability, c.Effect, c.EffectSD, c.EffectValue, c.Net = 0, 0, 0, 0, 0, 0, 0, 0
				if c.Rank == 0 && c.Value == 0 && c.ModelSeq == 0 && c.Weight == 1 {
					c.Weight = 0 // a candidate scored only by estimates that float32 rounds to 0
				}
			}
			return d
		}
		if !reflect.DeepEqual(exact(d), exact(again)) {
			t.Fatalf("the exact fields changed:\n%+v\n%+v", d, again)
		}
		if err := DecodeDecision(EncodeDecision(nil, &again, strs), d.ID, strs, &third); err != nil {
			t.Fatalf("record written twice does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalizeNaN(again), normalizeNaN(third)) {
			t.Fatalf("written twice, the decision changed:\n%+v\n%+v", again, third)
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
	fix(&d.NoActionProbability)
	d.Candidates = append([]Candidate(nil), d.Candidates...)
	for i := range d.Candidates {
		c := &d.Candidates[i]
		for _, v := range []*float64{&c.Propensity, &c.Score, &c.Value, &c.Weight, &c.Priority, &c.Probability,
			&c.Cost, &c.ContactCost, &c.Effect, &c.EffectSD, &c.EffectValue, &c.Net} {
			fix(v)
		}
	}
	return d
}

// TestDecisionRecordUpgrade: records of every earlier form still read, as the decision
// they were written from: JSON (before the binary records), version 2 (before the priced
// terms) and version 3 (before version 4), each written by the test's own writer of that
// layout. Version 3 records read exactly (float64 throughout).
func TestDecisionRecordUpgrade(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range 300 {
		d := randomDecision(rng)
		var fromV3, fromJSON Decision
		if err := DecodeDecision(encodeV3(d), "ignored: the record has its id", nil, &fromV3); err != nil {
			t.Fatalf("decision %d, version 3: %v", i, err)
		}
		if !reflect.DeepEqual(normalizeNaN(fromV3), normalizeNaN(*d)) {
			t.Fatalf("decision %d: version 3 reads as\n%+v, not\n%+v", i, fromV3, *d)
		}
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := DecodeDecision(raw, "", nil, &fromJSON); err != nil {
			t.Fatalf("decision %d, JSON record: %v", i, err)
		}
		if a, _ := json.Marshal(&fromV3); string(a) != string(raw) {
			t.Fatalf("decision %d prints differently from version 3 and JSON:\n%s\n%s", i, a, raw)
		}
		// Upgraded: read as version 3 and written as version 4.
		var fromV4 Decision
		if err := DecodeDecision(EncodeDecision(nil, &fromV3, nil), d.ID, nil, &fromV4); err != nil {
			t.Fatal(err)
		}
		checkDecoded(t, d, &fromV4)
	}
	d := &Decision{ID: "d1", CustomerID: "c1", Channel: "web", Time: time.Unix(1700000000, 0).UTC(), Arm: "nba", Source: "inbound", Schema: "s",
		Candidates: []Candidate{{ID: "a", Rank: 1, Propensity: 0.5, Score: 0.4, Value: 10, Weight: 1, Priority: 4, Probability: 0.6, ModelSeq: 7},
			{ID: "b", Filtered: "eligibility"}},
		Chosen: []ActionID{"a"}}
	v2 := binrec.AppendChecksum(append([]byte{2}, encodeV2Body(d)...), 0)
	var got Decision
	if err := DecodeDecision(v2, "", nil, &got); err != nil {
		t.Fatalf("version 2 record: %v", err)
	}
	if !reflect.DeepEqual(got, *d) {
		t.Fatalf("version 2 reads as %+v, not %+v", got, *d)
	}
}

// encodeV3 is the test's own writer of a version 3 decision record, as
// decisioncodec.go wrote it before version 4.
func encodeV3(d *Decision) []byte {
	b := []byte{decisionRecordV3}
	for _, s := range []string{string(d.ID), string(d.CustomerID), d.Channel} {
		b = appendString(b, s)
	}
	b = appendTime(b, d.Time)
	for _, s := range []string{d.Arm, string(d.Experiment), d.Source, string(d.Context), d.Schema} {
		b = appendString(b, s)
	}
	b = appendFeatures(b, d.Features)
	b = binary.AppendUvarint(b, uint64(len(d.Candidates)))
	f := func(v float64) { b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v)) }
	for _, c := range d.Candidates {
		b = appendString(b, string(c.ID))
		b = appendString(b, c.Filtered)
		b = appendString(b, c.Detail)
		b = binary.AppendVarint(b, int64(c.Rank))
		for _, v := range []float64{c.Propensity, c.Score, c.Value, c.Weight, c.Priority, c.Probability} {
			f(v)
		}
		b = binary.AppendUvarint(b, c.ModelSeq)
		if c.priced() {
			b = append(b, 1)
			for _, v := range []float64{c.Cost, c.ContactCost, c.Effect, c.EffectSD, c.EffectValue, c.Net} {
				f(v)
			}
		} else {
			b = append(b, 0)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(d.Chosen)))
	for _, id := range d.Chosen {
		b = appendString(b, string(id))
	}
	if d.NoAction {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendString(b, d.Reason)
	b = appendTime(b, d.Deadline)
	f(d.NoActionProbability)
	return binrec.AppendChecksum(b, 0)
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
