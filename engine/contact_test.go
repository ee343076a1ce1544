package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
)

func TestContactPolicy(t *testing.T) {
	h := newHarness(t, t.TempDir(), func(o *engine.Options) {
		o.ContactPolicy = engine.ContactPolicy{
			Caps:             map[string]engine.Cap{"email": {Max: 2, Window: 7 * 24 * time.Hour}},
			SuppressAfter:    3,
			SuppressWindow:   30 * 24 * time.Hour,
			SuppressChannels: []string{"email"},
		}
	})
	ctx := context.Background()
	h.putAction("offer")
	decideAt := func(cust, channel string, at time.Time) *engine.DecideResult {
		t.Helper()
		res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(cust), Channel: channel, Time: at, Source: "outbound"})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	day := 24 * time.Hour
	// Cap: two e-mails in any 7 days.
	if r := decideAt("a", "email", t0); r.NoAction {
		t.Fatalf("first e-mail refused: %+v", r)
	}
	if r := decideAt("a", "email", t0.Add(day)); r.NoAction {
		t.Fatalf("second e-mail refused: %+v", r)
	}
	if r := decideAt("a", "email", t0.Add(2*day)); !r.NoAction || !strings.HasPrefix(r.Reason, engine.ReasonContactLimit) {
		t.Fatalf("third e-mail within 7 days: %+v, want refused by the contact policy", r)
	}
	if r := decideAt("a", "web", t0.Add(2*day)); r.NoAction {
		t.Fatalf("web is not capped: %+v", r)
	}
	if r := decideAt("a", "email", t0.Add(7*day+time.Minute)); r.NoAction {
		t.Fatalf("after the first e-mail left the window: %+v", r)
	}
	// Suppression: three explicit negatives stop e-mail, not web.
	for i := range 3 {
		r := decideAt("b", "web", t0.Add(time.Duration(i)*time.Hour))
		if _, err := h.eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: r.DecisionID, ActionID: r.Actions[0].ID, Outcome: engine.Rejected, Time: t0.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if r := decideAt("b", "email", t0.Add(4*time.Hour)); !r.NoAction || !strings.Contains(r.Reason, "suppressed") {
		t.Fatalf("e-mail after 3 rejections: %+v, want suppressed", r)
	}
	if r := decideAt("b", "web", t0.Add(4*time.Hour)); r.NoAction {
		t.Fatalf("web after 3 rejections: %+v, want served", r)
	}
	if r := decideAt("b", "email", t0.Add(31*day)); r.NoAction {
		t.Fatalf("e-mail after the rejections left the window: %+v", r)
	}
	// The history survives a restart (it is read back from the store).
	h.stop()
	h.start(func(o *engine.Options) {
		o.ContactPolicy = engine.ContactPolicy{Caps: map[string]engine.Cap{"email": {Max: 2, Window: 7 * 24 * time.Hour}}}
	})
	if r := decideAt("a", "email", t0.Add(7*day+2*time.Minute)); !r.NoAction {
		t.Fatalf("after a restart, a third e-mail in the window: %+v, want refused", r)
	}
}
