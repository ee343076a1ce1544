package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// The benchmark workload follows issue 3's figures: 20 actions in the catalog, a context of
// 30 fields (12 numbers, 12 strings, 6 booleans), customers with a few profile attributes.
// docs/benchmarks.md records the results; the target for BenchmarkDecide is 50 us/op.
const (
	benchActions   = 20
	benchCustomers = 1000
	benchContexts  = 1024 // distinct contexts the decisions cycle through
)

// benchEngine is an engine with its committer running over a real Badger store in
// b.TempDir(), with the default options and the 20-action catalog.
func benchEngine(b *testing.B, mutate func(*store.Options)) *engine.Engine {
	b.Helper()
	return benchEngineIn(b, b.TempDir(), mutate)
}

// benchEngineIn is benchEngine with the store in dir.
func benchEngineIn(b testing.TB, dir string, mutate func(*store.Options)) *engine.Engine {
	b.Helper()
	eng, stop := startBenchEngine(b, dir, mutate)
	b.Cleanup(func() {
		if err := stop(); err != nil {
			b.Errorf("engine run: %v", err)
		}
	})
	return eng
}

// startBenchEngine starts the benchmark engine on a store in dir; stop stops it and
// closes the store. A store that holds the catalog already keeps it.
func startBenchEngine(b testing.TB, dir string, mutate func(*store.Options)) (eng *engine.Engine, stop func() error) {
	b.Helper()
	so := store.DefaultOptions(dir)
	if mutate != nil {
		mutate(&so)
	}
	st, err := store.Open(so)
	if err != nil {
		b.Fatal(err)
	}
	eng, err = engine.New(engine.DefaultOptions(), st, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := eng.Open(ctx); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	stop = func() error {
		cancel()
		err := <-done
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		return err
	}
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
	return eng, stop
}

// processCPU returns the CPU time this process has used, from /proc/self/stat (utime and
// stime, in 10 ms clock ticks); 0 where that file does not exist.
func processCPU() time.Duration {
	raw, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(raw), ") ") // the command name may hold spaces
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// reportCPU reports the process's CPU time per operation since start: the decision's own
// work plus what it costs in the background (the group commit, Badger's flushes and
// compactions). Unlike ns/op it does not grow when other processes compete for the CPUs.
func reportCPU(b *testing.B, start time.Duration) {
	if cpu := processCPU() - start; start > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	}
}

func benchCustomer(i int) engine.CustomerID { return engine.CustomerID(fmt.Sprintf("c%05d", i)) }

// benchRequests returns decide requests over random customers, each with a 30-field
// context as the HTTP layer decodes it (numbers are float64).
func benchRequests(seed uint64) []engine.DecideRequest {
	rng := rand.New(rand.NewPCG(seed, 3))
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	reqs := make([]engine.DecideRequest, benchContexts)
	for i := range reqs {
		ctx := make(map[string]any, 30)
		for j := range 12 {
			ctx[fmt.Sprintf("num_%02d", j+1)] = rng.NormFloat64() * 10
		}
		for j := range 12 {
			ctx[fmt.Sprintf("str_%02d", j+1)] = words[rng.IntN(len(words))]
		}
		for j := range 6 {
			ctx[fmt.Sprintf("flag_%02d", j+1)] = rng.IntN(2) == 0
		}
		reqs[i] = engine.DecideRequest{CustomerID: benchCustomer(rng.IntN(benchCustomers)), Channel: "web", Context: ctx}
	}
	return reqs
}

// BenchmarkDecide is one decision in process (no HTTP): profile read from Badger, 30-field
// context encoded, eligibility over 20 actions, Thompson sampling, selection probability,
// the decision record encoded and queued for the group commit (which runs concurrently).
func BenchmarkDecide(b *testing.B) {
	eng := benchEngine(b, nil)
	reqs := benchRequests(4)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	var cpu0 time.Duration
	for b.Loop() {
		if i == 0 {
			cpu0 = processCPU()
		}
		if _, err := eng.Decide(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportCPU(b, cpu0)
}

// BenchmarkDecideNetValue is BenchmarkDecide with outcome models on (issue 16): a churn
// objective, and a quarter of the 20 actions (5) priced like the demo's retention
// discounts (a cost and a contact cost as expressions over the profile and channel, the
// churn objective, so an uplift model each), which puts every decision in net-value mode
// (Gaussian Thompson sampling over all 20, each priced action's uplift posterior, the net
// selection probability).
func BenchmarkDecideNetValue(b *testing.B) {
	eng := benchEngine(b, nil)
	ctx := context.Background()
	benchChurnObjective(b, eng)
	reqs := benchRequests(4)
	b.ReportAllocs()
	i := 0
	var cpu0 time.Duration
	for b.Loop() {
		if i == 0 {
			cpu0 = processCPU()
		}
		if _, err := eng.Decide(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportCPU(b, cpu0)
}

// benchChurnObjective defines a churn objective on the benchmark engine and prices a
// quarter of its actions (5 of 20) like the demo's retention discounts: a cost and a
// contact cost as expressions, and the churn objective.
func benchChurnObjective(b *testing.B, eng *engine.Engine) {
	b.Helper()
	ctx := context.Background()
	if _, err := eng.PutObjective(ctx, engine.Objective{Outcome: engine.OutcomeChurn, Value: engine.Money{Expr: "-9 * (profile.monthly_spend ?? 0)"}, Horizon: engine.Duration(14 * 24 * time.Hour), BaseRate: 0.01}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < benchActions; i += 4 {
		id := engine.ActionID(fmt.Sprintf("offer-%02d", i))
		a, err := eng.Action(id)
		if err != nil {
			b.Fatal(err)
		}
		a.Cost = engine.Money{Expr: "0.2 * (profile.monthly_spend ?? 0) * 12"}
		a.ContactCost = engine.Money{Expr: `channel in ["email", "sms"] ? 1 : 0.1`}
		a.Objective = engine.OutcomeChurn
		if _, err := eng.PutAction(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecideParallel is BenchmarkDecide from GOMAXPROCS goroutines.
func BenchmarkDecideParallel(b *testing.B) {
	eng := benchEngine(b, nil)
	reqs := benchRequests(5)
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, err := eng.Decide(ctx, reqs[i%int64(len(reqs))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportCPU(b, cpu0)
}

// BenchmarkFeedback is durable feedback (journal fsync'd before the answer) from many
// concurrent clients, each event answering a different decision once: the group commit
// shares one fsync among all the events waiting. It reports events/s.
func BenchmarkFeedback(b *testing.B) {
	for _, bc := range []struct {
		name string
		sync bool
	}{{"sync", true}, {"nosync", false}} {
		b.Run(bc.name, func(b *testing.B) {
			eng := benchEngine(b, func(o *store.Options) { o.SyncWrites = bc.sync })
			reqs := benchRequests(6)
			ctx := context.Background()
			// One decision per event, made before the timer starts.
			fbs := make([]engine.FeedbackRequest, b.N)
			for i := range fbs {
				res, err := eng.Decide(ctx, reqs[i%len(reqs)])
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Actions) == 0 {
					b.Fatalf("decision %d returned no action: %s", i, res.Reason)
				}
				outcome := engine.Ignored
				if i%5 == 0 {
					outcome = engine.Accepted
				}
				fbs[i] = engine.FeedbackRequest{DecisionID: res.DecisionID, ActionID: res.Actions[0].ID, Outcome: outcome}
			}
			var next atomic.Int64
			b.SetParallelism(64) // 64 x GOMAXPROCS clients, as many HTTP clients would be
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					if _, err := eng.Feedback(ctx, fbs[i]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			reportCPU(b, cpu0)
		})
	}
}

// BenchmarkDecisionRecord writes and reads a decision record of the benchmark's shape (20
// candidates, 40 features): the binary record the log stores (engine.EncodeDecision), and
// for comparison the JSON the log stored before, with encoding/json and goccy/go-json.
func BenchmarkDecisionRecord(b *testing.B) {
	d := &engine.Decision{ID: "0123456789abcdef", CustomerID: "c00001", Channel: "web", Time: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), Arm: "nba", Source: "inbound", Context: []byte(`{"num_01":1.5,"str_01":"alpha"}`), Schema: "auto:0123456789ab", Candidates: []engine.Candidate{}}
	for i := range 40 {
		d.Features.Index = append(d.Features.Index, int32(i*7))
		d.Features.Value = append(d.Features.Value, float64(i)*0.37)
	}
	for i := range benchActions {
		d.Candidates = append(d.Candidates, engine.Candidate{ID: engine.ActionID(fmt.Sprintf("offer-%02d", i)), Rank: i + 1, Propensity: 0.1234567, Score: 0.2345678, Value: 65, Weight: 1, Priority: 12.345678, Probability: 0.01, ModelSeq: 12345})
	}
	d.Chosen = []engine.ActionID{"offer-00"}
	std, err := json.Marshal(d)
	if err != nil {
		b.Fatal(err)
	}
	fast, err := gojson.Marshal(d)
	if err != nil || string(fast) != string(std) {
		b.Fatalf("go-json wrote %d bytes unlike encoding/json's %d (err %v)", len(fast), len(std), err)
	}
	bin := engine.EncodeDecision(nil, d, nil)
	b.Logf("record sizes: JSON %d bytes, binary %d bytes", len(std), len(bin))
	b.Run("encode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(d)
		}
	})
	b.Run("encode/go-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = gojson.Marshal(d)
		}
	})
	b.Run("encode/binary", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf = engine.EncodeDecision(buf[:0], d, nil)
		}
	})
	b.Run("decode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var x engine.Decision
			_ = engine.DecodeDecision(std, d.ID, nil, &x)
		}
	})
	b.Run("decode/binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var x engine.Decision
			_ = engine.DecodeDecision(bin, d.ID, nil, &x)
		}
	})
}

// BenchmarkJournalRecords writes and reads the three records every feedback stores (an
// event with 40 features, its outcome state, a contact) in the binary forms the store
// writes (engine.EncodeEvent and the others) and, for comparison, the go-json the store
// wrote before them.
func BenchmarkJournalRecords(b *testing.B) {
	reward := 12.5
	ev := &engine.Event{Seq: 123456, Time: time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC), DecisionID: "0123456789abcdefaa", ActionID: "offer-07",
		CustomerID: "c00001", Outcome: engine.Accepted, Reward: &reward, Learned: true, RewardLearned: true}
	for i := range 40 {
		ev.Features.Index = append(ev.Features.Index, int32(i*7))
		ev.Features.Value = append(ev.Features.Value, float64(i)*0.37-1.2345678)
	}
	st := &engine.OutcomeState{Seq: 123456, Outcome: engine.Accepted, Rewarded: true}
	ct := &engine.ContactEvent{Customer: "c00001", Time: ev.Time, Channel: "web", Negative: true}
	bin := [][]byte{engine.EncodeEvent(nil, ev), engine.EncodeOutcomeState(nil, st), engine.EncodeContact(nil, ct)}
	var js [][]byte
	for _, v := range []any{ev, st, ct} {
		j, err := gojson.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		js = append(js, j)
	}
	b.Logf("record sizes (JSON -> binary): event %d -> %d, outcome state %d -> %d, contact %d -> %d bytes",
		len(js[0]), len(bin[0]), len(js[1]), len(bin[1]), len(js[2]), len(bin[2]))
	b.Run("encode/go-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = gojson.Marshal(ev)
			_, _ = gojson.Marshal(st)
			_, _ = gojson.Marshal(ct)
		}
	})
	b.Run("encode/binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = engine.EncodeEvent(nil, ev)
			_ = engine.EncodeOutcomeState(nil, st)
			_ = engine.EncodeContact(nil, ct)
		}
	})
	decodeAll := func(recs [][]byte) {
		var e engine.Event
		var o engine.OutcomeState
		var c engine.ContactEvent
		if engine.DecodeEvent(recs[0], &e) != nil || engine.DecodeOutcomeState(recs[1], &o) != nil || engine.DecodeContact(recs[2], &c) != nil {
			b.Fatal("decode failed")
		}
	}
	b.Run("decode/go-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeAll(js)
		}
	})
	b.Run("decode/binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeAll(bin)
		}
	})
}

// BenchmarkOutcomes is durable outcome recording (fsync'd before the answer) from many
// concurrent clients, each posting one churn outcome for a customer who was decided for
// first: the group commit shares its fsync, the experiment bookkeeping counts the
// outcome, and, where a churn objective is in use ("labels"), the outcome marks the
// open labels of the customer's decisions (a store read of the customer's labels, and a
// write of each one marked). It reports outcomes/s.
func BenchmarkOutcomes(b *testing.B) {
	for _, labels := range []bool{false, true} {
		name := "plain"
		if labels {
			name = "labels"
		}
		b.Run(name, func(b *testing.B) {
			eng := benchEngine(b, nil)
			ctx := context.Background()
			if labels {
				benchChurnObjective(b, eng)
			}
			reqs := benchRequests(7)
			for i := range benchCustomers {
				r := reqs[i%len(reqs)]
				r.CustomerID = benchCustomer(i)
				if _, err := eng.Decide(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			b.SetParallelism(64)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					o := engine.CustomerOutcome{Customer: benchCustomer(int(i) % benchCustomers), Type: engine.OutcomeChurn}
					if _, err := eng.RecordOutcomes(ctx, []engine.CustomerOutcome{o}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "outcomes/s")
			reportCPU(b, cpu0)
		})
	}
}
