package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

func TestProbeDecide(t *testing.T) {
	b := &testing.B{}
	_ = b
	for _, sync := range []bool{false, true} {
		eng := benchEngineT(t, func(o *store.Options) { o.SyncWrites = sync })
		reqs := benchRequests(4)
		ctx := context.Background()
		var lats []time.Duration
		start := time.Now()
		for i := range 3000 {
			t0 := time.Now()
			if _, err := eng.Decide(ctx, reqs[i%len(reqs)]); err != nil {
				t.Fatal(err)
			}
			lats = append(lats, time.Since(t0))
		}
		el := time.Since(start)
		slices.Sort(lats)
		t.Logf("sync=%v total %v per op %v p10 %v p50 %v p90 %v p99 %v max %v", sync, el, el/3000, lats[300], lats[1500], lats[2700], lats[2970], lats[2999])
	}
}
func benchEngineT(b *testing.T, mutate func(*store.Options)) *engine.Engine {
	b.Helper()
	so := store.DefaultOptions(b.TempDir())
	if mutate != nil {
		mutate(&so)
	}
	st, err := store.Open(so)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := engine.New(engine.DefaultOptions(), st, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := eng.Open(ctx); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("engine run: %v", err)
		}
		st.Close()
	})
	rules := []string{"(profile.tenure_months ?? 0) >= 3", "(context.num_01 ?? 0) > -100", `(profile.plan ?? "") != "prepaid"`}
	for i := range benchActions {
		a := engine.Action{ID: engine.ActionID(fmt.Sprintf("offer-%02d", i)), Issue: "sales", Value: float64(50 + 15*i), Lever: 1, Enabled: true}
		if i%3 == 0 {
			a.Eligibility = rules[(i/3)%len(rules)]
		}
		if _, err := eng.PutAction(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range benchCustomers {
		attrs := map[string]any{
			"tenure_months":   float64(rng.IntN(120)),
			"monthly_spend":   rng.Float64() * 80,
			"plan":            []string{"prepaid", "basic", "plus", "premium"}[rng.IntN(4)],
			"segment":         []string{"student", "family", "business", "senior"}[rng.IntN(4)],
			"has_device_plan": rng.IntN(2) == 0,
		}
		if _, err := eng.PutCustomer(ctx, benchCustomer(i), attrs); err != nil {
			b.Fatal(err)
		}
	}
	return eng
}
