package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"
)

// testServer runs the real service (serve) on 127.0.0.1:0 over Badger in dir.
type testServer struct {
	t       testing.TB
	base    string
	cancel  context.CancelFunc
	done    chan error
	out     *syncBuffer // what serve printed
	dataDir string
	key     string // bearer key sent with every request, if set
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in different goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startServer(t testing.TB, dir string, mutate func(*Options)) *testServer {
	t.Helper()
	o := DefaultOptions()
	o.Data = dir
	o.Demo = false
	o.Schedule = Schedule{} // tests drive scheduled work themselves
	o.InsecureLocal = true  // most tests are not about keys; auth_test.go turns this off
	if mutate != nil {
		mutate(&o)
	}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{t: t, base: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1), out: &syncBuffer{}, dataDir: dir}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { s.done <- serve(ctx, o, ln, log, s.out) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// stop shuts the server down gracefully (as SIGTERM does) and waits for it.
func (s *testServer) stop() {
	s.t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		s.t.Fatal("server did not stop within 30s")
	}
}

var client = &http.Client{Timeout: 30 * time.Second}

// call sends a JSON request and decodes the JSON response into out (if not nil). It
// returns the status code.
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
	resp, err := client.Do(req)
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

type decideResponse struct {
	DecisionID string `json:"decision_id"`
	Arm        string `json:"arm"`
	NoAction   bool   `json:"no_action"`
	Reason     string `json:"reason"`
	Actions    []struct {
		ID          string  `json:"id"`
		Propensity  float64 `json:"propensity"`
		Score       float64 `json:"score"`
		Value       float64 `json:"value"`
		Priority    float64 `json:"priority"`
		Probability float64 `json:"probability"`
	} `json:"actions"`
}

func TestEndToEndLearnsAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, func(o *Options) { o.Engine.Threshold = 0 })
	w := newWorld(42)
	for _, a := range w.actions {
		if code := s.call("PUT", "/v1/actions/"+a, map[string]any{"issue": "sales", "group": "offers", "value": 1, "channels": []string{"web"}}, nil); code != 200 {
			t.Fatalf("put action %s: status %d", a, code)
		}
	}
	const rounds, tail = 5000, 1000 // the figures
	best := 0
	for i := 0; i < rounds; i++ {
		seg := w.segments[w.rng.IntN(len(w.segments))]
		ctx := map[string]any{
			"segment":    seg,
			"hour":       w.rng.IntN(24), // noise fields the model must learn to ignore
			"device":     []string{"ios", "android", "desktop"}[w.rng.IntN(3)],
			"basket_eur": w.rng.Float64() * 100,
		}
		var d decideResponse
		if code := s.call("POST", "/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c%d", w.rng.IntN(2000)), "channel": "web", "context": ctx}, &d); code != 200 || len(d.Actions) != 1 {
			t.Fatalf("round %d: decide status %d, %+v", i, code, d)
		}
		chosen := d.Actions[0].ID
		if i >= rounds-tail && w.p[seg][chosen] == 0.30 {
			best++
		}
		outcome := "ignored"
		if w.rng.Float64() < w.p[seg][chosen] {
			outcome = "accepted"
		}
		if code := s.call("POST", "/v1/feedback", map[string]any{"decision_id": d.DecisionID, "action_id": chosen, "outcome": outcome}, nil); code != 202 {
			t.Fatalf("round %d: feedback status %d", i, code)
		}
	}
	share := float64(best) / tail
	t.Logf("best action picked in %.1f%% of the last %d rounds", 100*share, tail)
	if share < 0.85 {
		t.Errorf("best action share %.3f in the last %d rounds, want >= 0.85", share, tail)
	}

	// The posterior is everything in the model summary but the stored-version counter,
	// which the shutdown snapshot advances.
	posterior := func(a string) string {
		var m map[string]json.RawMessage
		s.call("GET", "/v1/models/"+a+"?top=10000", nil, &m)
		delete(m, "version")
		raw, _ := json.Marshal(m)
		return string(raw)
	}
	before := map[string]string{}
	for _, a := range w.actions {
		before[a] = posterior(a)
	}
	s.stop()

	s = startServer(t, dir, func(o *Options) { o.Engine.Threshold = 0 })
	defer s.stop()
	for _, a := range w.actions {
		if after := posterior(a); after != before[a] {
			t.Errorf("model %s differs after restart:\nbefore %s\nafter  %s", a, before[a], after)
		}
	}
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
