package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// The fuzz targets send arbitrary bodies to the real routes: a Server over an engine over
// Badger in a temporary directory, built once per fuzz process (the fuzz function itself
// must stay fast). Each input also goes through the decoders alone. The contract is the
// API's: a bad body is a 4xx with a JSON error code, never a 5xx, never a panic.

// fuzzDecision in a feedback body stands for the id of a fresh decision, so that the
// fuzzer reaches the journal and not only "unknown decision", and each input meets a
// pair with no outcome yet whatever inputs ran before.
const fuzzDecision = "$DECISION"

// testServer is an API server for fuzzing, tests and benchmarks, with one action
// ("offer") on the web channel; it keeps the store, for making keys. insecure allows
// keyless access (--insecure-local); configure, if not nil, changes the options.
type testServer struct {
	srv *Server
	eng *engine.Engine
	st  *store.Store
}

func newTestServer(tb testing.TB, insecure bool, configure func(*Options)) *testServer {
	tb.Helper()
	so := store.DefaultOptions(tb.TempDir())
	so.SyncWrites = false // durability is not under test; speed is
	so.MemTableSize, so.BlockCacheSize, so.IndexCacheSize = 8<<20, 8<<20, 4<<20
	st, err := store.Open(so)
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := engine.New(engine.DefaultOptions(), st, nil, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := eng.Open(ctx); err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
		if err := st.Close(); err != nil {
			tb.Error(err)
		}
	})
	if _, err := eng.PutAction(ctx, engine.Action{ID: "offer", Value: 1, Enabled: true, Channels: []string{"web"}}); err != nil {
		tb.Fatal(err)
	}
	secret, err := NewSessionSecret()
	if err != nil {
		tb.Fatal(err)
	}
	auth, err := NewAuth(ctx, AuthOptions{Keys: st, Sessions: st, SessionSecret: secret, InsecureLocal: insecure})
	if err != nil {
		tb.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Auth, opts.Keys = auth, st
	if configure != nil {
		configure(&opts)
	}
	return &testServer{srv: New(eng, opts), eng: eng, st: st}
}

// decision makes a new decision offering "offer" and returns its id.
func (s *testServer) decision(t *testing.T) string {
	t.Helper()
	res, err := s.eng.Decide(context.Background(), engine.DecideRequest{CustomerID: "c1", Channel: "web"})
	if err != nil || len(res.Actions) != 1 {
		t.Fatalf("decide: %+v, %v", res, err)
	}
	return string(res.DecisionID)
}

// do sends one request through the fiber app and checks the contract: no 5xx, a JSON
// body, and an error code on every error.
func (s *testServer) do(t *testing.T, method, path string, body []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Host = "127.0.0.1" // not httptest's example.com, which --insecure-local refuses
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.srv.App().Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s %q: %v", method, path, body, err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s %q: status %d: %s", method, path, body, resp.StatusCode, raw)
	}
	if !json.Valid(raw) {
		t.Fatalf("%s %s %q: status %d, body is not JSON: %q", method, path, body, resp.StatusCode, raw)
	}
	if resp.StatusCode >= 300 {
		var eb wire.ErrorBody
		if err := json.Unmarshal(raw, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			t.Fatalf("%s %s %q: status %d, error body without code and message: %s", method, path, body, resp.StatusCode, raw)
		}
	}
}

// checkAPIError fails unless err is nil or an *engine.Error with a code, which the
// API answers with a 4xx that names it.
func checkAPIError(t *testing.T, what string, body []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ee *engine.Error
	if !errors.As(err, &ee) || ee.Code == "" || ee.Kind == nil {
		t.Fatalf("%s %q: error %v (%T) is not an engine error with a code", what, body, err, err)
	}
	if st, _, _ := status(err); st < 400 || st >= 500 {
		t.Fatalf("%s %q: error %v maps to status %d, want 4xx", what, body, err, st)
	}
}

// decodeObject runs decode and then object on one field, as the handlers do.
func decodeObject(t *testing.T, what string, body []byte, v any, field func() json.RawMessage) map[string]any {
	t.Helper()
	err := decode(body, v)
	checkAPIError(t, what, body, err)
	if err != nil {
		return nil
	}
	m, err := object(what, field())
	checkAPIError(t, what+" object", body, err)
	return m
}

func FuzzDecodeDecide(f *testing.F) {
	for _, s := range []string{
		`{"customer_id": "c1", "channel": "web"}`,
		`{"customer_id": "c1", "channel": "web", "context": {"segment": "student", "hour": 13, "basket_eur": 42.5, "tags": ["a", "b"], "plan": {"tier": "pro"}}}`,
		`{"customer_id": "c1", "channel": "web", "actions": ["offer", "offer"], "limit": 2, "source": "outbound"}`,
		`{"customer_id": "c1", "channel": "web", "time": "2026-11-22T10:00:00Z", "context": null}`,
		`{"customer_id": "c1", "channel": "web", "context": {"n": -1e999}}`,
		`{"customer_id": "c1", "channel": "web", "context": [1]}`,
		`{"customer_id": "", "channel": "web", "limit": -1}`,
		`{"customer_id": "c1", "channel": "web"} {"trailing": 1}`,
		`{"customer_id": "c1", "channel": "web", "colour": "red"}`,
		`[]`, ``, `null`, `{"limit": 1e400}`,
	} {
		f.Add([]byte(s))
	}
	s := newTestServer(f, true, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		var b decideBody
		m := decodeObject(t, "decide", body, &b, func() json.RawMessage { return b.Context })
		if m != nil {
			checkAPIError(t, "decide context", body, engine.CheckValues("context", m, engine.DefaultOptions().Limits.MaxStringLength, 4))
		}
		s.do(t, "POST", "/v1/decide", body)
	})
}

func FuzzDecodeFeedback(f *testing.F) {
	for _, s := range []string{
		`{"decision_id": "$DECISION", "action_id": "offer", "outcome": "accepted"}`,
		`{"decision_id": "$DECISION", "action_id": "offer", "outcome": "converted", "reward": 19.99}`,
		`{"decision_id": "$DECISION", "action_id": "offer", "outcome": "ignored", "time": "2026-11-22T10:00:00+01:00"}`,
		`{"decision_id": "$DECISION", "action_id": "other", "outcome": "accepted"}`,
		`{"decision_id": "$DECISION", "action_id": "offer", "outcome": "timeout"}`,
		`{"decision_id": "$DECISION", "action_id": "offer", "outcome": "accepted", "reward": 1e13}`,
		`{"decision_id": "0000000000000000ffff", "action_id": "offer", "outcome": "accepted"}`,
		`{"decision_id": 7}`,
		`{"decision_id": "$DECISION", "time": "yesterday"}`,
		``, `{}`, `{"reward": -1e999}`,
	} {
		f.Add([]byte(s))
	}
	s := newTestServer(f, true, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		var b wire.FeedbackRequest
		checkAPIError(t, "feedback", body, decode(body, &b))
		if bytes.Contains(body, []byte(fuzzDecision)) {
			body = bytes.ReplaceAll(body, []byte(fuzzDecision), []byte(s.decision(t)))
		}
		s.do(t, "POST", "/v1/feedback", body)
	})
}

func FuzzDecodeAction(f *testing.F) {
	for _, s := range []string{
		`{"value": 10}`,
		`{"id": "fuzz-action", "issue": "retention", "group": "discounts", "description": "10% off", "channels": ["web", "email"], "value": 25.5, "eligibility": "profile.tenure_months > 12 && context.page == \"cancel\"", "lever": 1.5, "enabled": false}`,
		`{"value": 1, "model": {"form": "full", "prior_mean": -1, "prior_precision": 2, "half_life": 1000, "half_life_unit": "events", "value": true}}`,
		`{"value": 1, "model": {"warm_start_from": "offer", "warm_start_scale": 0.5}}`,
		`{"value": 1, "model": {"warm_start_from": "nobody"}}`,
		`{"value": 1, "eligibility": "profile.age >"}`,
		`{"value": -5}`, `{"value": 1e999}`, `{"value": 1, "lever": -1}`,
		`{"id": "other", "value": 1}`,
		`{"value": 1, "channels": ["bad channel"]}`,
		`{"value": "ten"}`, `{"issue": "sales"}`, ``,
		`{"value": "0.5 * (profile.monthly_spend ?? 0)", "cost": "0.2 * (profile.monthly_spend ?? 0) * 12", "contact_cost": 0.5}`,
		`{"value": 0, "cost": "1 / 0", "objective": "churn"}`, `{"value": 0, "cost": "profile.plan"}`, `{"value": 0, "cost": -1}`,
		`{"value": 1, "objective": "nps"}`, `{"value": 1, "contact_cost": true}`,
	} {
		f.Add([]byte(s))
	}
	s := newTestServer(f, true, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		var b wire.ActionRequest
		err := decode(body, &b)
		checkAPIError(t, "action", body, err)
		if err == nil && b.Value != nil {
			a := engine.Action{ID: "fuzz-action", Issue: b.Issue, Group: b.Group, Description: b.Description, Channels: b.Channels, Value: b.Value.Const, ValueExpr: b.Value.Expr,
				Cost: b.Cost, ContactCost: b.ContactCost, Objective: b.Objective, Eligibility: b.Eligibility, Model: b.Model, Enabled: true, Lever: 1}
			if b.Lever != nil {
				a.Lever = *b.Lever
			}
			checkAPIError(t, "action", body, a.Validate())
		}
		s.do(t, "PUT", "/v1/actions/fuzz-action", body)
	})
}

func FuzzDecodeCustomer(f *testing.F) {
	for _, s := range []string{
		`{"attributes": {"age": 34, "segment": "family", "tenure_months": 27, "vip": true}}`,
		`{"attributes": {"age": null, "address": {"city": "Lyon", "geo": [45.76, 4.84]}}}`,
		`{"attributes": {}}`,
		`{"attributes": null}`,
		`{"attributes": [1, 2]}`,
		`{"attributes": {"a": {"b": {"c": {"d": {"e": 1}}}}}}`,
		`{"attributes": {"n": 1e999}}`,
		`{}`, `{"attrs": {}}`, ``,
	} {
		f.Add([]byte(s))
	}
	s := newTestServer(f, true, nil)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, body []byte) {
		var b customerBody
		m := decodeObject(t, "customer", body, &b, func() json.RawMessage { return b.Attributes })
		if m != nil {
			checkAPIError(t, "customer attributes", body, engine.CheckValues("attributes", m, engine.DefaultOptions().Limits.MaxStringLength, 4))
		}
		// A new customer each time: merged profiles would grow and make inputs depend on
		// each other.
		s.do(t, "PUT", fmt.Sprintf("/v1/customers/fuzz-%d", n.Add(1)), body)
	})
}
