package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/service"
	"github.com/nextbest/nextbest/internal/testserver"
)

// testServer runs the real service (serve) on 127.0.0.1:0 over Badger in dir.
type testServer struct {
	t       testing.TB
	srv     *testserver.Server
	base    string                 // srv.URL
	out     *testserver.SyncBuffer // what serve printed
	dataDir string
	key     string // bearer key sent with every request, if set
}

// startServer runs the service over a store in dir with testserver.Start's defaults
// (demo off, keyless on loopback, no scheduled jobs), changed by mutate; auth_test.go
// turns keyless access off.
func startServer(t testing.TB, dir string, mutate func(*service.Options)) *testServer {
	t.Helper()
	srv := testserver.Start(t, dir, mutate)
	return &testServer{t: t, srv: srv, base: srv.URL, out: srv.Out, dataDir: dir}
}

// client returns a client of the server with the test's key, if any.
func (s *testServer) client() *client.Client {
	return client.New(s.base, client.WithKey(s.key), client.WithHTTPClient(httpClient))
}

// stop shuts the server down gracefully (as SIGTERM does) and waits for it.
func (s *testServer) stop() {
	s.t.Helper()
	if err := s.srv.Stop(); err != nil {
		s.t.Fatalf("serve returned %v", err)
	}
}

// httpClient is the tests' HTTP client, shared so that connections are reused.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// call sends a request as given, for the tests that are about the wire itself (bad
// bodies, headers, statuses), and decodes the JSON response into out (if not nil). It
// returns the status code. Tests of behaviour use the client (s.client()).
func (s *testServer) call(method, path string, body any, out any) int {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.key != "" {
		req.Header.Set("Authorization", "Bearer "+s.key)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: status %d, body %q: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// world is a seeded synthetic market: each customer belongs to one of four segments, and
// each of four actions is the best response in exactly one segment. The true response
// probabilities are hidden from the service; it sees only the context.
type world struct {
	rng      *rand.Rand
	segments []string
	actions  []string
	p        map[string]map[string]float64 // segment -> action -> P(accept)
}

func newWorld(seed uint64) *world {
	w := &world{
		rng:      rand.New(rand.NewPCG(seed, seed^0x5eed)),
		segments: []string{"student", "family", "business", "senior"},
		actions:  []string{"data-addon", "family-plan", "business-line", "simple-phone"},
		p:        map[string]map[string]float64{},
	}
	// 0.30 for the right action, 0.04-0.10 for the others: a realistic spread for offers.
	for i, s := range w.segments {
		w.p[s] = map[string]float64{}
		for j, a := range w.actions {
			if i == j {
				w.p[s][a] = 0.30
			} else {
				w.p[s][a] = 0.04 + 0.02*float64((i+j)%4)
			}
		}
	}
	return w
}

func TestEndToEndLearnsAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, func(o *service.Options) { o.Engine.Threshold = 0 })
	ctx, c := t.Context(), s.client()
	w := newWorld(42)
	for _, a := range w.actions {
		if _, err := c.PutAction(ctx, engine.ActionID(a), wire.ActionRequest{Issue: "sales", Group: "offers", Value: &engine.Money{Const: 1}, Channels: []string{"web"}}); err != nil {
			t.Fatalf("put action %s: %v", a, err)
		}
	}
	const rounds, tail = 5000, 1000 // the issue's figures
	best := 0
	for i := 0; i < rounds; i++ {
		seg := w.segments[w.rng.IntN(len(w.segments))]
		cx := map[string]any{
			"segment":    seg,
			"hour":       w.rng.IntN(24), // noise fields the model must learn to ignore
			"device":     []string{"ios", "android", "desktop"}[w.rng.IntN(3)],
			"basket_eur": w.rng.Float64() * 100,
		}
		d, err := c.Decide(ctx, wire.DecideRequest{CustomerID: engine.CustomerID(fmt.Sprintf("c%d", w.rng.IntN(2000))), Channel: "web", Context: cx})
		if err != nil || len(d.Actions) != 1 {
			t.Fatalf("round %d: decide: %+v, %v", i, d, err)
		}
		chosen := d.Actions[0].ID
		if i >= rounds-tail && w.p[seg][string(chosen)] == 0.30 {
			best++
		}
		outcome := engine.Ignored
		if w.rng.Float64() < w.p[seg][string(chosen)] {
			outcome = engine.Accepted
		}
		if _, err := c.Feedback(ctx, wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: chosen, Outcome: outcome}); err != nil {
			t.Fatalf("round %d: feedback: %v", i, err)
		}
	}
	share := float64(best) / tail
	t.Logf("best action picked in %.1f%% of the last %d rounds", 100*share, tail)
	if share < 0.85 {
		t.Errorf("best action share %.3f in the last %d rounds, want >= 0.85", share, tail)
	}

	// The posterior is everything in the model summary but the stored-version counter,
	// which the shutdown snapshot advances.
	posterior := func(c *client.Client, a string) engine.ModelInfo {
		m, err := c.Model(ctx, engine.ActionID(a), 10000)
		if err != nil {
			t.Fatal(err)
		}
		m.Version = 0
		return m
	}
	before := map[string]engine.ModelInfo{}
	for _, a := range w.actions {
		before[a] = posterior(c, a)
	}
	s.stop()

	s = startServer(t, dir, func(o *service.Options) { o.Engine.Threshold = 0 })
	defer s.stop()
	for _, a := range w.actions {
		if after := posterior(s.client(), a); !reflect.DeepEqual(after, before[a]) {
			t.Errorf("model %s differs after restart:\nbefore %+v\nafter  %+v", a, before[a], after)
		}
	}
}

// putOffer puts the action "offer", worth value, on every channel.
func putOffer(t testing.TB, c *client.Client, value float64) {
	t.Helper()
	if _, err := c.PutAction(t.Context(), "offer", wire.ActionRequest{Value: &engine.Money{Const: value}}); err != nil {
		t.Fatal(err)
	}
}

// decideAndRespond asks for a decision and answers its first action with outcome.
func decideAndRespond(t testing.TB, c *client.Client, req wire.DecideRequest, outcome engine.Outcome) *engine.DecideResult {
	t.Helper()
	d, err := c.Decide(t.Context(), req)
	if err != nil || len(d.Actions) == 0 {
		t.Fatalf("decide: %+v, %v", d, err)
	}
	if _, err := c.Feedback(t.Context(), wire.FeedbackRequest{DecisionID: d.DecisionID, ActionID: d.Actions[0].ID, Outcome: outcome}); err != nil {
		t.Fatalf("feedback: %v", err)
	}
	return d
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
