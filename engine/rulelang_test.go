package engine

import (
	"errors"
	"fmt"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"
)

// WatchAllocations calls over (from another goroutine) as soon as the process has
// allocated limit bytes more than when the watch began, with the bytes allocated; stop
// ends the watch. It polls every millisecond: a string that doubles takes longer than
// that to copy once it is large, so it is seen before it reaches about twice the limit.
// Tests use it to stop a runaway evaluation, which nothing else can stop, before it takes
// the machine's memory.
func WatchAllocations(limit uint64, over func(allocated uint64)) (stop func()) {
	base := allocatedBytes()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if got := allocatedBytes() - base; got > limit {
				over(got)
				return
			}
		}
	}()
	return func() { close(done) }
}

// allocatedBytes is what the process has allocated on the heap since it started.
func allocatedBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// budgetEnv is an Env with inputs as large as a request may carry in one field by the
// default limits (limits.max_string_length: strings of 1,024 bytes, arrays of 1,024
// elements), so that a rule has much to scan, copy and loop over.
func budgetEnv() *Env {
	long := strings.Repeat("abcdefghijklmnop", 64) // 1,024 bytes
	xs := make([]any, 1024)
	nums := make([]any, 1024)
	rows := make([]any, 32)
	for i := range xs {
		xs[i] = fmt.Sprintf("%s%04d", long[:1000], i)
		nums[i] = float64(i)
	}
	for i := range rows {
		row := make([]any, 1024)
		for j := range row {
			row[j] = long[:16]
		}
		rows[i] = row
	}
	fields := map[string]any{}
	for i := range 200 {
		fields[fmt.Sprintf("f%03d", i)] = long
	}
	return &Env{
		Profile: map[string]any{"tenure": 14.0, "plan": "small", "tags": []any{"vip", "5g"}, "bio": long, "fields": fields},
		Context: map[string]any{"xs": xs, "ys": xs[:1023:1023], "nums": nums, "rows": rows, "big": long, "big2": long[:1023] + "z", "n": 3.0},
		Channel: "web", Customer: "c1",
	}
}

// The bounds FuzzRuleBudget holds every evaluation to. A rule within its budget reads or
// builds about 1 MiB (exprBudget units of exprUnitBytes) and its interpreter allocates a
// few words per step; the time is a bound that a runaway evaluation (seconds, or memory
// exhaustion, before the budget) cannot meet and a bounded one (at most a few
// milliseconds: TestRuleBudgetWorstCases) meets with room for the race detector and a
// busy machine.
const (
	maxEvalBytes = 16 << 20
	maxEvalTime  = 500 * time.Millisecond
)

// evalMeasured evaluates x against env and returns what it allocated and how long it took,
// with a watchdog that panics (failing the test binary rather than taking the machine's
// memory) if the evaluation runs away, as rules did before the budget.
func evalMeasured(x *Expression, env *Env) (ok bool, err error, allocated uint64, took time.Duration) {
	stop := WatchAllocations(256<<20, func(got uint64) {
		panic(fmt.Sprintf("evaluating %.200q allocated %d MB and goes on: no budget stops it", x.src, got>>20))
	})
	defer stop()
	var machine vm.VM
	before := allocatedBytes()
	start := time.Now()
	ok, err = x.Eval(&machine, env)
	took = time.Since(start)
	return ok, err, allocatedBytes() - before, took
}

// FuzzRuleBudget compiles rules and evaluates each one that compiles against budgetEnv; it
// fails if an evaluation allocates more than maxEvalBytes or takes longer than
// maxEvalTime. The seeds (below, and testdata/fuzz/FuzzRuleBudget) hold the two rules of
// issue 15 that exhausted the server's memory and the most expensive rules we could write
// against each part of the budget.
func FuzzRuleBudget(f *testing.F) {
	for _, r := range budgetRules {
		f.Add(r.src)
	}
	env := budgetEnv()
	f.Fuzz(func(t *testing.T, src string) {
		x, err := CompileExpression("rule", src)
		if err != nil {
			return
		}
		_, evalErr, allocated, took := evalMeasured(x, env)
		if allocated > maxEvalBytes || took > maxEvalTime {
			t.Fatalf("%.200q: allocated %d bytes in %v (at most %d bytes, %v); error %v", src, allocated, took, maxEvalBytes, maxEvalTime, evalErr)
		}
	})
}

// budgetRules are rules that try to spend much: the two of issue 15, and for each part of
// the budget the costliest rule we could write against budgetEnv. Each one is refused when
// compiled, stopped by the budget (over), or runs within it. The loops are sums, which run
// over every element (count(...) > 0 stops at the first match).
var budgetRules = []struct {
	src  string
	over bool
}{
	// Issue 15: a let chain that doubles a string, and a reduce whose accumulator doubles.
	{`let a = "xxxxxxxxxxxxxxxx"; let v1 = a+a; let v2 = v1+v1; let v3 = v2+v2; let v4 = v3+v3; let v5 = v4+v4; let v6 = v5+v5; let v7 = v6+v6; let v8 = v7+v7; let v9 = v8+v8; let v10 = v9+v9; let v11 = v10+v10; let v12 = v11+v11; let v13 = v12+v12; let v14 = v13+v13; let v15 = v14+v14; let v16 = v15+v15; let v17 = v16+v16; let v18 = v17+v17; let v19 = v18+v18; let v20 = v19+v19; let v21 = v20+v20; let v22 = v21+v21; let v23 = v22+v22; let v24 = v23+v23; let v25 = v24+v24; let v26 = v25+v25; let v27 = v26+v26; let v28 = v27+v27; let v29 = v28+v28; let v30 = v29+v29; let v31 = v30+v30; let v32 = v31+v31; let v33 = v32+v32; let v34 = v33+v33; let v35 = v34+v34; let v36 = v35+v35; let v37 = v36+v36; let v38 = v37+v37; let v39 = v38+v38; let v40 = v39+v39; v40 != ""`, true},
	{`reduce(context.xs, #acc + #acc, "ab") != ""`, false},
	// Strings: concatenation of the longest inputs, in a loop.
	{`sum(context.xs, (# + # + # + # + # + # + # + # + context.big + context.big == "") ? 1 : 0) >= 0`, true},
	{`let b = context.big + context.big + context.big + context.big; let c = b + b + b; c != "" && sum(context.xs, (c + # != "") ? 1 : 0) >= 0`, true},
	// Loops: one per element of the largest arrays, bodies as large as a rule allows.
	{`sum(context.xs, (# != "a" && # != "b" && # != "c" && # != "d" && # != "e" && # != "f") ? 1 : 0) >= 0 && sum(context.nums, # > 1 && # < 5 || # > 7 && # < 1000 ? 1 : 0) >= 0`, false},
	{`sum(context.xs, (# == "a" || # == "b" || # == "c" || # == "d" || # == "e" || # == "f" || # == "g" || # == "h" || # == "i" || # == "j" || # == "k" || # == "l" || # == "m" || # == "n" || # == "o" || # == "p" || # == "q") ? 1 : 0) >= 0`, true},
	{`sum(context.nums) + sum(context.nums) + sum(context.nums, # * 2) > 0 && max(context.nums) > 0 && min(context.nums) >= 0`, false},
	// Scans: the longest inputs, again and again, in loops.
	{`sum(context.xs, (# in context.xs) ? 1 : 0) >= 0`, true},
	{`sum(context.xs, (# in context.ys) ? 1 : 0) >= 0`, true},
	{`sum(context.xs, (context.xs == context.ys) ? 1 : 0) >= 0`, true},
	{`sum(context.rows, (context.rows == context.rows) ? 1 : 0) >= 0`, true},
	{`sum(context.xs, (context.big contains #) ? 1 : 0) >= 0`, true},
	{`sum(context.xs, (lower(context.big) == upper(#)) ? 1 : 0) >= 0`, true},
	{`sum(context.xs, (context.big matches "(a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p)+z$") ? 1 : 0) >= 0`, true},
	{`sum(context.xs, (# matches "^(.*a.*b.*c.*d)*$") ? 1 : 0) >= 0`, true},
	{`sum(context.xs, (indexOf(context.big, #) >= 0 || hasPrefix(#, context.big) || trim(#) == trim(context.big)) ? 1 : 0) >= 0`, true},
	{`sum(context.xs, (profile.fields == profile.fields || context[#] != nil || get(context, #) != nil) ? 1 : 0) >= 0`, true},
	{`sum(context.xs, (context.big < context.big2 && context.big2 > #) ? 1 : 0) >= 0`, true},
	{`filter(context.xs, true) == filter(context.ys, true) && len(filter(context.rows, true)) > 0`, true},
	// What rules may not say.
	{`now() > date("2020-01-01")`, false},
	{`len(map(context.xs, context)) > 0`, false},
	{`1 in 1..1000000000`, false},
}

func TestRuleLanguage(t *testing.T) {
	env := &Env{Profile: map[string]any{"tenure": 14.0, "tags": []any{"vip", "5g"}, "plan": "small", "first": "Ada", "last": "Lovelace"},
		Context: map[string]any{"intent": "cancel", "items": []any{map[string]any{"sku": "a1", "price": 12.0}, map[string]any{"sku": "b2", "price": 30.0}}},
		Channel: "web", Customer: "c1"}
	allowed := []struct {
		src  string
		want bool
	}{
		{`let name = profile.first + " " + profile.last; name == "Ada Lovelace"`, true},
		{`count(context.items, #.price > 20) == 1`, true},
		{`sum(context.items, #.price) == 42`, true},
		{`any(context.items, .sku == "b2")`, true},
		{`find(context.items, #.price > 20).sku == "b2"`, true},
		{`len(filter(context.items, #.price < 20)) == 1`, true},
		{`findIndex(context.items, #.sku == "b2") == 1 && findLast(context.items, true).sku == "b2"`, true},
		{`all(profile.tags, len(#) <= 3) && none(profile.tags, # == "x") && one(profile.tags, # == "vip")`, true},
		{`lower("VIP") in profile.tags && upper(profile.plan) == "SMALL"`, true},
		{`trim(" a ") == "a" && hasPrefix(profile.plan, "sm") && indexOf(profile.plan, "all") == 2`, true},
		{`max(profile.tenure, 3) == 14 && min(1, 2) == 1 && abs(-2) == 2 && round(2.4) == 2`, true},
		{`first(profile.tags) == "vip" && last(profile.tags) == "5g" && get(profile.tags, 5) == nil`, true},
		{`profile.plan matches "^sm" && profile.plan startsWith "s" && "5g" in profile.tags`, true},
		{`context?.missing?.deep ?? true`, true},
		{`type(profile.tenure) == "float" && (profile.tenure > 12 ? true : false)`, true},
		{`profile.tags[0] == "vip" && profile["plan"] == "small"`, true},
		{`channel not in ["app", "sms"] && customer_id != ""`, true},
		{`(profile.tenure ?? 0) + (profile.bonus ?? 0) > 12`, true},
	}
	var machine vm.VM
	for _, c := range allowed {
		x, err := CompileExpression("rule", c.src)
		if err != nil {
			t.Errorf("%s: refused: %v", c.src, err)
			continue
		}
		got, err := x.Eval(&machine, env)
		if err != nil || got != c.want {
			t.Errorf("%s = %v, %v; want %v", c.src, got, err, c.want)
		}
	}

	refused := []struct{ src, why string }{
		{`now().Year() > 2000`, "function now is not allowed"},
		{`date("2024-01-01") > date("2023-01-01")`, "function date is not allowed"},
		{`duration("1h") > duration("1m")`, "function duration is not allowed"},
		{`repeat("x", 1000000000) == ""`, "function repeat is not allowed"},
		{`string(profile.tags) != ""`, "function string is not allowed"},
		{`int(profile.tenure) > 3`, "function int is not allowed"},
		{`join(profile.tags, ",") != ""`, "function join is not allowed"},
		{`len(split(profile.plan, "")) > 0`, "function split is not allowed"},
		{`toJSON(profile) != ""`, "function toJSON is not allowed"},
		{`len(map(profile.tags, #)) > 0`, "function map is not allowed"},
		{`len(concat(profile.tags, profile.tags)) > 0`, "function concat is not allowed"},
		{`len(keys(profile)) > 0`, "function keys is not allowed"},
		{`reduce(profile.tags, #acc + #, "") != ""`, "#acc is not allowed"},
		{`5 in 1..1000000000`, "ranges"},
		{`any(profile.tags, all(profile.tags, # == "x"))`, "predicate inside another predicate"},
		{`$env.profile != nil`, "unknown name $env"},
		{`spent > 0`, "unknown name spent"},
		{`profile.plan.Len() > 0`, "method calls"},
		{`profile.plan[0:2] == "sm"`, "slices"},
		{`{"a": 1}.a == 1`, "map literals"},
		{`profile.plan in [profile.plan, "x"]`, "must be literals"},
		{`profile.plan matches profile.plan`, "pattern of matches must be a string literal"},
		{`profile.plan matches "` + strings.Repeat("(a|b)", 600) + `"`, "too complex"},
		{`profile.tenure >`, "unexpected token"},
		{"1 + 2", "expected bool"},
		{`"a" + 1 == "a1"`, "mismatched types string and int"},
	}
	for _, c := range refused {
		_, err := CompileExpression("rule", c.src)
		if err == nil || !errors.Is(err, ErrUnprocessable) || ErrorCode(err) != "invalid_expression" || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%.80s: %v; want a 422 invalid_expression saying %q", c.src, err, c.why)
		}
	}
}

// TestRuleBudgetWorstCases evaluates the budget seeds that compile against budgetEnv: each
// stays within maxEvalBytes and maxEvalTime (as the fuzz target requires), and those
// written to exceed the budget are stopped by it with an explained error. It logs what
// each one costs, the numbers docs/security.md quotes.
func TestRuleBudgetWorstCases(t *testing.T) {
	env := budgetEnv()
	for _, r := range budgetRules {
		x, err := CompileExpression("rule", r.src)
		if err != nil {
			if r.over {
				t.Errorf("%.70s: refused (%v), want it compiled and stopped by the budget", r.src, err)
			}
			t.Logf("refused: %.70s: %s", r.src, firstLine(err))
			continue
		}
		_, evalErr, allocated, took := evalMeasured(x, env)
		if allocated > maxEvalBytes || took > maxEvalTime {
			t.Errorf("%.70s: allocated %d bytes in %v (at most %d bytes, %v)", r.src, allocated, took, maxEvalBytes, maxEvalTime)
		}
		if over := evalErr != nil && strings.Contains(evalErr.Error(), "budget"); over != r.over || evalErr != nil && !over {
			t.Errorf("%.70s: error %v, want stopped by the budget: %v", r.src, evalErr, r.over)
		}
		t.Logf("%6d KiB %8v spent %5d: %.70s", allocated>>10, took.Round(time.Microsecond), env.spent, r.src)
	}
}
