package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// The two rules of issue 15 that an analyst key could store and that then exhausted the
// server's memory at the next decide or campaign run (and again after each restart): a let
// chain that doubles a 16-character string 40 times (16 TiB), and a reduce whose
// accumulator doubles at every element of an array in the request.
func doublingChain() string {
	var b strings.Builder
	b.WriteString(`let a = "xxxxxxxxxxxxxxxx"; let v1 = a+a; `)
	for i := 2; i <= 40; i++ {
		fmt.Fprintf(&b, "let v%d = v%d+v%d; ", i, i-1, i-1)
	}
	b.WriteString(`v40 != ""`)
	return b.String()
}

func doublingReduce(array string) string {
	return fmt.Sprintf(`reduce(%s, #acc + #acc, "ab") != ""`, array)
}

// manyXs is an array of 64 strings: 64 doublings of the reduce's accumulator.
func manyXs() []any {
	xs := make([]any, 64)
	for i := range xs {
		xs[i] = "x"
	}
	return xs
}

// ruleAnswerTime bounds how long a decide or a campaign run with a runaway rule may take:
// a bounded evaluation takes well under a millisecond (FuzzRuleBudget holds it to
// maxEvalTime); the margin is for the race detector on a busy 2-core machine.
const ruleAnswerTime = 5 * time.Second

// TestRunawayRulesAreBounded stores each runaway rule as an action's eligibility rule and
// as a campaign's segment, then decides and runs the campaign. Each rule is either refused
// when it is stored (422 invalid_expression) or stopped by the expression budget when it is
// evaluated: the decide answers with the rule's action filtered and the error in the
// decision log, the campaign run counts the customers as errors, and the process's memory
// stays within guardAllocLimit. On the old code, both were OOM-killed.
func TestRunawayRulesAreBounded(t *testing.T) {
	cases := []struct {
		name, decideRule, segment string
	}{
		{"let_chain", doublingChain(), doublingChain()},
		{"reduce", doublingReduce("context.xs"), doublingReduce("profile.xs")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			guarded(t, func(t *testing.T) {
				h := newHarness(t, t.TempDir(), nil)
				ctx := context.Background()
				h.putAction("plain")
				for i := range 3 {
					if _, err := h.eng.PutCustomer(ctx, engine.CustomerID(fmt.Sprintf("c%d", i)), map[string]any{"xs": manyXs()}); err != nil {
						t.Fatal(err)
					}
				}

				_, err := h.eng.PutAction(ctx, engine.Action{ID: "runaway", Value: 1, Enabled: true, Eligibility: c.decideRule})
				if err != nil {
					checkRefused(t, err)
				} else {
					start := time.Now()
					res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: "c0", Channel: "web", Context: map[string]any{"xs": manyXs()}})
					if err != nil {
						t.Fatalf("decide: %v", err)
					}
					if el := time.Since(start); el > ruleAnswerTime {
						t.Errorf("decide took %v", el)
					}
					d, err := h.eng.Decision(ctx, res.DecisionID)
					if err != nil {
						t.Fatal(err)
					}
					for _, cand := range d.Candidates {
						switch cand.ID {
						case "runaway":
							t.Logf("decide: the runaway rule's action is filtered: %s", cand.Detail)
							if cand.Filtered != "eligibility" || !strings.Contains(cand.Detail, "budget") {
								t.Errorf("the runaway rule's action: filtered %q, detail %q; want filtered by eligibility with the budget error", cand.Filtered, cand.Detail)
							}
						case "plain":
							if cand.Filtered != "" {
								t.Errorf("the plain action was filtered: %+v", cand)
							}
						}
					}
				}

				_, err = h.eng.PutCampaign(ctx, engine.Campaign{ID: "runaway", Segment: c.segment, Action: "plain", Channel: "email", Priority: 1, Enabled: true})
				if err != nil {
					checkRefused(t, err)
					return
				}
				start := time.Now()
				run, err := h.eng.RunCampaign(ctx, "runaway")
				if err != nil {
					t.Fatalf("campaign run: %v", err)
				}
				if el := time.Since(start); el > ruleAnswerTime {
					t.Errorf("campaign run took %v", el)
				}
				t.Logf("campaign run: %+v", run)
				if run.Contacted != 0 || run.Errors != 3 || !strings.Contains(run.LastError, "budget") {
					t.Errorf("campaign run %+v: want the 3 customers counted as errors, with the budget error", run)
				}
			})
		})
	}
}

// checkRefused fails t unless err is the 422 of a rule that does not compile.
func checkRefused(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, engine.ErrUnprocessable) || engine.ErrorCode(err) != "invalid_expression" {
		t.Fatalf("storing the rule: %v (code %q), want a 422 invalid_expression or success", err, engine.ErrorCode(err))
	}
	t.Logf("refused when stored: %v", err)
}

// TestStoredRuleNoLongerAccepted: rules that an older version accepted and stored (the
// runaway reduce as a rule and as a campaign segment, a rule reading the clock with now())
// must not stop the server from starting, nor crash it later. Open logs a warning
// that names each one; the action stays in the catalog and every decide filters it, with
// the reason in the decision log, until an analyst replaces the rule; the campaign's runs
// count its customers as errors.
func TestStoredRuleNoLongerAccepted(t *testing.T) {
	guarded(t, func(t *testing.T) {
		ctx := context.Background()
		dir := t.TempDir()
		st, err := store.Open(store.DefaultOptions(dir))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		// Written as the old version's PutAction and PutCampaign wrote them.
		old := []engine.Action{
			{ID: "plain", Value: 1, Lever: 1, Enabled: true},
			{ID: "runaway", Value: 1, Lever: 1, Enabled: true, Eligibility: doublingReduce("context.xs")},
			{ID: "clock", Value: 1, Lever: 1, Enabled: true, Eligibility: `now().Year() > 2000`},
		}
		for _, a := range old {
			if err := st.PutAction(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.PutCampaign(ctx, engine.Campaign{ID: "runaway", Segment: doublingReduce("profile.xs"), Action: "plain", Channel: "email", Priority: 1, Enabled: true}); err != nil {
			t.Fatal(err)
		}

		var logBuf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logBuf, nil))
		eng, err := engine.New(engine.DefaultOptions(), st, engine.NewManualClock(t0), log, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Open(ctx); err != nil {
			t.Fatalf("open with stored rules the new version refuses: %v", err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- eng.Run(runCtx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("engine run: %v", err)
			}
		}()
		for _, want := range []string{`action=runaway`, `action=clock`, `campaign=runaway`} {
			if !strings.Contains(logBuf.String(), want) {
				t.Errorf("the start-up log does not name %s:\n%s", want, logBuf.String())
			}
		}

		if _, err := eng.PutCustomer(ctx, "c0", map[string]any{"xs": manyXs()}); err != nil {
			t.Fatal(err)
		}
		res, err := eng.Decide(ctx, engine.DecideRequest{CustomerID: "c0", Channel: "web", Context: map[string]any{"xs": manyXs()}})
		if err != nil {
			t.Fatalf("decide: %v", err)
		}
		d, err := eng.Decision(ctx, res.DecisionID)
		if err != nil {
			t.Fatal(err)
		}
		for _, cand := range d.Candidates {
			want := ""
			if cand.ID != "plain" {
				want = "eligibility"
			}
			if cand.Filtered != want || want != "" && !strings.Contains(cand.Detail, "no longer accepted") {
				t.Errorf("candidate %s: filtered %q, detail %q; want filtered %q with the load error", cand.ID, cand.Filtered, cand.Detail, want)
			}
		}
		if len(res.Actions) != 1 || res.Actions[0].ID != "plain" {
			t.Errorf("decide answered %+v, want the plain action", res)
		}

		run, err := eng.RunCampaign(ctx, "runaway")
		if err != nil {
			t.Fatalf("campaign run: %v", err)
		}
		if run.Contacted != 0 || run.Errors != 1 || !strings.Contains(run.LastError, "no longer accepted") {
			t.Errorf("campaign run %+v: want its customer counted as an error, with the load error", run)
		}
	})
}
