package client_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
	"github.com/nextbest/nextbest/export"
	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/offpolicy"
)

// TestEveryRouteHasAMethod calls every method of the client against a real server, in
// the order a deployment would (catalog, customers, decisions, experiments, outbound,
// keys, operations), checks what each returns, and fails if a route of the server has no
// step here, or a step names a route the server does not have: a new route needs a
// method (and a step).
func TestEveryRouteHasAMethod(t *testing.T) {
	s := startServer(t, func(o *api.Options) {
		o.RateLimits = map[access.Role]int{access.Analyst: 1} // for the 429 step
	})
	ctx := context.Background()
	c := client.New(s.url, client.WithKey(s.admin), client.WithUserAgent("client-test"))
	var (
		decision   engine.DecisionID
		viewer     wire.CreatedKey
		evaluation string
	)
	steps := []struct {
		route string // METHOD and the route's pattern, as the server declares it
		run   func(t *testing.T)
	}{
		{"GET /healthz", func(t *testing.T) {
			h, err := c.Healthz(ctx)
			if err != nil || h.Status != "ok" {
				t.Fatalf("healthz: %+v, %v", h, err)
			}
		}},
		{"GET /readyz", func(t *testing.T) {
			h, err := c.Readyz(ctx)
			if err != nil || h.Status != "ready" {
				t.Fatalf("readyz: %+v, %v", h, err)
			}
		}},
		{"GET /v1/clock", func(t *testing.T) {
			ck, err := c.Clock(ctx)
			if err != nil || ck.Mode != "manual" || !ck.Now.Equal(t0) {
				t.Fatalf("clock: %+v, %v; want manual at %s", ck, err, t0)
			}
		}},
		{"GET /v1/cluster", func(t *testing.T) {
			cl, err := c.Cluster(ctx)
			if err != nil || cl.Clustered || cl.Replicas != nil {
				t.Fatalf("cluster: %+v, %v; want a single node", cl, err)
			}
		}},
		{"PUT /v1/schema", func(t *testing.T) {
			sc, err := c.PutSchema(ctx, []byte(`{"fields": [{"name": "plan", "source": "context", "type": "categorical", "vocabulary": ["basic", "plus", "pro"]}]}`))
			if err != nil || sc.Mode != "schema" || sc.Dim == 0 || sc.Schema == nil || sc.Schema.Fields[0].Name != "plan" {
				t.Fatalf("put schema: %+v, %v", sc, err)
			}
			// YAML goes without a Content-Type, which the API takes.
			yaml := "fields:\n  - name: plan\n    source: context\n    type: categorical\n    vocabulary: [basic, plus, pro]\n"
			if _, err := c.PutSchema(ctx, []byte(yaml)); err != nil {
				t.Fatalf("put schema as YAML: %v", err)
			}
		}},
		{"GET /v1/schema", func(t *testing.T) {
			sc, err := c.Schema(ctx)
			if err != nil || sc.Mode != "schema" || len(sc.Schema.Fields) != 1 || sc.Schema.Fields[0].Kind != features.Categorical {
				t.Fatalf("schema: %+v, %v", sc, err)
			}
		}},
		{"PUT /v1/objectives/:outcome", func(t *testing.T) {
			o, err := c.PutObjective(ctx, "churn", wire.ObjectiveRequest{Value: &engine.Money{Const: -120}, Horizon: new("14d")})
			if err != nil || o.Outcome != "churn" || o.Value.Const != -120 || time.Duration(o.Horizon) != 14*24*time.Hour {
				t.Fatalf("put objective: %+v, %v", o, err)
			}
		}},
		{"GET /v1/objectives/:outcome", func(t *testing.T) {
			o, err := c.Objective(ctx, "churn")
			if err != nil || o.Value.Const != -120 {
				t.Fatalf("objective: %+v, %v", o, err)
			}
		}},
		{"GET /v1/objectives", func(t *testing.T) {
			os, err := c.Objectives(ctx)
			if err != nil || len(os) != 1 || os[0].Outcome != "churn" {
				t.Fatalf("objectives: %+v, %v", os, err)
			}
		}},
		{"PUT /v1/actions/:id", func(t *testing.T) {
			a, err := c.PutAction(ctx, "offer", wire.ActionRequest{Issue: "retention", Value: &engine.Money{Expr: "2 * (profile.spend ?? 1)"}, Channels: []string{"web", "email"},
				Eligibility: `context.plan != "pro" || true`, Lever: new(1.5)})
			if err != nil || a.ID != "offer" || a.ValueExpr != "2 * (profile.spend ?? 1)" || a.Lever != 1.5 || !a.Enabled {
				t.Fatalf("put action: %+v, %v", a, err)
			}
			if _, err := c.PutAction(ctx, "churn-save", wire.ActionRequest{Value: &engine.Money{}, Objective: "churn", Channels: []string{"email"}}); err != nil {
				t.Fatal(err)
			}
			// 422: a rule that does not compile; 400: a field the API does not know of.
			_, err = c.PutAction(ctx, "bad", wire.ActionRequest{Value: &engine.Money{Const: 1}, Eligibility: "profile.age >"})
			wantError(t, err, engine.ErrUnprocessable, http.StatusUnprocessableEntity, "")
			_, err = c.PutAction(ctx, "bad", wire.ActionRequest{})
			wantError(t, err, engine.ErrInvalid, http.StatusBadRequest, "invalid_field")
		}},
		{"GET /v1/actions/:id", func(t *testing.T) {
			a, err := c.Action(ctx, "offer")
			if err != nil || a.Issue != "retention" || !slices.Equal(a.Channels, []string{"web", "email"}) {
				t.Fatalf("action: %+v, %v", a, err)
			}
			_, err = c.Action(ctx, "nothing")
			wantError(t, err, engine.ErrNotFound, http.StatusNotFound, "unknown_action")
			// ActionRequestOf puts an action back as it was.
			back, err := c.PutAction(ctx, "offer", wire.ActionRequestOf(a))
			if err != nil || back.ValueExpr != a.ValueExpr || back.Lever != a.Lever || back.Eligibility != a.Eligibility {
				t.Fatalf("put back: %+v, %v; want %+v", back, err, a)
			}
		}},
		{"GET /v1/actions", func(t *testing.T) {
			as, err := c.Actions(ctx)
			if err != nil || len(as) != 2 {
				t.Fatalf("actions: %+v, %v", as, err)
			}
		}},
		{"PUT /v1/customers/:id", func(t *testing.T) {
			cu, err := c.PutCustomer(ctx, "c1", map[string]any{"spend": 40, "plan": "plus"})
			if err != nil || cu.ID != "c1" || cu.Attributes["spend"] != 40.0 {
				t.Fatalf("put customer: %+v, %v", cu, err)
			}
		}},
		{"GET /v1/customers/:id", func(t *testing.T) {
			cu, err := c.Customer(ctx, "c1")
			if err != nil || cu.Attributes["plan"] != "plus" {
				t.Fatalf("customer: %+v, %v", cu, err)
			}
			_, err = c.Customer(ctx, "c2")
			wantError(t, err, engine.ErrNotFound, http.StatusNotFound, "")
		}},
		{"POST /v1/decide", func(t *testing.T) {
			res, err := c.Decide(ctx, wire.DecideRequest{CustomerID: "c1", Channel: "web", Context: map[string]any{"plan": "plus", "n": 3}, Actions: []engine.ActionID{"offer"}})
			if err != nil || res.CustomerID != "c1" || res.NoAction || len(res.Actions) != 1 || res.Actions[0].ID != "offer" || res.Actions[0].Value != 80 {
				t.Fatalf("decide: %+v, %v; want offer, worth 2 * 40", res, err)
			}
			decision = res.DecisionID
			_, err = c.Decide(ctx, wire.DecideRequest{CustomerID: "c1", Channel: "web", Limit: -1})
			wantError(t, err, engine.ErrInvalid, http.StatusBadRequest, "invalid_field")
		}},
		{"POST /v1/feedback", func(t *testing.T) {
			res, err := c.Feedback(ctx, wire.FeedbackRequest{DecisionID: decision, ActionID: "offer", Outcome: engine.Accepted})
			if err != nil || res.Duplicate || res.Seq == 0 {
				t.Fatalf("feedback: %+v, %v", res, err)
			}
			res, err = c.Feedback(ctx, wire.FeedbackRequest{DecisionID: decision, ActionID: "offer", Outcome: engine.Accepted})
			if err != nil || !res.Duplicate {
				t.Fatalf("feedback again: %+v, %v; want a duplicate", res, err)
			}
		}},
		{"GET /v1/decisions/:id", func(t *testing.T) {
			d, err := c.Decision(ctx, decision)
			if err != nil || d.ID != decision || !slices.Equal(d.Chosen, []engine.ActionID{"offer"}) || string(d.Context) != `{"n":3,"plan":"plus"}` {
				t.Fatalf("decision: %+v, %v", d, err)
			}
		}},
		{"GET /v1/decisions", func(t *testing.T) {
			for range 2 {
				if _, err := c.Decide(ctx, wire.DecideRequest{CustomerID: "c1", Channel: "web"}); err != nil {
					t.Fatal(err)
				}
			}
			// Decision records are written in batches after the answer: wait for them.
			var ids []engine.DecisionID
			var err error
			for deadline := time.Now().Add(10 * time.Second); len(ids) < 3 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				ids = ids[:0]
				err = c.Decisions(ctx, client.DecisionsQuery{Since: t0.Add(-time.Hour)}, func(d *engine.Decision) error { ids = append(ids, d.ID); return nil })
			}
			if err != nil || len(ids) != 3 || !slices.Contains(ids, decision) {
				t.Fatalf("decisions: %v, %v; want 3, %s among them", ids, err, decision)
			}
			ids = ids[:0]
			err = c.Decisions(ctx, client.DecisionsQuery{Limit: 2}, func(d *engine.Decision) error { ids = append(ids, d.ID); return nil })
			if err != nil || len(ids) != 2 {
				t.Fatalf("2 decisions: %v, %v", ids, err)
			}
			stop := errors.New("stop")
			n := 0
			err = c.Decisions(ctx, client.DecisionsQuery{}, func(*engine.Decision) error { n++; return stop })
			if !errors.Is(err, stop) || n != 1 {
				t.Fatalf("a callback's error: %v after %d; want it back after one", err, n)
			}
		}},
		{"GET /v1/decisions/export", func(t *testing.T) {
			var jl, pq bytes.Buffer
			if err := c.ExportDecisions(ctx, client.ExportQuery{Format: "jsonl", Since: t0.Add(-time.Hour).Format(time.RFC3339)}, &jl); err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(jl.Bytes(), []byte("\n")); n != 3 || !bytes.Contains(jl.Bytes(), []byte(`"decision_id":"`+string(decision)+`"`)) {
				t.Fatalf("JSON lines export: %d lines, want 3 with %s\n%s", n, decision, jl.String())
			}
			if err := c.ExportDecisions(ctx, client.ExportQuery{}, &pq); err != nil {
				t.Fatal(err)
			}
			if sum, err := export.Verify(bytes.NewReader(pq.Bytes()), int64(pq.Len())); err != nil || sum.Rows != 3 {
				t.Fatalf("Parquet export: %+v, %v; want 3 rows", sum, err)
			}
			var none bytes.Buffer
			err := c.ExportDecisions(ctx, client.ExportQuery{Format: "csv"}, &none)
			if !errors.Is(err, engine.ErrInvalid) || engine.ErrorCode(err) != "invalid_query" || none.Len() != 0 {
				t.Fatalf("an unknown format: %v, %d bytes; want invalid_query and nothing written", err, none.Len())
			}
		}},
		{"GET /v1/models/:id", func(t *testing.T) {
			m, err := c.Model(ctx, "offer", 3)
			if err != nil || m.Action != "offer" || m.Health.Responses != 1 || len(m.TopWeights) > 3 {
				t.Fatalf("model: %+v, %v; want one response, at most 3 weights", m, err)
			}
		}},
		{"GET /v1/models/:id/versions", func(t *testing.T) {
			vs, err := c.ModelVersions(ctx, "offer")
			if err != nil || len(vs) == 0 || vs[0].Action != "offer" {
				t.Fatalf("versions: %+v, %v", vs, err)
			}
		}},
		{"POST /v1/models/:id/rollback", func(t *testing.T) {
			vs, err := c.ModelVersions(ctx, "offer")
			if err != nil {
				t.Fatal(err)
			}
			rb, err := c.Rollback(ctx, "offer", vs[0].Version)
			if err != nil || rb.Action != "offer" || rb.RolledBackTo != vs[0].Version || rb.Version <= vs[len(vs)-1].Version {
				t.Fatalf("rollback: %+v, %v (versions %+v)", rb, err, vs)
			}
		}},
		{"GET /v1/models/:id/uplift", func(t *testing.T) {
			rep, err := c.UpliftReport(ctx, "churn-save", time.Time{})
			if err != nil || rep.Action != "churn-save" || rep.Objective != "churn" {
				t.Fatalf("uplift: %+v, %v", rep, err)
			}
		}},
		{"POST /v1/outcomes", func(t *testing.T) {
			res, err := c.RecordOutcomes(ctx, []wire.Outcome{{ID: "o1", CustomerID: "c1", Type: "nps", Value: new(9.0)}, {CustomerID: "c1", Type: "churn"}})
			if err != nil || res.Accepted != 2 {
				t.Fatalf("outcomes: %+v, %v", res, err)
			}
			res, err = c.RecordOutcomes(ctx, []wire.Outcome{{ID: "o1", CustomerID: "c1", Type: "nps", Value: new(9.0)}})
			if err != nil || res.Duplicates != 1 {
				t.Fatalf("outcome again: %+v, %v; want a duplicate", res, err)
			}
		}},
		{"PUT /v1/campaigns/:id", func(t *testing.T) {
			cp, err := c.PutCampaign(ctx, "save", wire.CampaignRequest{Segment: "true", Action: "offer", Channel: "email", Priority: new(2.0)})
			if err != nil || cp.ID != "save" || cp.Priority != 2 || !cp.Enabled {
				t.Fatalf("put campaign: %+v, %v", cp, err)
			}
		}},
		{"GET /v1/campaigns/:id", func(t *testing.T) {
			cp, err := c.Campaign(ctx, "save")
			if err != nil || cp.Action != "offer" {
				t.Fatalf("campaign: %+v, %v", cp, err)
			}
		}},
		{"GET /v1/campaigns", func(t *testing.T) {
			cs, err := c.Campaigns(ctx)
			if err != nil || len(cs) != 1 {
				t.Fatalf("campaigns: %+v, %v", cs, err)
			}
		}},
		{"POST /v1/campaigns/:id/run", func(t *testing.T) {
			res, err := c.RunCampaign(ctx, "save")
			if err != nil || res.Contacted != 1 {
				t.Fatalf("run campaign: %+v, %v; want c1 contacted", res, err)
			}
		}},
		{"GET /v1/outbound", func(t *testing.T) {
			var items []*wire.OutboundItem
			err := c.Outbound(ctx, client.OutboundQuery{Channel: "email"}, func(it *wire.OutboundItem) error { items = append(items, it); return nil })
			if err != nil || len(items) != 1 || items[0].CustomerID != "c1" || items[0].Source != "campaign" || items[0].Actions[0] != "offer" || items[0].Value != 80 {
				t.Fatalf("outbound: %+v, %v", items, err)
			}
			err = c.Outbound(ctx, client.OutboundQuery{}, func(*wire.OutboundItem) error { return nil })
			wantError(t, err, engine.ErrInvalid, http.StatusBadRequest, "invalid_query")
		}},
		{"POST /v1/outbound/run", func(t *testing.T) {
			res, err := c.RunOutbound(ctx, "email")
			if err != nil || res.Channel != "email" || res.Customers != 1 {
				t.Fatalf("run outbound: %+v, %v", res, err)
			}
		}},
		{"PUT /v1/experiments/:id", func(t *testing.T) {
			x, err := c.PutExperiment(ctx, "x1", wire.ExperimentRequest{Arms: []experiments.Arm{{Name: "nba", Policy: "nba", Weight: 0.5}, {Name: "legacy", Policy: "legacy", Weight: 0.5}},
				Control: "legacy", State: engine.Running})
			if err != nil || x.ID != "x1" || x.State != engine.Running || len(x.Ranges) == 0 {
				t.Fatalf("put experiment: %+v, %v", x, err)
			}
		}},
		{"GET /v1/experiments/:id", func(t *testing.T) {
			x, err := c.Experiment(ctx, "x1")
			if err != nil || x.Control != "legacy" || len(x.Arms) != 2 {
				t.Fatalf("experiment: %+v, %v", x, err)
			}
		}},
		{"GET /v1/experiments", func(t *testing.T) {
			xs, err := c.Experiments(ctx)
			if err != nil || len(xs) != 1 {
				t.Fatalf("experiments: %+v, %v", xs, err)
			}
		}},
		{"GET /v1/experiments/:id/assignments/:customer", func(t *testing.T) {
			a, err := c.Assignment(ctx, "x1", "c1")
			if err != nil || a.Customer != "c1" || (a.Arm != "nba" && a.Arm != "legacy") {
				t.Fatalf("assignment: %+v, %v", a, err)
			}
		}},
		{"GET /v1/experiments/:id/report", func(t *testing.T) {
			if _, err := c.Decide(ctx, wire.DecideRequest{CustomerID: "c1", Channel: "web"}); err != nil {
				t.Fatal(err)
			}
			rep, err := c.Report(ctx, "x1")
			if err != nil || rep.Experiment.ID != "x1" || len(rep.Arms) != 2 {
				t.Fatalf("report: %+v, %v", rep, err)
			}
			var decisions int64
			for _, a := range rep.Arms {
				decisions += a.Decisions
			}
			if decisions != 1 {
				t.Errorf("report counts %d decisions, want the 1 made in the experiment", decisions)
			}
			var csv bytes.Buffer
			if err := c.ReportCSV(ctx, "x1", &csv); err != nil || !strings.HasPrefix(csv.String(), "day,metric,arm,") {
				t.Fatalf("CSV report: %.100q, %v", csv.String(), err)
			}
		}},
		{"GET /v1/power", func(t *testing.T) {
			p, err := c.Power(ctx, client.PowerQuery{Baseline: 0.1, MDE: 0.02})
			if err != nil || p.Inputs.Kind != "binary" || p.Inputs.Level != experiments.DefaultLevel || p.Treatment < 3000 || p.Total != p.Treatment+p.Control {
				// 2 x (1.96 + 0.84)^2 x 0.1 x 0.9 / 0.02^2 is about 3,500 per arm.
				t.Fatalf("power: %+v, %v", p, err)
			}
			p, err = c.Power(ctx, client.PowerQuery{Kind: "mean", SD: 40, N: 5000})
			if err != nil || p.MDE <= 0 || p.Treatment != 5000 || p.Inputs.SD == nil || *p.Inputs.SD != 40 {
				t.Fatalf("power of n: %+v, %v", p, err)
			}
		}},
		{"POST /v1/clock", func(t *testing.T) {
			ck, err := c.AdvanceClock(ctx, wire.ClockRequest{Advance: "36h"})
			if err != nil || !ck.Now.Equal(t0.Add(36*time.Hour)) || len(ck.Ran) != 1 {
				t.Fatalf("advance: %+v, %v", ck, err)
			}
			_, err = c.AdvanceClock(ctx, wire.ClockRequest{Time: &t0})
			wantError(t, err, engine.ErrInvalid, http.StatusBadRequest, "invalid_field")
		}},
		{"DELETE /v1/objectives/:outcome", func(t *testing.T) {
			if _, err := c.DisableAction(ctx, "churn-save"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.PutAction(ctx, "churn-save", wire.ActionRequest{Value: &engine.Money{}, Enabled: new(false)}); err != nil {
				t.Fatal(err)
			}
			if err := c.DeleteObjective(ctx, "churn"); err != nil {
				t.Fatal(err)
			}
			_, err := c.Objective(ctx, "churn")
			wantError(t, err, engine.ErrNotFound, http.StatusNotFound, "")
		}},
		{"DELETE /v1/actions/:id", func(t *testing.T) {
			a, err := c.DisableAction(ctx, "offer")
			if err != nil || a.Enabled {
				t.Fatalf("disable: %+v, %v", a, err)
			}
		}},
		{"POST /v1/keys", func(t *testing.T) {
			var err error
			viewer, err = c.CreateKey(ctx, wire.KeyRequest{Role: access.Viewer, Name: "dashboard"})
			if err != nil || viewer.Role != access.Viewer || viewer.Name != "dashboard" || !strings.HasPrefix(viewer.Secret, "nbk_") || viewer.Hash != nil {
				t.Fatalf("create key: %+v, %v", viewer, err)
			}
			// The viewer reads reports, and nothing else: 403.
			v := client.New(s.url, client.WithKey(viewer.Secret))
			if _, err := v.Report(ctx, "x1"); err != nil {
				t.Fatal(err)
			}
			_, err = v.Actions(ctx)
			wantError(t, err, engine.ErrForbidden, http.StatusForbidden, "forbidden")
			// 429, with the wait the server asks for; then a retry that waits it.
			analyst, err := c.CreateKey(ctx, wire.KeyRequest{Role: access.Analyst})
			if err != nil {
				t.Fatal(err)
			}
			a := client.New(s.url, client.WithKey(analyst.Secret))
			for range 3 { // the limit is 1 a second: one of three requests in a row is refused
				if _, err = a.Clock(ctx); err != nil {
					break
				}
			}
			wantError(t, err, engine.ErrRateLimited, http.StatusTooManyRequests, "rate_limited")
			var ce *client.Error
			if errors.As(err, &ce); ce.RetryAfter != time.Second {
				t.Errorf("Retry-After: %v, want the server's 1s", ce.RetryAfter)
			}
			a = client.New(s.url, client.WithKey(analyst.Secret), client.WithRateLimitRetries(2))
			for range 2 { // at least one of them is refused, and sent again a second later
				if _, err := a.Clock(ctx); err != nil {
					t.Fatalf("with retries: %v", err)
				}
			}
		}},
		{"POST /v1/evaluations", func(t *testing.T) {
			// The log holds the decisions of the steps above; as_of a year on, so that every
			// response timeout has passed.
			b := 0
			job, err := c.StartEvaluation(ctx, engine.EvaluationSpec{AsOf: t0.Add(365 * 24 * time.Hour), Bootstrap: &b,
				Policies: []engine.PolicySpec{{Type: engine.PolicyLogged}, {Type: engine.PolicyUniform}}})
			if err != nil || job.State != engine.JobRunning || job.ID == "" || len(job.Spec.Policies) != 2 {
				t.Fatalf("start evaluation: %+v, %v", job, err)
			}
			evaluation = job.ID
			_, err = c.StartEvaluation(ctx, engine.EvaluationSpec{})
			wantError(t, err, engine.ErrInvalid, http.StatusBadRequest, "invalid_field")
			_, err = c.StartEvaluation(ctx, engine.EvaluationSpec{Policies: []engine.PolicySpec{{Type: engine.PolicyAlways, Action: "nothing"}}})
			wantError(t, err, engine.ErrUnprocessable, http.StatusUnprocessableEntity, "unknown_action")
		}},
		{"GET /v1/evaluations/:id", func(t *testing.T) {
			job, err := c.Evaluation(ctx, evaluation)
			for deadline := time.Now().Add(time.Minute); err == nil && job.State == engine.JobRunning && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
				job, err = c.Evaluation(ctx, evaluation)
			}
			if err != nil || job.State != engine.JobDone || job.Result == nil || job.Result.Evaluated == 0 || len(job.Result.Policies) != 2 {
				t.Fatalf("evaluation: %+v, %v", job, err)
			}
			// The logged policy on its own log: IPS is the observed mean (every weight 1), to
			// rounding.
			lg := job.Result.Policies[0].Response
			if ips, ok := lg.Estimate(offpolicy.MethodIPS); !ok || math.Abs(float64(ips.Value-lg.Logged.Value)) > 1e-12 {
				t.Errorf("the logged policy's IPS %v, observed %v", ips.Value, lg.Logged.Value)
			}
			_, err = c.Evaluation(ctx, "ev-nothing")
			wantError(t, err, engine.ErrNotFound, http.StatusNotFound, "unknown_evaluation")
		}},
		{"GET /v1/evaluations", func(t *testing.T) {
			jobs, err := c.Evaluations(ctx)
			if err != nil || len(jobs) != 1 || jobs[0].ID != evaluation || jobs[0].Result != nil {
				t.Fatalf("evaluations: %+v, %v", jobs, err)
			}
		}},
		{"DELETE /v1/evaluations/:id", func(t *testing.T) {
			job, err := c.CancelEvaluation(ctx, evaluation) // done already: returned as it is
			if err != nil || job.ID != evaluation || job.State != engine.JobDone {
				t.Fatalf("cancel evaluation: %+v, %v", job, err)
			}
			_, err = c.CancelEvaluation(ctx, "ev-nothing")
			wantError(t, err, engine.ErrNotFound, http.StatusNotFound, "unknown_evaluation")
		}},
		{"GET /v1/keys", func(t *testing.T) {
			ks, err := c.Keys(ctx)
			if err != nil || len(ks) != 3 || !slices.ContainsFunc(ks, func(k access.Key) bool { return k.ID == viewer.ID }) {
				t.Fatalf("keys: %+v, %v", ks, err)
			}
		}},
		{"DELETE /v1/keys/:id", func(t *testing.T) {
			k, err := c.RevokeKey(ctx, viewer.ID)
			if err != nil || k.Active() {
				t.Fatalf("revoke: %+v, %v", k, err)
			}
			_, err = client.New(s.url, client.WithKey(viewer.Secret)).Actions(ctx)
			wantError(t, err, engine.ErrUnauthenticated, http.StatusUnauthorized, "invalid_key")
			_, err = client.New(s.url).Actions(ctx)
			wantError(t, err, engine.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated")
			_, err = c.RevokeKey(ctx, "00000000")
			wantError(t, err, engine.ErrNotFound, http.StatusNotFound, "unknown_key")
		}},
		{"GET /metrics", func(t *testing.T) {
			m, err := c.Metrics(ctx)
			if err != nil || !bytes.Contains(m, []byte(`route="/v1/decide"`)) {
				t.Fatalf("metrics: %v\n%s", err, m)
			}
		}},
		{"GET /v1/openapi.yaml", func(t *testing.T) {
			doc, err := c.OpenAPI(ctx)
			if err != nil || !bytes.HasPrefix(doc, []byte("openapi: 3.1")) || !bytes.Equal(doc, api.OpenAPI()) {
				t.Fatalf("openapi: %v\n%.200s", err, doc)
			}
		}},
		{"GET /v1/admin/backup", func(t *testing.T) {
			var b bytes.Buffer
			if err := c.Backup(ctx, &b); err != nil || !bytes.HasPrefix(b.Bytes(), []byte("NXBK")) || b.Len() < 1000 {
				t.Fatalf("backup: %d bytes (%.8q), %v", b.Len(), b.Bytes(), err)
			}
		}},
		{"GET /v1/admin/debug/pprof*", func(t *testing.T) {
			var b bytes.Buffer
			if err := c.Profile(ctx, "heap", 0, &b); err != nil || b.Len() == 0 {
				t.Fatalf("heap profile: %d bytes, %v", b.Len(), err)
			}
		}},
	}
	done := map[string]bool{}
	for _, st := range steps {
		if !t.Run(st.route, st.run) {
			t.FailNow()
		}
		done[st.route] = true
	}

	// The server's routes, as its router has them (fiber adds HEAD for each GET).
	routes := map[string]bool{}
	for _, r := range s.srv.App().GetRoutes(true) {
		if r.Method != fiber.MethodHead {
			routes[r.Method+" "+r.Path] = true
		}
	}
	// GET /docs is the reference rendered as a page for people, as the dashboards' pages
	// are; a program reads GET /v1/openapi.yaml (OpenAPI, above).
	delete(routes, "GET /docs")
	for r := range routes {
		if !done[r] {
			t.Errorf("route %s has no client method (or no step in this test)", r)
		}
	}
	for r := range done {
		if !routes[r] {
			t.Errorf("step %s names no route of the server", r)
		}
	}
}

// wantError checks that err is the client's *Error with the status, kind and (unless
// empty) code.
func wantError(t *testing.T, err error, kind error, status int, code string) {
	t.Helper()
	var ce *client.Error
	var ee *engine.Error
	switch {
	case !errors.As(err, &ce):
		t.Fatalf("error %v (%T), want a *client.Error", err, err)
	case ce.Status != status || !errors.Is(err, kind) || !errors.As(err, &ee) || ee.Message == "":
		t.Fatalf("error %v: status %d, kind %v; want %d, %v, and a message", err, ce.Status, ce.Err.Kind, status, kind)
	case code != "" && engine.ErrorCode(err) != code:
		t.Fatalf("error %v: code %q, want %q", err, engine.ErrorCode(err), code)
	}
}

// TestErrorsOfOtherServers: an answer that is not nextbest's JSON error (a proxy's page,
// an empty body) still gives a *client.Error with the status and the engine's kind for it;
// a server that does not answer gives the transport's error, with the route.
func TestErrorsOfOtherServers(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/actions":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
		case "/v1/clock":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer proxy.Close()
	ctx := context.Background()
	c := client.New(proxy.URL)
	_, err := c.Actions(ctx)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusBadGateway || ce.Err.Kind != nil || engine.ErrorCode(err) != "" ||
		err.Error() != `GET /v1/actions: 502: Bad Gateway, and a body that is not a nextbest error: "<html><body>502 Bad Gateway</body></html>"` {
		t.Errorf("502 with HTML: %v (%#v)", err, ce)
	}
	_, err = c.Clock(ctx)
	if !errors.As(err, &ce) || !errors.Is(err, engine.ErrUnavailable) || ce.RetryAfter != 7*time.Second || !strings.Contains(err.Error(), "503: Service Unavailable, and no body") {
		t.Errorf("503 without a body: %v (%#v)", err, ce)
	}
	proxy.Close()
	_, err = c.Actions(ctx)
	if err == nil || errors.As(err, &ce) || !strings.HasPrefix(err.Error(), "GET /v1/actions: ") {
		t.Errorf("no server: %v, want the transport's error with the route", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Actions(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}
