package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

func arms(nba, legacy, holdout float64) []experiments.Arm {
	return []experiments.Arm{{Name: "nba", Policy: "nba", Weight: nba}, {Name: "legacy", Policy: "legacy", Weight: legacy}, {Name: "holdout", Policy: "none", Weight: holdout}}
}

// TestAssignmentStickyUnderWeightChange assigns 2,000 customers, moves weight from the
// holdout to NBA on the running experiment, and checks that no assigned customer moved
// while new customers follow the new weights.
func TestAssignmentStickyUnderWeightChange(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	ctx := context.Background()
	h.putAction("offer")
	x := engine.Experiment{ID: "x", Arms: arms(0.4, 0.4, 0.2), Control: "legacy", State: engine.Running}
	if _, err := h.eng.PutExperiment(ctx, x); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	before := map[string]string{}
	for i := range n {
		c := fmt.Sprintf("old%d", i)
		res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(c), Channel: "web"})
		if err != nil {
			t.Fatal(err)
		}
		before[c] = res.Arm
	}
	x.Arms = arms(0.6, 0.4, 0.0)
	if _, err := h.eng.PutExperiment(ctx, x); err != nil {
		t.Fatal(err)
	}
	for c, arm := range before {
		res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(c), Channel: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Arm != arm {
			t.Fatalf("customer %s moved from %s to %s after a weight change", c, arm, res.Arm)
		}
	}
	// New customers: none into the holdout, about 60% NBA.
	count := map[string]int{}
	for i := range n {
		res, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("new%d", i)), Channel: "web"})
		if err != nil {
			t.Fatal(err)
		}
		count[res.Arm]++
	}
	// Binomial(2000, 0.6): sd = sqrt(2000*0.6*0.4) = 21.9; 5 sd = 110.
	if count["holdout"] != 0 || count["nba"] < 1200-110 || count["nba"] > 1200+110 {
		t.Fatalf("new customers after the change: %v, want ~1200 nba, 0 holdout", count)
	}
	// The stored assignment says the same after a restart.
	h.stop()
	h.start(nil)
	for _, c := range []string{"old1", "old2", "old3", "new1"} {
		a, err := h.eng.Assignment(ctx, "x", engine.CustomerID(c))
		if err != nil || !a.Stored {
			t.Fatalf("assignment of %s after restart: %+v, %v", c, a, err)
		}
		if want, ok := before[c]; ok && a.Arm != want {
			t.Fatalf("%s: %s after restart, want %s", c, a.Arm, want)
		}
	}
}

func TestExperimentStates(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	ctx := context.Background()
	put := func(x engine.Experiment) error {
		_, err := h.eng.PutExperiment(ctx, x)
		return err
	}
	x := engine.Experiment{ID: "x", Arms: arms(0.5, 0.5, 0), Control: "legacy"}
	if err := put(x); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.eng.Experiment("x"); got.State != engine.Draft {
		t.Fatalf("new experiment in state %q, want draft", got.State)
	}
	x.State = engine.Running
	if err := put(x); err != nil {
		t.Fatal(err)
	}
	other := engine.Experiment{ID: "y", Arms: arms(0.5, 0.5, 0), Control: "legacy", State: engine.Running}
	if err := put(other); !errors.Is(err, engine.ErrUnprocessable) {
		t.Fatalf("a second running experiment: %v, want refused", err)
	}
	x.State = engine.Draft
	if err := put(x); !errors.Is(err, engine.ErrUnprocessable) {
		t.Fatalf("running back to draft: %v, want refused", err)
	}
	x.State, x.Salt = engine.Running, "changed"
	if err := put(x); !errors.Is(err, engine.ErrUnprocessable) {
		t.Fatalf("changing the salt of a running experiment: %v, want refused", err)
	}
	x.Salt = ""
	x.State = engine.Stopped
	if err := put(x); err != nil {
		t.Fatal(err)
	}
	x.State = engine.Running
	if err := put(x); !errors.Is(err, engine.ErrUnprocessable) {
		t.Fatalf("restarting a stopped experiment: %v, want refused", err)
	}
	// With no experiment running, decisions are outside any experiment.
	h.putAction("offer")
	res := h.decide("c1", nil)
	if res.Arm != engine.ArmNBA {
		t.Fatalf("decision with no running experiment: arm %q", res.Arm)
	}
}
