package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/service"
)

// TestBadInput sends malformed, mistyped, oversized and dangling requests to every
// endpoint and checks the status, the JSON error code, and that nothing was written.
func TestBadInput(t *testing.T) {
	s := startServer(t, t.TempDir(), func(o *service.Options) {
		o.HTTP.BodyLimitKB = 64
		o.Engine.Limits.MaxContextFields = 50
		o.Engine.Limits.MaxActionsPerRequest = 10
	})
	defer s.stop()
	if code := s.call("PUT", "/v1/actions/offer", `{"value": 10, "channels": ["web"]}`, nil); code != 200 {
		t.Fatalf("setup: put action: %d", code)
	}
	var d engine.DecideResult
	if code := s.call("POST", "/v1/decide", `{"customer_id": "c1", "channel": "web"}`, &d); code != 200 || len(d.Actions) != 1 {
		t.Fatalf("setup: decide: %d %+v", code, d)
	}

	big := `{"customer_id": "c1", "channel": "web", "context": {"blob": "` + strings.Repeat("x", 70<<10) + `"}}`
	manyFields := map[string]any{}
	for i := range 51 {
		manyFields[fmt.Sprintf("f%d", i)] = i
	}
	manyActions := []string{}
	for i := range 11 {
		manyActions = append(manyActions, fmt.Sprintf("a%d", i))
	}
	longString := strings.Repeat("y", 2000)

	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		// actions
		{"action malformed JSON", "PUT", "/v1/actions/x", `{"value": 1`, 400, "invalid_json"},
		{"action empty body", "PUT", "/v1/actions/x", ``, 400, "invalid_json"},
		{"action wrong type", "PUT", "/v1/actions/x", `{"value": true}`, 400, "invalid_type"},
		{"action value expression that does not compile", "PUT", "/v1/actions/x", `{"value": "ten"}`, 422, "invalid_expression"},
		{"action cost wrong type", "PUT", "/v1/actions/x", `{"value": 1, "cost": [1]}`, 400, "invalid_type"},
		{"action cost expression of the wrong type", "PUT", "/v1/actions/x", `{"value": 1, "cost": "(profile.tenure_months ?? 0) > 3"}`, 422, "invalid_expression"},
		{"action negative contact cost", "PUT", "/v1/actions/x", `{"value": 1, "contact_cost": -1}`, 400, "invalid_field"},
		{"action undefined objective", "PUT", "/v1/actions/x", `{"value": 0, "objective": "churn"}`, 422, "unknown_objective"},
		{"objective horizon zero", "PUT", "/v1/objectives/churn", `{"value": -100, "horizon": "0s"}`, 400, "invalid_field"},
		{"objective horizon of years", "PUT", "/v1/objectives/churn", `{"value": -100, "horizon": "1000d"}`, 400, "invalid_field"},
		{"objective horizon not a duration", "PUT", "/v1/objectives/churn", `{"value": -100, "horizon": "soon"}`, 400, "invalid_field"},
		{"objective of an outcome that cannot be one", "PUT", "/v1/objectives/nps", `{"value": 1, "horizon": "14d"}`, 400, "invalid_field"},
		{"objective value expression that does not compile", "PUT", "/v1/objectives/churn", `{"value": "-12 * profile.", "horizon": "14d"}`, 422, "invalid_expression"},
		{"objective without a horizon", "PUT", "/v1/objectives/churn", `{"value": -100}`, 400, "invalid_field"},
		{"outcome in the future", "POST", "/v1/outcomes", `{"customer_id": "c1", "type": "churn", "time": "2099-01-01T00:00:00Z"}`, 400, "invalid_field"},
		{"revenue outcome negative", "POST", "/v1/outcomes", `{"customer_id": "c1", "type": "revenue", "value": -5}`, 400, "invalid_field"},
		{"action unknown field", "PUT", "/v1/actions/x", `{"value": 1, "colour": "red"}`, 400, "unknown_field"},
		{"action missing value", "PUT", "/v1/actions/x", `{"issue": "sales"}`, 400, "invalid_field"},
		{"action negative value", "PUT", "/v1/actions/x", `{"value": -5}`, 400, "invalid_field"},
		{"action huge number", "PUT", "/v1/actions/x", `{"value": 1e999}`, 400, "invalid_number"},
		{"decide huge number in context", "POST", "/v1/decide", `{"customer_id": "c1", "channel": "web", "context": {"n": -1e999}}`, 400, "invalid_number"},
		{"action bad id", "PUT", "/v1/actions/bad%20id", `{"value": 1}`, 400, "invalid_id"},
		{"action id mismatch", "PUT", "/v1/actions/x", `{"id": "y", "value": 1}`, 400, "invalid_field"},
		{"action bad expression", "PUT", "/v1/actions/x", `{"value": 1, "eligibility": "profile.age >>> 3"}`, 422, "invalid_expression"},
		{"action trailing data", "PUT", "/v1/actions/x", `{"value": 1} {}`, 400, "invalid_json"},
		{"action unknown", "GET", "/v1/actions/nope", nil, 404, "unknown_action"},
		{"delete unknown action", "DELETE", "/v1/actions/nope", nil, 404, "unknown_action"},
		// customers
		{"customer not an object", "PUT", "/v1/customers/c9", `{"attributes": [1, 2]}`, 400, "invalid_type"},
		{"customer missing attributes", "PUT", "/v1/customers/c9", `{}`, 400, "invalid_field"},
		{"customer long string", "PUT", "/v1/customers/c9", map[string]any{"attributes": map[string]any{"note": longString}}, 413, "string_too_long"},
		{"customer unknown", "GET", "/v1/customers/nobody", nil, 404, "unknown_customer"},
		// decide
		{"decide malformed", "POST", "/v1/decide", `{"customer_id": `, 400, "invalid_json"},
		{"decide no customer", "POST", "/v1/decide", `{"channel": "web"}`, 400, "invalid_field"},
		{"decide no channel", "POST", "/v1/decide", `{"customer_id": "c1"}`, 400, "invalid_field"},
		{"decide context wrong type", "POST", "/v1/decide", `{"customer_id": "c1", "channel": "web", "context": "hello"}`, 400, "invalid_type"},
		{"decide limit wrong type", "POST", "/v1/decide", `{"customer_id": "c1", "channel": "web", "limit": "two"}`, 400, "invalid_type"},
		{"decide limit too big", "POST", "/v1/decide", `{"customer_id": "c1", "channel": "web", "limit": 100000}`, 400, "invalid_field"},
		{"decide unknown action", "POST", "/v1/decide", `{"customer_id": "c1", "channel": "web", "actions": ["nope"]}`, 404, "unknown_action"},
		{"decide too many actions", "POST", "/v1/decide", map[string]any{"customer_id": "c1", "channel": "web", "actions": manyActions}, 413, "too_many_actions"},
		{"decide too many fields", "POST", "/v1/decide", map[string]any{"customer_id": "c1", "channel": "web", "context": manyFields}, 413, "too_many_fields"},
		{"decide body too large", "POST", "/v1/decide", big, 413, "body_too_large"},
		{"decide nested too deep", "POST", "/v1/decide", `{"customer_id": "c1", "channel": "web", "context": {"a": {"b": {"c": {"d": {"e": 1}}}}}}`, 400, "too_deep"},
		{"decide bad time", "POST", "/v1/decide", `{"customer_id": "c1", "channel": "web", "time": "yesterday"}`, 400, "invalid_type"},
		// feedback
		{"feedback malformed", "POST", "/v1/feedback", `{"decision_id"`, 400, "invalid_json"},
		{"feedback unknown decision", "POST", "/v1/feedback", `{"decision_id": "0000000000000000aaaa", "action_id": "offer", "outcome": "accepted"}`, 404, "unknown_decision"},
		{"feedback bad outcome", "POST", "/v1/feedback", map[string]any{"decision_id": d.DecisionID, "action_id": "offer", "outcome": "loved it"}, 400, "invalid_field"},
		{"feedback action not offered", "POST", "/v1/feedback", map[string]any{"decision_id": d.DecisionID, "action_id": "other", "outcome": "accepted"}, 422, "action_not_offered"},
		{"feedback reward wrong type", "POST", "/v1/feedback", map[string]any{"decision_id": d.DecisionID, "action_id": "offer", "outcome": "accepted", "reward": "lots"}, 400, "invalid_type"},
		// models
		{"model unknown", "GET", "/v1/models/nope", nil, 404, "unknown_action"},
		{"model bad top", "GET", "/v1/models/offer?top=0", nil, 400, "invalid_query"},
		{"versions unknown", "GET", "/v1/models/nope/versions", nil, 404, "unknown_action"},
		{"rollback no version", "POST", "/v1/models/offer/rollback", `{}`, 400, "invalid_field"},
		{"rollback missing version", "POST", "/v1/models/offer/rollback", `{"version": 77}`, 404, "unknown_version"},
		{"rollback negative version", "POST", "/v1/models/offer/rollback", `{"version": -1}`, 400, "invalid_type"},
		// decision log
		{"decisions bad since", "GET", "/v1/decisions?since=last-tuesday", nil, 400, "invalid_query"},
		{"decision unknown", "GET", "/v1/decisions/nope", nil, 404, "unknown_decision"},
		// schema
		{"schema garbage", "PUT", "/v1/schema", `fields: [[[`, 422, "invalid_schema"},
		{"schema empty", "PUT", "/v1/schema", ``, 400, "invalid_json"},
		// experiments
		{"experiment no arms", "PUT", "/v1/experiments/e", `{"control": "a"}`, 400, "invalid_field"},
		{"experiment weights", "PUT", "/v1/experiments/e", `{"arms": [{"name": "a", "policy": "nba", "weight": 0.7}, {"name": "b", "policy": "legacy", "weight": 0.7}], "control": "b"}`, 400, "invalid_field"},
		{"experiment bad policy", "PUT", "/v1/experiments/e", `{"arms": [{"name": "a", "policy": "magic", "weight": 1}], "control": "a"}`, 400, "invalid_field"},
		{"experiment unknown control", "PUT", "/v1/experiments/e", `{"arms": [{"name": "a", "policy": "nba", "weight": 1}], "control": "z"}`, 400, "invalid_field"},
		{"experiment bad population", "PUT", "/v1/experiments/e", `{"arms": [{"name": "a", "policy": "nba", "weight": 1}], "control": "a", "population": "profile.x ==="}`, 422, "invalid_expression"},
		{"experiment bad metric", "PUT", "/v1/experiments/e", `{"arms": [{"name": "a", "policy": "nba", "weight": 1}], "control": "a", "metrics": ["happiness"]}`, 400, "invalid_field"},
		{"experiment bad state", "PUT", "/v1/experiments/e", `{"arms": [{"name": "a", "policy": "nba", "weight": 1}], "control": "a", "state": "paused"}`, 400, "invalid_field"},
		{"experiment end before start", "PUT", "/v1/experiments/e", `{"arms": [{"name": "a", "policy": "nba", "weight": 1}], "control": "a", "start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}`, 400, "invalid_field"},
		{"experiment unknown", "GET", "/v1/experiments/nope", nil, 404, "unknown_experiment"},
		{"report unknown", "GET", "/v1/experiments/nope/report", nil, 404, "unknown_experiment"},
		{"assignment unknown experiment", "GET", "/v1/experiments/nope/assignments/c1", nil, 404, "unknown_experiment"},
		// campaigns
		{"campaign unknown action", "PUT", "/v1/campaigns/k", `{"action": "nope", "channel": "email", "segment": "true"}`, 422, "unknown_action"},
		{"campaign bad schedule", "PUT", "/v1/campaigns/k", `{"action": "offer", "channel": "email", "segment": "true", "schedule": "every tuesday"}`, 422, "invalid_schedule"},
		{"campaign bad segment", "PUT", "/v1/campaigns/k", `{"action": "offer", "channel": "email", "segment": "(("}`, 422, "invalid_expression"},
		{"campaign no channel", "PUT", "/v1/campaigns/k", `{"action": "offer", "segment": "true"}`, 400, "invalid_field"},
		{"campaign negative cap", "PUT", "/v1/campaigns/k", `{"action": "offer", "channel": "email", "cap": -1}`, 400, "invalid_field"},
		{"campaign run unknown", "POST", "/v1/campaigns/nope/run", nil, 404, "unknown_campaign"},
		{"outbound bad channel", "POST", "/v1/outbound/run", `{"channel": "no way"}`, 400, "invalid_field"},
		{"outbound feed no channel", "GET", "/v1/outbound", nil, 400, "invalid_query"},
		// outcomes
		{"outcome bad type", "POST", "/v1/outcomes", `{"customer_id": "c1", "type": "delight"}`, 400, "invalid_field"},
		{"outcome nps out of range", "POST", "/v1/outcomes", `{"customer_id": "c1", "type": "nps", "value": 11}`, 400, "invalid_field"},
		{"outcome nps fraction", "POST", "/v1/outcomes", `{"customer_id": "c1", "type": "nps", "value": 7.5}`, 400, "invalid_field"},
		{"outcome negative discount", "POST", "/v1/outcomes", `{"customer_id": "c1", "type": "retention_discount", "value": -3}`, 400, "invalid_field"},
		{"outcome no customer", "POST", "/v1/outcomes", `{"type": "churn"}`, 400, "invalid_field"},
		{"outcome empty batch", "POST", "/v1/outcomes", `[]`, 400, "invalid_field"},
		{"outcome batch one bad", "POST", "/v1/outcomes", `[{"customer_id": "c1", "type": "churn"}, {"customer_id": "c2", "type": "nps", "value": 99}]`, 400, "invalid_field"},
		{"outcome churn value", "POST", "/v1/outcomes", `{"customer_id": "c1", "type": "churn", "value": 3}`, 400, "invalid_field"},
		// off-policy evaluations
		{"evaluation malformed", "POST", "/v1/evaluations", `{"policies": [`, 400, "invalid_json"},
		{"evaluation unknown field", "POST", "/v1/evaluations", `{"policies": [{"type": "logged"}], "estimator": "magic"}`, 400, "unknown_field"},
		{"evaluation no policies", "POST", "/v1/evaluations", `{}`, 400, "invalid_field"},
		{"evaluation bad type", "POST", "/v1/evaluations", `{"policies": [{"type": "greedy"}]}`, 400, "invalid_field"},
		{"evaluation unknown action", "POST", "/v1/evaluations", `{"policies": [{"type": "always", "action": "nope"}]}`, 422, "unknown_action"},
		{"evaluation unknown action changed", "POST", "/v1/evaluations", `{"policies": [{"type": "nba", "actions": {"nope": {"enabled": false}}}]}`, 422, "unknown_action"},
		{"evaluation empty window", "POST", "/v1/evaluations", `{"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z", "policies": [{"type": "logged"}]}`, 400, "empty_window"},
		{"evaluation bad time", "POST", "/v1/evaluations", `{"since": "last week", "policies": [{"type": "logged"}]}`, 400, "invalid_type"},
		{"evaluation bad alpha", "POST", "/v1/evaluations", `{"policies": [{"type": "nba", "alpha": -2}]}`, 400, "invalid_field"},
		{"evaluation unknown", "GET", "/v1/evaluations/ev-nope", nil, 404, "unknown_evaluation"},
		{"evaluation cancel unknown", "DELETE", "/v1/evaluations/ev-nope", nil, 404, "unknown_evaluation"},
		// power and clock
		{"power both", "GET", "/v1/power?kind=binary&baseline=0.1&mde=0.01&n=100", nil, 400, "invalid_query"},
		{"power bad kind", "GET", "/v1/power?kind=fancy&mde=0.1", nil, 400, "invalid_query"},
		{"power bad baseline", "GET", "/v1/power?kind=binary&baseline=1.5&mde=0.01", nil, 400, "invalid_query"},
		{"clock not manual", "POST", "/v1/clock", `{"advance": "1h"}`, 422, "clock_not_manual"},
		// routing
		{"unknown endpoint", "GET", "/v1/nothing-here", nil, 404, "not_found"},
		{"wrong method", "PATCH", "/v1/decide", `{}`, 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var er wire.ErrorBody
			got := s.call(c.method, c.path, c.body, &er)
			if got != c.status || er.Error.Code != c.code {
				t.Fatalf("status %d code %q (%s); want %d %q", got, er.Error.Code, er.Error.Message, c.status, c.code)
			}
			if er.Error.Message == "" {
				t.Fatal("error without a message")
			}
		})
	}

	// Nothing half-written: one action, one decision logged, no feedback learned.
	ctx, c := t.Context(), s.client()
	if acts, err := c.Actions(ctx); err != nil || len(acts) != 1 {
		t.Errorf("%d actions after bad input (%v), want 1", len(acts), err)
	}
	if m, err := c.Model(ctx, "offer", 0); err != nil || m.Health.Responses != 0 {
		t.Errorf("model learned %d responses from bad feedback (%v)", m.Health.Responses, err)
	}
	if _, err := c.Customer(ctx, "c9"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("customer c9 exists after only bad writes (%v)", err)
	}
	xs, err := c.Experiments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := c.Campaigns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) != 0 || len(cs) != 0 {
		t.Errorf("bad input created %d experiments and %d campaigns", len(xs), len(cs))
	}
}
