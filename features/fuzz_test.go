package features

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"testing"
)

// benchSchema parses testdata/bench.yaml.
func benchSchema(t testing.TB) *Schema {
	t.Helper()
	b, err := os.ReadFile("testdata/bench.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decodeObject decodes data as a JSON object, with json.Number values when useNumber.
func decodeObject(data []byte, useNumber bool) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if useNumber {
		dec.UseNumber()
	}
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil, false
	}
	return m, true
}

// FuzzEncode feeds arbitrary JSON objects to a schema encoder (testdata/bench.yaml)
// and an auto encoder: Observe and Encode must not panic, every vector must keep the
// Vector contract, and EncodeObserve must encode as Encode does.
func FuzzEncode(f *testing.F) {
	p, c := benchInput(1)
	pj, _ := json.Marshal(p)
	cj, _ := json.Marshal(c)
	f.Add(pj, cj)
	f.Add([]byte(`{"age": "old", "vip": "maybe"}`), []byte(`{"channel": 3}`))
	f.Add([]byte(`{"lifetime_value": -1, "purchases": -0.5}`), []byte(`null`))
	f.Add([]byte(`{"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}, "t": ["x", 1, null]}`), []byte(`{}`))
	f.Add([]byte(`{"income": 1e308, "balance": -1e308}`), []byte(`{"hour": 1.7976931348623157e308}`))
	schema := benchSchema(f)
	f.Fuzz(func(t *testing.T, profileJSON, contextJSON []byte) {
		for _, useNumber := range []bool{false, true} {
			profile, ok1 := decodeObject(profileJSON, useNumber)
			context, ok2 := decodeObject(contextJSON, useNumber)
			if !ok1 && !ok2 {
				return
			}
			se, err := NewEncoder(schema) // fresh statistics for every input
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range []*Encoder{se, NewAutoEncoder(6)} {
				for i := 0; i < MinObservations; i++ { // warm the statistics up
					e.Observe(profile, context)
				}
				var v, vo Vector
				rep, err := e.Encode(profile, context, &v)
				// EncodeObserve encodes with the statistics Encode saw. With several
				// bad values, which one an auto encoder's error names depends on map
				// order, so only the sentinels are compared.
				repo, erro := e.EncodeObserve(profile, context, &vo)
				if (err == nil) != (erro == nil) || errors.Is(err, ErrType) != errors.Is(erro, ErrType) ||
					err == nil && (rep.Unknown != repo.Unknown || rep.Missing != repo.Missing) || !slices.Equal(v.Index, vo.Index) || !slices.Equal(v.Value, vo.Value) {
					t.Fatalf("Encode: %+v %v %v\nEncodeObserve: %+v %v %v", rep, err, v, repo, erro, vo)
				}
				if err != nil {
					if !errors.Is(err, ErrType) && !errors.Is(err, ErrValue) {
						t.Fatalf("error wraps no sentinel: %v", err)
					}
					var fe *FieldError
					if !errors.As(err, &fe) || fe.Field == "" {
						t.Fatalf("error names no field: %v", err)
					}
					continue
				}
				checkInvariants(t, e, v)
				for _, ix := range v.Index {
					if e.FeatureName(int(ix)) == "" {
						t.Fatalf("no name for %d", ix)
					}
				}
				irep, err := e.Inspect(profile, context)
				if err != nil {
					t.Fatalf("Inspect fails where Encode did not: %v", err)
				}
				// Encode counts unknown keys without listing them; Inspect lists them.
				if irep.Unknown != rep.Unknown || irep.Missing != rep.Missing ||
					len(irep.UnknownFields) != min(rep.Unknown, MaxReportedUnknown) {
					t.Fatalf("Encode report %+v, Inspect report %+v", rep, irep)
				}
			}
		}
	})
}

// FuzzParseSchema feeds arbitrary bytes to ParseSchema: it must not panic, its errors
// must wrap ErrSchema, and what it accepts must compile and encode.
func FuzzParseSchema(f *testing.F) {
	// Small seeds only: the fuzzer minimises every new interesting input, and
	// minimising a mutant of a 4 KB file takes minutes. testdata/fuzz has more.
	f.Add([]byte(yamlSchema))
	f.Add([]byte(jsonSchema))
	f.Add([]byte("fields: [{name: a, type: numeric, clip: [-1, 1], log1p: true}]"))
	f.Add([]byte(`{"fields": [{"name": "a.b", "type": "categorical", "hash_buckets": 3}], "interactions": [["a.b", "a.b"]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSchema(data)
		if err != nil {
			if !errors.Is(err, ErrSchema) {
				t.Fatalf("error does not wrap ErrSchema: %v", err)
			}
			return
		}
		if s.Hash() != s.Hash() {
			t.Fatal("Hash not deterministic")
		}
		e, err := NewEncoder(s)
		if err != nil {
			t.Fatalf("ParseSchema accepted what NewEncoder rejects: %v", err)
		}
		if e.Dim() > MaxDim+1 {
			t.Fatalf("Dim %d", e.Dim())
		}
		var v Vector
		if _, err := e.Encode(nil, nil, &v); err != nil {
			t.Fatalf("encoding nothing: %v", err)
		}
		checkInvariants(t, e, v)
		state, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.UnmarshalBinary(state); err != nil {
			t.Fatalf("own state rejected: %v", err)
		}
		for i := 0; i < e.Dim(); i++ {
			if i == 512 { // the first 512 and the last dimension: enough to reach every block kind
				i = e.Dim() - 1
			}
			if e.FeatureName(i) == "" {
				t.Fatalf("no name for %d", i)
			}
		}
	})
}

// FuzzEncoderState feeds arbitrary bytes to UnmarshalBinary of a schema and an auto
// encoder: it must not panic, must reject with ErrState, and what it accepts must
// round-trip and encode finite vectors.
func FuzzEncoderState(f *testing.F) {
	se, ae := benchEncoder(f), NewAutoEncoder(8)
	for i := 0; i < 40; i++ {
		p, c := benchInput(i)
		se.Observe(p, c)
		ae.Observe(p, c)
	}
	for _, e := range []*Encoder{se, ae, benchEncoder(f), NewAutoEncoder(8)} {
		b, err := e.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{stateVersion, modeAuto, 0})
	schema := benchSchema(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		se, err := NewEncoder(schema)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []*Encoder{se, NewAutoEncoder(8)} {
			if err := e.UnmarshalBinary(data); err != nil {
				if !errors.Is(err, ErrState) {
					t.Fatalf("error does not wrap ErrState: %v", err)
				}
				continue
			}
			b, err := e.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if err := e.UnmarshalBinary(b); err != nil {
				t.Fatalf("own state rejected: %v", err)
			}
			b2, _ := e.MarshalBinary()
			if !bytes.Equal(b, b2) {
				t.Fatal("state not stable")
			}
			p, c := benchInput(len(data))
			var v Vector
			if _, err := e.Encode(p, c, &v); err != nil {
				if !errors.Is(err, ErrValue) {
					t.Fatalf("Encode: %v", err)
				}
				continue
			}
			checkInvariants(t, e, v)
			for _, x := range v.Value {
				if math.IsInf(x, 0) {
					t.Fatal("infinite value")
				}
			}
		}
	})
}
