package engine_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
)

func loadDecs(t *testing.T) []*engine.Decision {
	f, err := os.Open("/tmp/nb-dec.jsonl")
	if err != nil {
		t.Skip()
	}
	defer f.Close()
	var out []*engine.Decision
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d engine.Decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		json.Compact(&buf, d.Context)
		d.Context = buf.Bytes()
		out = append(out, &d)
	}
	return out
}

func TestZZProto(t *testing.T) {
	ds := loadDecs(t)
	strs, _ := engine.NewStrings(nil)
	tot := 0
	var recs [][]byte
	for _, d := range ds {
		recs = append(recs, engine.EncodeDecision(nil, d, strs))
	}
	start := time.Now()
	for _, d := range ds {
		r := engine.EncodeDecision(nil, d, strs)
		tot += len(r)
	}
	el := time.Since(start)
	start = time.Now()
	for i, r := range recs {
		var d engine.Decision
		if err := engine.DecodeDecision(r, ds[i].ID, strs, &d); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.Context, ds[i].Context) {
			t.Fatal("ctx")
		}
	}
	el2 := time.Since(start)
	fmt.Printf("V4 mean %.1f B, encode %.2f us, decode %.2f us, dict %d\n", float64(tot)/float64(len(ds)), float64(el.Microseconds())/float64(len(ds)), float64(el2.Microseconds())/float64(len(ds)), strs.Len())
}
