package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// harness is an engine over a real Badger store in a temp dir, with a manual clock.
type harness struct {
	t     *testing.T
	st    *store.Store
	es    engine.Store // what the engine uses: st, or st wrapped by a test
	eng   *engine.Engine
	clock *engine.ManualClock
	stop  func()
}

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, dir string, mutate func(*engine.Options)) *harness {
	t.Helper()
	return newHarnessOn(t, dir, mutate, nil)
}

// newHarnessOn is newHarness with the engine on wrap(store) when wrap is not nil.
func newHarnessOn(t *testing.T, dir string, mutate func(*engine.Options), wrap func(*store.Store) engine.Store) *harness {
	t.Helper()
	st, err := store.Open(store.DefaultOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, es: st, clock: engine.NewManualClock(t0)}
	if wrap != nil {
		h.es = wrap(st)
	}
	h.start(mutate)
	t.Cleanup(func() {
		h.stop()
		st.Close()
	})
	return h
}

func (h *harness) start(mutate func(*engine.Options)) {
	h.t.Helper()
	opts := engine.DefaultOptions()
	if mutate != nil {
		mutate(&opts)
	}
	eng, err := engine.New(opts, h.es, h.clock, nil, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := eng.Open(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	h.eng = eng
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("engine run: %v", err)
		}
	}
}

func (h *harness) putAction(id string) {
	h.t.Helper()
	if _, err := h.eng.PutAction(context.Background(), engine.Action{ID: engine.ActionID(id), Value: 1, Enabled: true}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) decide(customer string, ctx map[string]any) *engine.DecideResult {
	h.t.Helper()
	res, err := h.eng.Decide(context.Background(), engine.DecideRequest{CustomerID: engine.CustomerID(customer), Channel: "web", Context: ctx})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(res.Actions) == 0 {
		h.t.Fatalf("no action returned: %+v", res)
	}
	return res
}

func (h *harness) feedback(d *engine.DecideResult, outcome engine.Outcome) engine.FeedbackResult {
	h.t.Helper()
	r, err := h.eng.Feedback(context.Background(), engine.FeedbackRequest{DecisionID: d.DecisionID, ActionID: d.Actions[0].ID, Outcome: outcome})
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) health(id string) (responses, positives int64) {
	h.t.Helper()
	m, err := h.eng.Model(engine.ActionID(id), 10)
	if err != nil {
		h.t.Fatal(err)
	}
	return m.Health.Responses, m.Health.Positives
}

func TestFeedbackIsIdempotent(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	h.putAction("offer")
	d := h.decide("c1", map[string]any{"plan": "small"})
	first := h.feedback(d, engine.Accepted)
	if first.Duplicate || !first.Learned {
		t.Fatalf("first feedback: %+v, want learned and not duplicate", first)
	}
	again := h.feedback(d, engine.Accepted)
	if !again.Duplicate || again.Seq != first.Seq {
		t.Fatalf("repeated feedback: %+v, want duplicate of seq %d", again, first.Seq)
	}
	// A later, different response to the same offer is logged but not learned twice.
	conv := h.feedback(d, engine.Converted)
	if conv.Duplicate || conv.Learned {
		t.Fatalf("converted after accepted: %+v, want logged, not learned", conv)
	}
	if r, p := h.health("offer"); r != 1 || p != 1 {
		t.Fatalf("model counted %d responses, %d positives; want 1 and 1", r, p)
	}
	dec, err := h.eng.Decision(context.Background(), d.DecisionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(dec.Outcomes) != 2 || dec.Outcomes[0].Outcome != engine.Accepted || dec.Outcomes[1].Outcome != engine.Converted {
		t.Fatalf("decision outcomes %+v, want accepted then converted", dec.Outcomes)
	}
}

func TestFeedbackErrors(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	h.putAction("offer")
	h.putAction("other")
	d, err := h.eng.Decide(context.Background(), engine.DecideRequest{CustomerID: "c1", Channel: "web", Actions: []engine.ActionID{"offer"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  engine.FeedbackRequest
		kind error
		code string
	}{
		{"unknown decision", engine.FeedbackRequest{DecisionID: "0000000000000000ffff", ActionID: "offer", Outcome: engine.Accepted}, engine.ErrNotFound, "unknown_decision"},
		{"action not offered", engine.FeedbackRequest{DecisionID: d.DecisionID, ActionID: "other", Outcome: engine.Accepted}, engine.ErrUnprocessable, "action_not_offered"},
		{"bad outcome", engine.FeedbackRequest{DecisionID: d.DecisionID, ActionID: "offer", Outcome: "maybe"}, engine.ErrInvalid, "invalid_field"},
		{"timeout is not a client outcome", engine.FeedbackRequest{DecisionID: d.DecisionID, ActionID: "offer", Outcome: engine.Timeout}, engine.ErrInvalid, "invalid_field"},
		{"NaN reward", engine.FeedbackRequest{DecisionID: d.DecisionID, ActionID: "offer", Outcome: engine.Accepted, Reward: ptr(math.NaN())}, engine.ErrInvalid, "invalid_number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.eng.Feedback(context.Background(), c.req)
			if !errors.Is(err, c.kind) || engine.ErrorCode(err) != c.code {
				t.Fatalf("got %v (code %q), want kind %v code %q", err, engine.ErrorCode(err), c.kind, c.code)
			}
		})
	}
	if r, _ := h.health("offer"); r != 0 {
		t.Fatalf("bad feedback changed the model: %d responses", r)
	}
}

func ptr[T any](v T) *T { return &v }

func TestImplicitNegativesAfterTimeout(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	h.putAction("offer")
	answered := h.decide("c1", nil)
	silent := h.decide("c2", nil)
	h.feedback(answered, engine.Rejected)

	// The web channel waits 30 minutes (engine.DefaultOptions).
	h.clock.Set(t0.Add(29 * time.Minute))
	if n, err := h.eng.ExpireResponses(context.Background()); err != nil || n != 0 {
		t.Fatalf("before the timeout: %d expired, err %v; want 0", n, err)
	}
	h.clock.Set(t0.Add(31 * time.Minute))
	if n, err := h.eng.ExpireResponses(context.Background()); err != nil || n != 1 {
		t.Fatalf("after the timeout: %d expired, err %v; want 1 (the answered offer is not pending)", n, err)
	}
	if n, _ := h.eng.ExpireResponses(context.Background()); n != 0 {
		t.Fatalf("second pass expired %d more, want 0", n)
	}
	if r, p := h.health("offer"); r != 2 || p != 0 {
		t.Fatalf("after timeout: %d responses, %d positives; want 2 negatives", r, p)
	}
	// Late feedback is still honoured (learned) and counted once.
	late := h.feedback(silent, engine.Accepted)
	if !late.Learned || late.Duplicate {
		t.Fatalf("late positive: %+v, want learned", late)
	}
	if again := h.feedback(silent, engine.Accepted); !again.Duplicate {
		t.Fatalf("repeated late positive: %+v, want duplicate", again)
	}
	if _, p := h.health("offer"); p != 1 {
		t.Fatalf("positives %d after the late positive, want 1", p)
	}
	dec, err := h.eng.Decision(context.Background(), silent.DecisionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(dec.Outcomes) != 2 || dec.Outcomes[0].Outcome != engine.Timeout || dec.Outcomes[1].Outcome != engine.Accepted {
		t.Fatalf("outcomes %+v, want timeout then accepted", dec.Outcomes)
	}
}

func TestImplicitNegativesCanBeSwitchedOff(t *testing.T) {
	h := newHarness(t, t.TempDir(), func(o *engine.Options) { o.ImplicitNegatives = false })
	h.putAction("offer")
	h.decide("c1", nil)
	h.clock.Set(t0.Add(48 * time.Hour))
	if n, err := h.eng.ExpireResponses(context.Background()); err != nil || n != 0 {
		t.Fatalf("%d expired with implicit negatives off (err %v), want 0", n, err)
	}
}

// weights reads an action's full posterior mean and sd.
func weights(t *testing.T, eng *engine.Engine, id string) string {
	t.Helper()
	m, err := eng.Model(engine.ActionID(id), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("responses %d positives %d", m.Health.Responses, m.Health.Positives)
	for _, w := range m.TopWeights { // names aside: the auto encoder learns them as it goes
		out += fmt.Sprintf(" [%d %v %v]", w.Index, w.Mean, w.SD)
	}
	return out
}

func TestRollback(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	h.putAction("offer")
	ctx := context.Background()
	for i := range 20 {
		d := h.decide(fmt.Sprintf("c%d", i), map[string]any{"segment": "a"})
		h.feedback(d, engine.Accepted)
	}
	v1, err := h.eng.Snapshot(ctx, "test")
	if err != nil || v1 == 0 {
		t.Fatalf("snapshot: v%d, %v", v1, err)
	}
	atV1 := weights(t, h.eng, "offer")
	for i := range 20 {
		d := h.decide(fmt.Sprintf("d%d", i), map[string]any{"segment": "b"})
		h.feedback(d, engine.Rejected)
	}
	if weights(t, h.eng, "offer") == atV1 {
		t.Fatal("the model did not change after 20 more events")
	}
	nv, err := h.eng.Rollback(ctx, "offer", v1)
	if err != nil {
		t.Fatal(err)
	}
	if nv <= v1 {
		t.Fatalf("rollback stored version %d, want a new version after %d", nv, v1)
	}
	if got := weights(t, h.eng, "offer"); got != atV1 {
		t.Fatalf("after rollback:\n%s\nwant version %d:\n%s", got, v1, atV1)
	}
	if _, err := h.eng.Rollback(ctx, "offer", 999); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("rollback to a missing version: %v, want not found", err)
	}
	vs, err := h.eng.Versions(ctx, "offer")
	if err != nil || len(vs) < 2 || vs[0].Version != nv {
		t.Fatalf("versions %+v (err %v), want newest first starting at %d", vs, err, nv)
	}
	// The rollback survives a restart.
	h.stop()
	h.start(nil)
	if got := weights(t, h.eng, "offer"); got != atV1 {
		t.Fatalf("after rollback and restart:\n%s\nwant:\n%s", got, atV1)
	}
}

// TestReplayAfterCrash opens a second engine on the store while the first is still
// running, as a restart after a crash would find it: snapshots from before, and journal
// events after them. Replaying must give exactly the live posterior.
func TestReplayAfterCrash(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	for _, a := range []string{"a", "b", "c"} {
		h.putAction(a)
	}
	ctx := context.Background()
	play := func(n int, seg string) {
		for i := range n {
			d := h.decide(fmt.Sprintf("%s%d", seg, i), map[string]any{"segment": seg, "spend": float64(i % 50)})
			outcome := engine.Ignored
			if i%3 == 0 {
				outcome = engine.Accepted
			}
			h.feedback(d, outcome)
		}
	}
	play(150, "x")
	if _, err := h.eng.Snapshot(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	play(150, "y") // in the journal, not in any snapshot

	second, err := engine.New(engine.DefaultOptions(), h.st, h.clock, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Open(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"a", "b", "c"} {
		live, replayed := weights(t, h.eng, a), weights(t, second, a)
		if live != replayed {
			t.Errorf("action %s: replayed posterior differs from live\nlive     %s\nreplayed %s", a, live, replayed)
		}
	}
}

func TestPutActionRejectsBadInput(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	ctx := context.Background()
	cases := []struct {
		name string
		a    engine.Action
		kind error
		code string
	}{
		{"bad id", engine.Action{ID: "has space", Value: 1}, engine.ErrInvalid, "invalid_id"},
		{"negative value", engine.Action{ID: "x", Value: -1}, engine.ErrInvalid, "invalid_field"},
		{"infinite value", engine.Action{ID: "x", Value: math.Inf(1)}, engine.ErrInvalid, "invalid_number"},
		{"NaN lever", engine.Action{ID: "x", Value: 1, Lever: math.NaN()}, engine.ErrInvalid, "invalid_number"},
		{"bad expression", engine.Action{ID: "x", Value: 1, Eligibility: "profile.age >"}, engine.ErrUnprocessable, "invalid_expression"},
		{"non-boolean expression", engine.Action{ID: "x", Value: 1, Eligibility: "1 + 2"}, engine.ErrUnprocessable, "invalid_expression"},
		{"bad form", engine.Action{ID: "x", Value: 1, Model: engine.ModelSpec{Form: "huge"}}, engine.ErrInvalid, "invalid_field"},
		{"unknown warm start", engine.Action{ID: "x", Value: 1, Model: engine.ModelSpec{WarmStartFrom: "nope"}}, engine.ErrNotFound, "unknown_action"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.eng.PutAction(ctx, c.a)
			if !errors.Is(err, c.kind) || engine.ErrorCode(err) != c.code {
				t.Fatalf("got %v (code %q), want kind %v code %q", err, engine.ErrorCode(err), c.kind, c.code)
			}
		})
	}
	if n := len(h.eng.Actions()); n != 0 {
		t.Fatalf("%d actions stored after only bad input", n)
	}
	if acts, _ := h.st.Actions(ctx); len(acts) != 0 {
		t.Fatalf("%d actions in the store after only bad input", len(acts))
	}
}

func TestEligibilityFilters(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	ctx := context.Background()
	mustPut := func(a engine.Action) {
		if _, err := h.eng.PutAction(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(engine.Action{ID: "loyal-only", Value: 1, Enabled: true, Eligibility: "(profile.tenure ?? 0) >= 12"})
	mustPut(engine.Action{ID: "app-only", Value: 1, Enabled: true, Channels: []string{"app"}})
	mustPut(engine.Action{ID: "off", Value: 1, Enabled: false})
	if _, err := h.eng.PutCustomer(ctx, "new", map[string]any{"tenure": 2.0}); err != nil {
		t.Fatal(err)
	}
	res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: "new", Channel: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NoAction || res.Reason != engine.ReasonNoEligible {
		t.Fatalf("new customer on web: %+v, want no eligible action", res)
	}
	d, err := h.eng.Decision(ctx, res.DecisionID)
	if err != nil {
		t.Fatal(err)
	}
	why := map[engine.ActionID]string{}
	for _, c := range d.Candidates {
		why[c.ID] = c.Filtered
	}
	want := map[engine.ActionID]string{"loyal-only": "eligibility", "app-only": "channel", "off": "disabled"}
	for id, w := range want {
		if why[id] != w {
			t.Errorf("%s filtered as %q, want %q", id, why[id], w)
		}
	}
	if _, err := h.eng.PutCustomer(ctx, "new", map[string]any{"tenure": 13.0}); err != nil {
		t.Fatal(err)
	}
	res = h.decide("new", nil)
	if res.Actions[0].ID != "loyal-only" {
		t.Fatalf("loyal customer got %+v, want loyal-only", res.Actions)
	}
}

// batchSpy is the real store, recording what each group commit asked of it.
type batchSpy struct {
	*store.Store
	mu      sync.Mutex
	batches []engine.Batch
}

func (s *batchSpy) Commit(ctx context.Context, b *engine.Batch) error {
	s.mu.Lock()
	s.batches = append(s.batches, *b)
	s.mu.Unlock()
	return s.Store.Commit(ctx, b)
}

func (s *batchSpy) seen() []engine.Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

// A batch of decision records only is lazy (the store may fsync it later); a batch with
// feedback in it is not, and its fsync covers the decision it answers.
func TestBatchLazyOnlyWhenNoOneWaits(t *testing.T) {
	var spy *batchSpy
	h := newHarnessOn(t, t.TempDir(), nil, func(st *store.Store) engine.Store {
		spy = &batchSpy{Store: st}
		return spy
	})
	eng, ctx := h.eng, context.Background()
	h.putAction("offer")
	d, err := eng.Decide(ctx, engine.DecideRequest{CustomerID: "c1", Channel: "web"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(spy.seen()) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the decision was not committed within 10 s")
		}
	}
	if _, err := eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: d.DecisionID, ActionID: "offer", Outcome: engine.Accepted}); err != nil {
		t.Fatal(err)
	}
	bs := spy.seen()
	if len(bs) != 2 {
		t.Fatalf("%d group commits, want 2 (the decision, the feedback)", len(bs))
	}
	if b := bs[0]; len(b.Decisions) != 1 || len(b.Events) != 0 || !b.Lazy {
		t.Fatalf("first batch: %d decisions, %d events, lazy %v; want 1, 0, lazy", len(b.Decisions), len(b.Events), b.Lazy)
	}
	if b := bs[1]; len(b.Events) != 1 || b.Lazy {
		t.Fatalf("second batch: %d events, lazy %v; want 1, not lazy", len(b.Events), b.Lazy)
	}
}
