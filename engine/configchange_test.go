package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// Configuration changes are all or nothing: one that is refused, or whose store write
// fails, leaves the engine (and the store) as it was.

// Two schemas over the context: the small one has 6 dimensions, the big one 71 (the
// encoder's counts: a bias, the vocabulary and an unknown bucket, and 64 hash buckets).
const (
	smallSchema = `{"fields": [{"name": "plan", "source": "context", "type": "categorical", "vocabulary": ["basic", "plus", "pro"]}]}`
	bigSchema   = `{"fields": [{"name": "plan", "source": "context", "type": "categorical", "vocabulary": ["basic", "plus", "pro"]},
		{"name": "page", "source": "context", "type": "categorical", "hash_buckets": 64}]}`
)

// configState is everything a configuration change may change, as JSON: the schema, the
// catalog with each model's summary and weights, the experiments and the campaigns.
func configState(t *testing.T, eng *engine.Engine) string {
	t.Helper()
	_, hash, dim := eng.Schema()
	type model struct {
		Info    engine.ModelInfo
		Weights string
	}
	var models []model
	for _, a := range eng.Actions() {
		info, err := eng.Model(a.ID, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, model{info, weights(t, eng, string(a.ID))})
	}
	raw, err := json.MarshalIndent(map[string]any{
		"schema": fmt.Sprintf("%s (%d)", hash, dim), "actions": eng.Actions(), "models": models,
		"experiments": eng.Experiments(), "campaigns": eng.Campaigns(),
	}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// learn makes n decisions with feedback, so that the models hold something.
func (h *harness) learn(n int, prefix string) {
	h.t.Helper()
	for i := range n {
		d := h.decide(fmt.Sprintf("%s%d", prefix, i), map[string]any{"plan": []string{"basic", "plus", "pro"}[i%3], "page": fmt.Sprintf("p%d", i%7)})
		outcome := engine.Ignored
		if i%3 == 0 {
			outcome = engine.Accepted
		}
		h.feedback(d, outcome)
	}
}

// TestRefusedSchemaChangeChangesNothing is the engine's side of issue 15's defect 3: a
// schema change refused because a warm-started action cannot restart under it (its
// source's model has the old dimension) leaves the old schema, encoder and models in
// place, in memory and in the store, and decisions go on. Before the fix the new encoder
// and the new schema in the store stayed, and the next decide panicked in bandit.
func TestRefusedSchemaChangeChangesNothing(t *testing.T) {
	h := newHarness(t, t.TempDir(), nil)
	ctx := context.Background()
	if _, err := h.eng.PutSchema(ctx, []byte(smallSchema)); err != nil {
		t.Fatal(err)
	}
	h.putAction("b")
	// "a" sorts before its source, so that a change applied action by action meets it
	// first.
	if _, err := h.eng.PutAction(ctx, engine.Action{ID: "a", Value: 1, Enabled: true, Model: engine.ModelSpec{WarmStartFrom: "b"}}); err != nil {
		t.Fatal(err)
	}
	h.learn(30, "c")
	before := configState(t, h.eng)

	_, err := h.eng.PutSchema(ctx, []byte(bigSchema))
	if !errors.Is(err, engine.ErrUnprocessable) {
		t.Fatalf("schema change with a warm start from a model of the old dimension: %v, want refused (422)", err)
	}
	t.Logf("refused: %v", err)
	if after := configState(t, h.eng); after != before {
		t.Fatalf("the refused change changed the engine:\nbefore %s\nafter  %s", before, after)
	}
	h.learn(30, "d") // decides and learns on the old encoding, without a panic

	// The store kept the old schema too: a restart comes back with it.
	_, hash, dim := h.eng.Schema()
	h.stop()
	h.start(nil)
	if _, h2, d2 := h.eng.Schema(); h2 != hash || d2 != dim {
		t.Fatalf("after a restart the schema is %s (%d), want the old %s (%d)", h2, d2, hash, dim)
	}
	h.learn(5, "e")
}

// failingStore is the real store with writes that fail while fail is set, as on a full
// or broken disk.
type failingStore struct {
	*store.Store
	fail atomic.Bool
}

var errInjected = errors.New("injected store failure")

func (s *failingStore) Commit(ctx context.Context, b *engine.Batch) error {
	if s.fail.Load() {
		return errInjected
	}
	return s.Store.Commit(ctx, b)
}

func (s *failingStore) PutSetting(ctx context.Context, name string, value []byte) error {
	if s.fail.Load() {
		return errInjected
	}
	return s.Store.PutSetting(ctx, name, value)
}

func (s *failingStore) PutAction(ctx context.Context, a engine.Action) error {
	if s.fail.Load() {
		return errInjected
	}
	return s.Store.PutAction(ctx, a)
}

func (s *failingStore) PutExperiment(ctx context.Context, x engine.Experiment) error {
	if s.fail.Load() {
		return errInjected
	}
	return s.Store.PutExperiment(ctx, x)
}

func (s *failingStore) PutCampaign(ctx context.Context, c engine.Campaign) error {
	if s.fail.Load() {
		return errInjected
	}
	return s.Store.PutCampaign(ctx, c)
}

// TestConfigChangeStoreFailureChangesNothing: when the store cannot write a configuration
// change, the change fails and the engine is as it was; the same change succeeds, and
// changes the engine, once the store writes again (so the first half means something).
func TestConfigChangeStoreFailureChangesNothing(t *testing.T) {
	var fs *failingStore
	h := newHarnessOn(t, t.TempDir(), nil, func(st *store.Store) engine.Store {
		fs = &failingStore{Store: st}
		return fs
	})
	ctx := context.Background()
	if _, err := h.eng.PutSchema(ctx, []byte(smallSchema)); err != nil {
		t.Fatal(err)
	}
	h.putAction("a")
	h.putAction("b")
	h.learn(30, "c")
	v1, err := h.eng.Snapshot(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	h.learn(30, "d")
	if _, err := h.eng.PutExperiment(ctx, engine.Experiment{ID: "x", Arms: arms(0.5, 0.5, 0), Control: "legacy"}); err != nil {
		t.Fatal(err)
	}

	for i, tc := range []struct {
		name   string
		change func() error
	}{
		{"action model spec", func() error {
			_, err := h.eng.PutAction(ctx, engine.Action{ID: "a", Value: 1, Enabled: true, Model: engine.ModelSpec{PriorPrecision: 2}})
			return err
		}},
		{"new action", func() error { _, err := h.eng.PutAction(ctx, engine.Action{ID: "n", Value: 1}); return err }},
		{"rollback", func() error { _, err := h.eng.Rollback(ctx, "b", v1); return err }},
		{"campaign", func() error {
			_, err := h.eng.PutCampaign(ctx, engine.Campaign{ID: "k", Segment: "true", Action: "a", Channel: "web", Enabled: true})
			return err
		}},
		{"experiment starts", func() error {
			_, err := h.eng.PutExperiment(ctx, engine.Experiment{ID: "x", Arms: arms(0.5, 0.5, 0), Control: "legacy", State: engine.Running})
			return err
		}},
		// Last: the versions stored before it were trained on the old schema.
		{"schema", func() error { _, err := h.eng.PutSchema(ctx, []byte(bigSchema)); return err }},
	} {
		before := configState(t, h.eng)
		fs.fail.Store(true)
		err := tc.change()
		fs.fail.Store(false)
		if err == nil {
			t.Errorf("%s: succeeded with a store that cannot write", tc.name)
			continue
		}
		if after := configState(t, h.eng); after != before {
			t.Errorf("%s: the failed change (%v) changed the engine:\nbefore %s\nafter  %s", tc.name, err, before, after)
		}
		if err := tc.change(); err != nil {
			t.Errorf("%s, with the store writing again: %v", tc.name, err)
		} else if configState(t, h.eng) == before {
			t.Errorf("%s: the change changed nothing even when it succeeded; the test shows nothing", tc.name)
		}
		h.learn(3, fmt.Sprintf("t%d-", i)) // and decisions go on
	}
}
