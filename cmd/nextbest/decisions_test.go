package main

import (
	"bufio"
	"encoding/json"
	"testing"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/service"
)

// TestDecisionLogStream checks that GET /v1/decisions streams JSON lines with everything
// off-policy evaluation needs: context, every candidate's scores and selection
// probability, the model state, the chosen actions and the outcomes.
func TestDecisionLogStream(t *testing.T) {
	s := startServer(t, t.TempDir(), func(o *service.Options) { o.Engine.Threshold = 0 })
	defer s.stop()
	c := s.client()
	for _, a := range []engine.ActionID{"a", "b", "c"} {
		if _, err := c.PutAction(t.Context(), a, wire.ActionRequest{Value: &engine.Money{Const: 2}}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now().Add(-time.Second).UTC()
	var ids []string
	for i := range 5 {
		req := wire.DecideRequest{CustomerID: "c1", Channel: "web", Context: map[string]any{"n": i, "page": "home"}}
		if i%2 == 0 {
			ids = append(ids, string(decideAndRespond(t, c, req, engine.Clicked).DecisionID))
			continue
		}
		d, err := c.Decide(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, string(d.DecisionID))
	}
	// The stream is read as bytes, not with the client: the test is about the wire (the
	// content type, and fields present in each line's JSON).
	resp, err := httpClient.Get(s.base + "/v1/decisions?since=" + start.Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("content type %q", ct)
	}
	type line struct {
		DecisionID string                `json:"decision_id"`
		Context    json.RawMessage       `json:"context"`
		Features   struct{ Index []int } `json:"features"`
		Candidates []struct {
			ID          string  `json:"id"`
			Rank        int     `json:"rank"`
			Propensity  float64 `json:"propensity"`
			Score       float64 `json:"score"`
			Priority    float64 `json:"priority"`
			Probability float64 `json:"probability"`
			ModelSeq    *uint64 `json:"model_seq"`
		} `json:"candidates"`
		Chosen   []string `json:"chosen"`
		Outcomes []struct {
			Outcome string `json:"outcome"`
		} `json:"outcomes"`
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var got []line
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d is not JSON: %v", len(got)+1, err)
		}
		got = append(got, l)
	}
	if len(got) != 5 {
		t.Fatalf("%d lines, want 5", len(got))
	}
	for i, l := range got {
		if l.DecisionID != ids[i] {
			t.Errorf("line %d: decision %s, want %s (time order)", i, l.DecisionID, ids[i])
		}
		if len(l.Context) == 0 || len(l.Features.Index) == 0 || len(l.Chosen) != 1 || len(l.Candidates) != 3 {
			t.Errorf("line %d incomplete: %+v", i, l)
		}
		for _, c := range l.Candidates {
			if c.Rank < 1 || c.Propensity <= 0 || c.Score <= 0 || c.ModelSeq == nil {
				t.Errorf("line %d candidate %s lacks scores: %+v", i, c.ID, c)
			}
			if c.ID == l.Chosen[0] && (c.Probability <= 0 || c.Probability > 1) {
				t.Errorf("line %d: chosen action's selection probability %v", i, c.Probability)
			}
		}
		if want := i%2 == 0; want != (len(l.Outcomes) == 1) {
			t.Errorf("line %d: outcomes %+v", i, l.Outcomes)
		}
	}
}
