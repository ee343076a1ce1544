package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nextbest/nextbest/api/wire"
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
	bin := buildNextbest(t)
	dir := t.TempDir()
	p := startChild(t, bin, filepath.Join(dir, "data"), "")
	hc := childClient(4)

	// A small schema (6 dimensions), then two actions; "a" warm-starts from "b", which
	// sorts after it.
	small := `{"fields": [{"name": "plan", "source": "context", "type": "categorical", "vocabulary": ["basic", "plus", "pro"]}]}`
	var before struct {
		Hash string `json:"hash"`
		Dim  int    `json:"dim"`
	}
	p.mustJSON(hc, "PUT", "/v1/schema", json.RawMessage(small), 200, &before)
	p.mustJSON(hc, "PUT", "/v1/actions/b", map[string]any{"value": 1, "channels": []string{"web"}}, 200, nil)
	p.mustJSON(hc, "PUT", "/v1/actions/a", map[string]any{"value": 1, "channels": []string{"web"}, "model": map[string]any{"warm_start_from": "b"}}, 200, nil)

	// A bigger schema: "a" would warm-start from b's model of the old dimension.
	big := `{"fields": [{"name": "plan", "source": "context", "type": "categorical", "vocabulary": ["basic", "plus", "pro"]},
		{"name": "page", "source": "context", "type": "categorical", "hash_buckets": 64}]}`
	var refused wire.ErrorBody
	p.mustJSON(hc, "PUT", "/v1/schema", json.RawMessage(big), 422, &refused)
	t.Logf("refused: %s: %s", refused.Error.Code, refused.Error.Message)

	var after struct {
		Hash string `json:"hash"`
		Dim  int    `json:"dim"`
	}
	p.mustJSON(hc, "GET", "/v1/schema", nil, 200, &after)
	if after != before {
		t.Errorf("after the refused change the schema is %+v, want the old %+v", after, before)
	}
	decide := func(n int) {
		t.Helper()
		for i := range n {
			body, _ := json.Marshal(map[string]any{"customer_id": fmt.Sprintf("c%d", i), "channel": "web", "context": map[string]any{"plan": "pro", "page": fmt.Sprintf("p%d", i)}})
			code, raw, err := childSend(hc, "POST", p.base+"/v1/decide", body)
			if err != nil {
				t.Fatalf("decide %d: %v\nstderr:\n%s", i, err, tailOf(p.stderr.String(), 3000))
			}
			if code != 200 {
				t.Fatalf("decide %d: status %d: %s", i, code, raw)
			}
		}
	}
	// Decide with context that the bigger schema would put on high indices.
	decide(20)

	// Without the warm start the same change is made, whole, and decisions go on.
	p.mustJSON(hc, "PUT", "/v1/actions/a", map[string]any{"value": 1, "channels": []string{"web"}}, 200, nil)
	p.mustJSON(hc, "PUT", "/v1/schema", json.RawMessage(big), 200, &after)
	if after.Dim == before.Dim {
		t.Errorf("the accepted schema change left the dimension at %d", after.Dim)
	}
	decide(20)
	if log := p.stderr.String(); strings.Contains(log, "panic") {
		t.Errorf("the log mentions a panic:\n%s", tailOf(log, 3000))
	}
	if code := p.terminate(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}
