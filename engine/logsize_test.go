package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// TestLogSize builds a decision log of the load test's shape and reports what it costs on
// disk (issue 17: at most 500 bytes a decision, measured on 1,000,000). It runs only when
// asked, because a million decisions take minutes:
//
//	NEXTBEST_LOG_DECISIONS=1000000 NEXTBEST_LOG_DIR=/tmp/nb-log \
//	  go test -run TestLogSize -v -timeout 60m ./engine/
//	go run ./cmd/nextbest du --data /tmp/nb-log
//
// The workload is the load test's (cmd/nextbest loadtest.go, decideBodies): 20 actions,
// 1,000 customers, decide requests with a 30-field context (12 numbers with two decimals,
// 12 words, 6 booleans) logged as sent, from two goroutines, and feedback on every tenth
// decision (one in five accepted), so that the models learn and the logged model
// sequences and propensities move as they do in service. NEXTBEST_LOG_VALUE_THRESHOLD sets
// store.value_threshold (bytes) for a comparison. The store is written without fsync:
// the bytes are the same.
func TestLogSize(t *testing.T) {
	raw := os.Getenv("NEXTBEST_LOG_DECISIONS")
	if raw == "" {
		t.Skip("set NEXTBEST_LOG_DECISIONS (e.g. 1000000) to build a decision log and measure it")
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		t.Fatalf("NEXTBEST_LOG_DECISIONS=%q: want a positive number", raw)
	}
	dir := os.Getenv("NEXTBEST_LOG_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		t.Fatalf("NEXTBEST_LOG_DIR=%s is not empty", dir)
	}
	mutate := func(o *store.Options) { o.SyncWrites = false }
	if s := os.Getenv("NEXTBEST_LOG_VALUE_THRESHOLD"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 1 {
			t.Fatalf("NEXTBEST_LOG_VALUE_THRESHOLD=%q: want bytes", s)
		}
		mutate = func(o *store.Options) { o.SyncWrites, o.ValueThreshold = false, v }
	}
	eng, stop := startBenchEngine(t, dir, mutate)
	reqs := logSizeRequests(rand.New(rand.NewPCG(17, 1)))
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	began, cpu0 := time.Now(), processCPU()
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				res, err := eng.Decide(ctx, reqs[i%int64(len(reqs))])
				if err != nil {
					errs <- err
					return
				}
				if i%10 == 0 && len(res.Actions) > 0 {
					outcome := engine.Ignored
					if rng.IntN(5) == 0 {
						outcome = engine.Accepted
					}
					if _, err := eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: res.DecisionID, ActionID: res.Actions[0].ID, Outcome: outcome}); err != nil {
						errs <- err
						return
					}
				}
				if (i+1)%100_000 == 0 {
					fmt.Printf("logged %d of %d decisions, %.0f/s\n", i+1, n, float64(i+1)/time.Since(began).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	elapsed, cpu := time.Since(began), processCPU()-cpu0
	t.Logf("%d decisions in %v: %.0f/s, %.1f µs of CPU each (decide, feedback, commits, compactions)",
		n, elapsed.Round(time.Second), float64(n)/elapsed.Seconds(), float64(cpu.Microseconds())/float64(n))

	so := store.DefaultOptions(dir)
	mutate(&so)
	st, err := store.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	usage, err := st.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, u := range usage {
		if u.Table == "v1/decision/" {
			t.Logf("decision table: %d entries; key %.1f B, inline value %.1f B, value log %.1f B an entry (%d in the value log)",
				u.Entries, float64(u.KeyBytes)/float64(u.Entries), float64(u.InlineBytes)/float64(u.Entries),
				float64(u.ValueLogSize)/float64(u.Entries), u.ValueLogged)
		}
	}
	files := map[string][2]int64{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		blocks := info.Size()
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			blocks = st.Blocks * 512
		}
		f := files[filepath.Ext(path)]
		files[filepath.Ext(path)] = [2]int64{f[0] + info.Size(), f[1] + blocks}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var total [2]int64
	for ext, f := range files {
		t.Logf("%-6s files: %8.1f MB (%.1f MB allocated), %6.1f B a decision", ext, float64(f[0])/(1<<20), float64(f[1])/(1<<20), float64(f[0])/float64(n))
		total[0], total[1] = total[0]+f[0], total[1]+f[1]
	}
	t.Logf("all files: %.1f MB (%.1f MB allocated), %.1f B a decision (%.1f allocated): decisions, the journal of their feedback, models",
		float64(total[0])/(1<<20), float64(total[1])/(1<<20), float64(total[0])/float64(n), float64(total[1])/float64(n))
}

// logSizeRequests returns 4,096 decide requests over the benchmark's customers, with a
// context of the load test's shape (loadtest.go, decideBodies) and its bytes as sent.
func logSizeRequests(rng *rand.Rand) []engine.DecideRequest {
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	reqs := make([]engine.DecideRequest, 4096)
	for i := range reqs {
		ctx := make(map[string]any, 30)
		for j := range 12 {
			ctx[fmt.Sprintf("num_%02d", j+1)] = math.Round(rng.NormFloat64()*1000+float64(j)*10) / 100
		}
		for j := range 12 {
			ctx[fmt.Sprintf("str_%02d", j+1)] = words[rng.IntN(len(words))]
		}
		for j := range 6 {
			ctx[fmt.Sprintf("flag_%02d", j+1)] = rng.IntN(2) == 0
		}
		raw, _ := json.Marshal(ctx) // numbers, strings and booleans always encode
		reqs[i] = engine.DecideRequest{CustomerID: benchCustomer(rng.IntN(benchCustomers)), Channel: "web", Context: ctx, RawContext: raw}
	}
	return reqs
}
