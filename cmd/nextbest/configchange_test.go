package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"errors"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/testserver"
)

// TestRefusedSchemaChangeKeepsServing is issue 15's defect 3 against the real binary: a
// schema change refused with a 422 (a warm-started model whose source still has the old
// dimension) must leave the old encoding and models in place, so that the next decide
// answers. Before the fix the new encoder stayed in place, the next decide panicked in
// bandit (index out of range), and with no recovery middleware the process exited.
func TestRefusedSchemaChangeKeepsServing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testserver.BuildNextbest(t)
	dir := t.TempDir()
	p := startChild(t, bin, filepath.Join(dir, "data"), "")
	hc := childClient(4)

	// A small schema (6 dimensions), then two actions; "a" warm-starts from "b", which
	// sorts after it.
	small := `{"fields": [{"name": "plan", "source": "context", "type": "categorical", "vocabulary": ["basic", "plus", "pro"]}]}`
	ctx, c := t.Context(), p.client(hc)
	type encoding struct {
		hash string
		dim  int
	}
	putSchema := func(schema string) (encoding, error) {
		s, err := c.PutSchema(ctx, []byte(schema))
		return encoding{s.Hash, s.Dim}, err
	}
	before, err := putSchema(small)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []wire.ActionRequest{
		{ID: "b", Value: &engine.Money{Const: 1}, Channels: []string{"web"}},
		{ID: "a", Value: &engine.Money{Const: 1}, Channels: []string{"web"}, Model: engine.ModelSpec{WarmStartFrom: "b"}},
	} {
		if _, err := c.PutAction(ctx, a.ID, a); err != nil {
			t.Fatal(err)
		}
	}

	// A bigger schema: "a" would warm-start from b's model of the old dimension.
	big := `{"fields": [{"name": "plan", "source": "context", "type": "categorical", "vocabulary": ["basic", "plus", "pro"]},
		{"name": "page", "source": "context", "type": "categorical", "hash_buckets": 64}]}`
	_, err = putSchema(big)
	if !errors.Is(err, engine.ErrUnprocessable) {
		t.Fatalf("the schema change that warm-starts from the old dimension: %v, want a 422", err)
	}
	t.Logf("refused: %v", err)

	s, err := c.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after := (encoding{s.Hash, s.Dim}); after != before {
		t.Errorf("after the refused change the schema is %+v, want the old %+v", after, before)
	}
	decide := func(n int) {
		t.Helper()
		for i := range n {
			_, err := c.Decide(ctx, wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", i)), Channel: "web", Context: map[string]any{"plan": "pro", "page": fmt.Sprintf("p%d", i)}})
			if err != nil {
				t.Fatalf("decide %d: %v\nstderr:\n%s", i, err, tailOf(p.stderr.String(), 3000))
			}
		}
	}
	// Decide with context that the bigger schema would put on high indices.
	decide(20)

	// Without the warm start the same change is made, whole, and decisions go on.
	if _, err := c.PutAction(ctx, "a", wire.ActionRequest{Value: &engine.Money{Const: 1}, Channels: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	after, err := putSchema(big)
	if err != nil {
		t.Fatal(err)
	}
	if after.dim == before.dim {
		t.Errorf("the accepted schema change left the dimension at %d", after.dim)
	}
	decide(20)
	if log := p.stderr.String(); strings.Contains(log, "panic") {
		t.Errorf("the log mentions a panic:\n%s", tailOf(log, 3000))
	}
	if code := p.terminate(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}
