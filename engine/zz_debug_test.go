package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestZZBreakdown(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	strs, _ := NewStrings(nil)
	d := loadTestDecision(rng)
	EncodeDecision(nil, d, strs)
	full := len(EncodeDecision(nil, d, strs))
	ctx := len(appendContext(nil, d.Context, strs))
	feat := len(appendCompactFeatures(nil, d.Features))
	cands := len(appendCandidates(nil, d.Candidates, strs))
	fmt.Println("full", full, "ctx", ctx, "feat", feat, "cands", cands, "rest", full-ctx-feat-cands)
	c := appendContext(nil, d.Context, strs)
	fmt.Printf("%x\n", c)
}

func BenchmarkZZEncode(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	strs, _ := NewStrings(nil)
	d := loadTestDecision(rng)
	buf := EncodeDecision(nil, d, strs)
	b.Run("v4", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = EncodeDecision(buf[:0], d, strs)
		}
	})
	b.Run("v3", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = encodeV3(d)
		}
	})
	b.Run("ctx", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = appendContext(buf[:0], d.Context, strs)
		}
	})
	rec := EncodeDecision(nil, d, strs)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var x Decision
			DecodeDecision(rec, d.ID, strs, &x)
		}
	})
	v3 := encodeV3(d)
	b.Run("decodev3", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var x Decision
			DecodeDecision(v3, d.ID, strs, &x)
		}
	})
}
