package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/store"
)

// Store benchmarks on a real Badger store in b.TempDir() with the default options (sync
// writes on). docs/benchmarks.md records the results.

func benchStore(b *testing.B, mutate func(*store.Options)) *store.Store {
	b.Helper()
	o := store.DefaultOptions(b.TempDir())
	if mutate != nil {
		mutate(&o)
	}
	s, err := store.Open(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

var benchT0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

// benchDecision is a decision as the engine logs it: 20 candidates, a 30-field context, a
// sparse feature vector of 36 entries, encoded once.
func benchDecision(rng *rand.Rand, i int, strs *engine.Strings) *engine.Decision {
	t := benchT0.Add(time.Duration(i) * time.Millisecond)
	ctx := map[string]any{}
	for j := range 12 {
		ctx[fmt.Sprintf("num_%02d", j)] = rng.NormFloat64()
		ctx[fmt.Sprintf("str_%02d", j)] = "charlie"
	}
	for j := range 6 {
		ctx[fmt.Sprintf("flag_%02d", j)] = true
	}
	rawCtx, _ := json.Marshal(ctx)
	var x features.Vector
	for j := range 36 {
		x.Index = append(x.Index, int32(j*100))
		x.Value = append(x.Value, rng.Float64())
	}
	d := &engine.Decision{
		ID: engine.NewDecisionID(t, rng), CustomerID: engine.CustomerID(fmt.Sprintf("c%05d", rng.IntN(1000))),
		Channel: "web", Time: t, Arm: "nba", Source: "inbound", Context: rawCtx, Schema: "auto", Features: x,
		Deadline: t.Add(30 * time.Minute),
	}
	for j := range 20 {
		d.Candidates = append(d.Candidates, engine.Candidate{ID: engine.ActionID(fmt.Sprintf("offer-%02d", j)), Rank: j + 1,
			Propensity: rng.Float64(), Score: rng.Float64(), Value: 100, Weight: 1, Priority: rng.Float64() * 100, ModelSeq: uint64(i)})
	}
	d.Chosen = []engine.ActionID{d.Candidates[0].ID}
	d.Encoded = engine.EncodeDecision(nil, d, strs) // the binary record, as logDecision makes it
	return d
}

// benchEvent is a feedback event on d, as the committer writes it.
func benchEvent(d *engine.Decision, seq uint64) engine.EventWrite {
	ev := &engine.Event{Seq: seq, Time: d.Time.Add(time.Minute), DecisionID: d.ID, ActionID: d.Chosen[0], CustomerID: d.CustomerID,
		Outcome: engine.Accepted, Learned: true, Features: d.Features}
	return engine.EventWrite{Event: ev, Outcome: engine.OutcomeState{Seq: seq, Outcome: engine.Accepted},
		Resolve: &engine.PendingKey{Deadline: d.Deadline, Decision: d.ID, Action: d.Chosen[0]}}
}

// benchLog logs n decisions in batches of 500, every other one answered, and returns
// their IDs.
func benchLog(b *testing.B, s *store.Store, rng *rand.Rand, n int) []engine.DecisionID {
	b.Helper()
	ids := make([]engine.DecisionID, n)
	for start := 0; start < n; start += 500 {
		bt := &engine.Batch{}
		for i := start; i < min(start+500, n); i++ {
			d := benchDecision(rng, i, s.DecisionStrings())
			ids[i] = d.ID
			bt.Decisions = append(bt.Decisions, d)
			if i%2 == 0 {
				bt.Events = append(bt.Events, benchEvent(d, uint64(i+1)))
			}
		}
		if err := s.Commit(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

// BenchmarkStoreCommit is one durable group commit of n decisions and n feedback events
// (the committer's batches range from 1 to engine.Options.MaxBatch, 1024).
func BenchmarkStoreCommit(b *testing.B) {
	for _, n := range []int{1, 16, 128, 512} {
		for _, sync := range []bool{true, false} {
			b.Run(fmt.Sprintf("batch=%d/sync=%t", n, sync), func(b *testing.B) {
				s := benchStore(b, func(o *store.Options) { o.SyncWrites = sync })
				rng := rand.New(rand.NewPCG(1, 2))
				// Pre-built batches, reused round-robin: keys repeat after a while,
				// which Badger handles as updates, as it would retries.
				const pool = 64
				batches := make([]*engine.Batch, pool)
				var bytes int64
				seq := uint64(1)
				for p := range batches {
					bt := &engine.Batch{}
					for i := range n {
						d := benchDecision(rng, p*n+i, s.DecisionStrings())
						bt.Decisions = append(bt.Decisions, d)
						ev := benchEvent(d, seq)
						bt.Events = append(bt.Events, ev)
						seq++
						if p == 0 {
							bytes += int64(len(d.Encoded) + len(engine.EncodeEvent(nil, ev.Event)))
						}
					}
					batches[p] = bt
				}
				ctx := context.Background()
				b.SetBytes(bytes)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if err := s.Commit(ctx, batches[i%pool]); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(i*n)/b.Elapsed().Seconds(), "decisions+events/s")
			})
		}
	}
}

// BenchmarkStoreGetDecision reads random logged decisions with their outcomes: what
// feedback does for a decision that has left the engine's in-memory cache.
func BenchmarkStoreGetDecision(b *testing.B) {
	s := benchStore(b, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 10000
	ids := benchLog(b, s, rng, n)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Decision(ctx, ids[rng.IntN(n)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkStoreCustomer reads customer profiles, the one store read on the decide path.
// "idle" reads from a quiet store; "commits" reads while another goroutine runs durable
// group commits back to back, as the engine's committer does under load. Badger starts
// every read transaction by waiting until all commits in flight are done
// (oracle.readTs waits on txnMark), and with sync writes a commit is done only after its
// fsync: the difference between the two is that wait.
func BenchmarkStoreCustomer(b *testing.B) {
	for _, mode := range []string{"idle", "commits"} {
		b.Run(mode, func(b *testing.B) {
			s := benchStore(b, nil)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(5, 6))
			const n = 1000
			for i := range n {
				c := engine.Customer{ID: engine.CustomerID(fmt.Sprintf("c%05d", i)), Updated: benchT0, Attributes: map[string]any{
					"tenure_months": float64(rng.IntN(120)), "monthly_spend": rng.Float64() * 80, "plan": "basic", "segment": "family", "has_device_plan": true,
				}}
				if err := s.PutCustomer(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			var stop atomic.Bool
			var wg sync.WaitGroup
			if mode == "commits" {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(7, 8))
					for i := 0; !stop.Load(); i++ {
						d := benchDecision(r, i, s.DecisionStrings())
						if err := s.Commit(ctx, &engine.Batch{Decisions: []*engine.Decision{d}, Events: []engine.EventWrite{benchEvent(d, uint64(i+1))}}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Customer(ctx, engine.CustomerID(fmt.Sprintf("c%05d", rng.IntN(n)))); err != nil {
					b.Fatal(err)
				}
			}
			stop.Store(true)
			wg.Wait()
		})
	}
}

// BenchmarkStoreDecisions streams the decision log with its outcomes (GET /v1/decisions,
// the off-policy evaluation's read): 10,000 decisions, every other one answered. One op
// streams them all; ns/decision and allocs/decision are per decision.
func BenchmarkStoreDecisions(b *testing.B) {
	s := benchStore(b, nil)
	const n = 10000
	benchLog(b, s, rand.New(rand.NewPCG(5, 6)), n)
	ctx := context.Background()
	var allocs0, allocs1 runtime.MemStats
	runtime.ReadMemStats(&allocs0)
	for b.Loop() {
		seen, outcomes := 0, 0
		err := s.Decisions(ctx, time.Time{}, func(d *engine.Decision) error {
			seen++
			outcomes += len(d.Outcomes)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if seen != n || outcomes != n/2 {
			b.Fatalf("streamed %d decisions with %d outcomes, want %d and %d", seen, outcomes, n, n/2)
		}
	}
	runtime.ReadMemStats(&allocs1)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/decision")
	b.ReportMetric(float64(allocs1.Mallocs-allocs0.Mallocs)/float64(b.N*n), "allocs/decision")
}
