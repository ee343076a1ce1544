package features

import (
	"bytes"
	"errors"
	"testing"
)

func TestStateRoundTrip(t *testing.T) {
	for _, newEnc := range []func(testing.TB) *Encoder{
		benchEncoder,
		func(testing.TB) *Encoder { return NewAutoEncoder(12) },
	} {
		src, dst := newEnc(t), newEnc(t)
		for i := 0; i < 200; i++ {
			p, c := benchInput(i)
			src.Observe(p, c)
		}
		state, err := src.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := dst.UnmarshalBinary(state); err != nil {
			t.Fatal(err)
		}
		again, _ := dst.MarshalBinary()
		if !bytes.Equal(state, again) {
			t.Error("state changed in a round trip")
		}
		// Observing the same inputs again after a restore recognises the remembered
		// names (the auto encoder compares name hashes, rebuilt on restore): no dimension
		// may turn into a collision on one side only.
		for i := 0; i < 50; i++ {
			p, c := benchInput(i)
			src.Observe(p, c)
			dst.Observe(p, c)
		}
		for ix := range src.Dim() {
			if src.FeatureName(ix) != dst.FeatureName(ix) {
				t.Fatalf("after observing again, FeatureName(%d): %q vs %q", ix, src.FeatureName(ix), dst.FeatureName(ix))
			}
		}
		for i := 0; i < 20; i++ {
			p, c := benchInput(1000 + i)
			var a, b Vector
			if _, err := src.Encode(p, c, &a); err != nil {
				t.Fatal(err)
			}
			if _, err := dst.Encode(p, c, &b); err != nil {
				t.Fatal(err)
			}
			if !sameVector(a, b, 0) {
				t.Fatalf("encodings differ after restore:\n%v\n%v", a, b)
			}
			for _, ix := range a.Index {
				if src.FeatureName(int(ix)) != dst.FeatureName(int(ix)) {
					t.Fatalf("FeatureName(%d): %q vs %q", ix, src.FeatureName(int(ix)), dst.FeatureName(int(ix)))
				}
			}
		}
	}
}

func TestStateMismatch(t *testing.T) {
	schemaState, _ := benchEncoder(t).MarshalBinary()
	autoState, _ := NewAutoEncoder(12).MarshalBinary()
	other := mustEncoder(t, `fields: [{name: x, type: numeric, standardize: true}]`)
	for name, tc := range map[string]struct {
		e     *Encoder
		state []byte
	}{
		"other schema":   {other, schemaState},
		"auto to schema": {other, autoState},
		"schema to auto": {NewAutoEncoder(12), schemaState},
		"other bits":     {NewAutoEncoder(13), autoState},
	} {
		err := tc.e.UnmarshalBinary(tc.state)
		if !errors.Is(err, ErrState) || !errors.Is(err, ErrSchema) {
			t.Errorf("%s: err = %v, want ErrState and ErrSchema", name, err)
		}
	}
}

func TestStateCorrupt(t *testing.T) {
	for _, e := range []*Encoder{benchEncoder(t), NewAutoEncoder(12)} {
		for i := 0; i < 100; i++ {
			p, c := benchInput(i)
			e.Observe(p, c)
		}
		good, _ := e.MarshalBinary()
		p, c := benchInput(5)
		var before Vector
		if _, err := e.Encode(p, c, &before); err != nil {
			t.Fatal(err)
		}
		bad := [][]byte{nil, {9}, append([]byte{}, good...)}
		bad[2][0] = 2 // unknown version
		for n := 1; n < len(good); n++ {
			bad = append(bad, good[:n])
		}
		bad = append(bad, append(append([]byte{}, good...), 0)) // trailing byte
		if e.auto == nil {                                      // the schema state ends with the last statistic's m2
			nan := append([]byte{}, good...)
			copy(nan[len(nan)-8:], []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f}) // NaN
			bad = append(bad, nan)
		}
		for _, b := range bad {
			if err := e.UnmarshalBinary(b); !errors.Is(err, ErrState) {
				t.Fatalf("UnmarshalBinary(%d bytes) = %v, want ErrState", len(b), err)
			}
		}
		var after Vector
		if _, err := e.Encode(p, c, &after); err != nil {
			t.Fatal(err)
		}
		if !sameVector(before, after, 0) {
			t.Error("a failed UnmarshalBinary changed the encoder")
		}
	}
}
