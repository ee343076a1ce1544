package features

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"
	"fmt"
)

func TestZZHang(t *testing.T) {
	if os.Getenv("HANG") == "" { t.Skip() }
	var seeds [][]byte
	for _, n := range []string{"testdata/bank.yaml", "testdata/bench.yaml"} { b, _ := os.ReadFile(n); seeds = append(seeds, b) }
	seeds = append(seeds, []byte(yamlSchema), []byte(jsonSchema))
	rng := rand.New(rand.NewPCG(1, 2))
	for it := 0; it < 200000; it++ {
		b := append([]byte{}, seeds[rng.IntN(len(seeds))]...)
		for k := 0; k < 1+rng.IntN(6); k++ {
			if len(b) == 0 { break }
			i := rng.IntN(len(b))
			switch rng.IntN(5) {
			case 0: b[i] = byte(rng.IntN(256))
			case 1: b = append(b[:i], b[i+1:]...)
			case 2: b = append(b[:i], append([]byte{byte(rng.IntN(128))}, b[i:]...)...)
			case 3: j := rng.IntN(len(b)); if j > i { b = append(b[:i], append(append([]byte{}, b[i:j]...), b[i:]...)...) }
			case 4: p := "{}[]:,-\n \"'&*!|>#"; b[i] = p[rng.IntN(len(p))]
			}
		}
		start := time.Now()
		s, err := ParseSchema(b)
		if err == nil {
			e, err := NewEncoder(s)
			if err != nil { t.Fatal(err) }
			var v Vector
			e.Encode(nil, nil, &v)
			st, _ := e.MarshalBinary()
			e.UnmarshalBinary(st)
			for i := 0; i < min(e.Dim(), 1<<12); i++ { e.FeatureName(i) }
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			os.WriteFile(fmt.Sprintf("/tmp/slow%d", it), b, 0644)
			t.Logf("iteration %d took %v (len %d)", it, d, len(b))
		}
	}
}
