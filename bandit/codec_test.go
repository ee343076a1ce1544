package bandit

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus in testdata/fuzz/FuzzUnmarshalModel")

// codecModels returns models that exercise every part of the encoding.
func codecModels(t testing.TB) map[string]*Model {
	t0 := time.Date(2025, 6, 1, 8, 30, 0, 123456789, time.UTC)
	out := map[string]*Model{}
	for _, tc := range []struct {
		name string
		cfg  Config
		n    int
	}{
		{"diag-prior", Config{Dim: 3}, 0},
		{"diag", Config{Dim: 5, PriorMean: 0.1, PriorPrecision: 2, Window: 7}, 12},
		{"full", Config{Dim: 4, Form: Full, Window: 20}, 9},
		{"diag-value-forget", Config{Dim: 4, Value: true, HalfLife: 3600, HalfLifeUnit: Seconds, Window: 5}, 11},
		{"full-value-forget", Config{Dim: 3, Form: Full, Value: true, HalfLife: 500, Window: 8}, 13},
		{"full-stream", Config{Dim: 3, Form: Full, HalfLife: 200, HalfLifeUnit: StreamEvents, Window: 6}, 10},
	} {
		m := mustNew(t, tc.cfg)
		xs, ys := events(uint64(len(tc.name)), tc.n, tc.cfg.Dim, 0.8)
		for j := range xs {
			if tc.cfg.HalfLifeUnit == StreamEvents {
				m.Forget(j%3, time.Time{}) // 9 stream events: pending 2^(−9/200) ≈ 0.969 is applied once
			}
			m.Update(xs[j], ys[j], t0.Add(time.Duration(j)*time.Minute))
			m.UpdateValue(xs[j], float64(j%4))
		}
		if tc.n > 0 {
			m.Update(Vector{Index: []int32{0}, Value: []float64{math.NaN()}}, true, t0) // one rejected
		}
		out[tc.name] = m
	}
	return out
}

// TestCodecRoundTrip: decode(encode(m)) re-encodes to the same bytes,
// predicts bitwise identically, and keeps learning identically.
func TestCodecRoundTrip(t *testing.T) {
	for name, m := range codecModels(t) {
		t.Run(name, func(t *testing.T) {
			b1, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var got Model
			if err := got.UnmarshalBinary(b1); err != nil {
				t.Fatal(err)
			}
			b2, _ := got.MarshalBinary()
			if !bytes.Equal(b1, b2) {
				t.Fatal("re-encoding differs")
			}
			if got.Config() != m.Config() {
				t.Fatalf("config %+v, want %+v", got.Config(), m.Config())
			}
			if fmt.Sprint(got.Health()) != fmt.Sprint(m.Health()) { // NaN-safe deep comparison
				t.Fatalf("health %+v, want %+v", got.Health(), m.Health())
			}
			d := m.Config().Dim
			xs, ys := events(99, 5, d, 1)
			when := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
			for j, x := range xs {
				m1, v1 := m.Predict(x)
				m2, v2 := got.Predict(x)
				vm1, vv1 := m.PredictValue(x)
				vm2, vv2 := got.PredictValue(x)
				if math.Float64bits(m1) != math.Float64bits(m2) || math.Float64bits(v1) != math.Float64bits(v2) ||
					math.Float64bits(vm1) != math.Float64bits(vm2) || math.Float64bits(vv1) != math.Float64bits(vv2) {
					t.Fatalf("event %d: predictions differ after decode", j)
				}
				m.Update(x, ys[j], when)
				got.Update(x, ys[j], when)
				m.UpdateValue(x, 1)
				got.UpdateValue(x, 1)
			}
			b3, _ := m.MarshalBinary()
			b4, _ := got.MarshalBinary()
			if !bytes.Equal(b3, b4) {
				t.Fatal("original and decoded models diverge after further updates")
			}
		})
	}
}

func TestCodecRejects(t *testing.T) {
	m := codecModels(t)["full-value-forget"]
	good, _ := m.MarshalBinary()
	var dst Model
	// Every strict prefix is truncated.
	for n := range len(good) {
		if err := dst.UnmarshalBinary(good[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix of %d/%d bytes: err = %v, want ErrCorrupt", n, len(good), err)
		}
	}
	corrupt := func(off int, v byte) []byte {
		b := bytes.Clone(good)
		b[off] = v
		return b
	}
	withFloat := func(off int, f float64) []byte {
		b := bytes.Clone(good)
		copy(b[off:], appendFloat(nil, f))
		return b
	}
	const meanOff = headerSize
	precOff := headerSize + 8*3 // Full, dim 3: the first Cholesky entry L₀₀
	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"wrong version", corrupt(0, 2)},
		{"version zero", corrupt(0, 0)},
		{"bad form", corrupt(1, 9)},
		{"unknown flag", corrupt(2, 0x80)},
		{"bad unit", corrupt(3, 0)},
		{"dim zero", corrupt(4, 0)},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"NaN mean", withFloat(meanOff, math.NaN())},
		{"Inf mean", withFloat(meanOff, math.Inf(1))},
		{"negative Cholesky diagonal", withFloat(precOff, -1)},
		{"zero Cholesky diagonal", withFloat(precOff, 0)},
		{"NaN prior precision", withFloat(24, math.NaN())},
		{"pending decay 0", withFloat(88, 0)},
		{"pending decay 2", withFloat(88, 2)},
		{"negative evidence", withFloat(80, -1)},
		{"garbage", bytes.Repeat([]byte{0xA5}, 300)},
	}
	for _, tc := range tests {
		if err := dst.UnmarshalBinary(tc.data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", tc.name, err)
		}
	}
	// A failed decode leaves the receiver untouched.
	before, _ := m.MarshalBinary()
	_ = m.UnmarshalBinary(good[:10])
	after, _ := m.MarshalBinary()
	if !bytes.Equal(before, after) {
		t.Error("failed UnmarshalBinary modified the model")
	}
}

// TestFuzzCorpus writes the seed corpus with -update and otherwise checks
// that every corpus file decodes as fuzz input without panicking (the fuzz
// target itself runs them too).
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzUnmarshalModel")
	if !*update {
		t.Skip("run with -update to rewrite the seed corpus")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, m := range codecModels(t) {
		b, _ := m.MarshalBinary()
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzUnmarshalModel: UnmarshalBinary never panics, and whatever it accepts
// re-encodes to the same bytes and can be used.
func FuzzUnmarshalModel(f *testing.F) {
	for _, m := range codecModels(f) {
		b, _ := m.MarshalBinary()
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{codecVersion})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Model
		if err := m.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, data) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", data, b)
		}
		// The decoded model must be usable.
		d := m.Config().Dim
		x := randVector(rand.New(rand.NewPCG(1, 1)), min(d, 8), 1)
		m.Predict(x)
		m.Update(x, true, time.Time{})
		m.UpdateValue(x, 1)
		m.Forget(3, time.Unix(2e9, 0))
		m.Health()
	})
}
