package api

import (
	"context"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/features"
)

// The API declares what it calls on the decision engine as small interfaces, one per
// concern, composed into Engine; *engine.Engine satisfies them (engine_test.go holds it to
// that). A handler reaches the engine only through these, so what the API needs of the
// engine is written down here, and a test may stand in for any one of them.

// Decider makes decisions and records what came of them: POST /v1/decide, /v1/feedback
// and /v1/outcomes.
type Decider interface {
	Decide(ctx context.Context, req engine.DecideRequest) (*engine.DecideResult, error)
	Feedback(ctx context.Context, req engine.FeedbackRequest) (engine.FeedbackResult, error)
	RecordOutcomes(ctx context.Context, os []engine.CustomerOutcome) (engine.OutcomesResult, error)
}

// Profiles reads and merges customer profiles: /v1/customers.
type Profiles interface {
	Customer(ctx context.Context, id engine.CustomerID) (engine.Customer, error)
	PutCustomer(ctx context.Context, id engine.CustomerID, attrs map[string]any) (engine.Customer, error)
}

// Catalog reads and changes the action catalog: /v1/actions.
type Catalog interface {
	Action(id engine.ActionID) (engine.Action, error)
	Actions() []engine.Action
	PutAction(ctx context.Context, a engine.Action) (engine.Action, error)
	DisableAction(ctx context.Context, id engine.ActionID) (engine.Action, error)
}

// Schemas reads and replaces the features schema: /v1/schema.
type Schemas interface {
	Schema() (s *features.Schema, hash string, dim int)
	PutSchema(ctx context.Context, raw []byte) (string, error)
}

// Models inspects the actions' models and rolls them back: /v1/actions/{id}/model,
// /uplift, /versions and /rollback.
type Models interface {
	Model(id engine.ActionID, top int) (engine.ModelInfo, error)
	UpliftReport(ctx context.Context, id engine.ActionID, since time.Time) (*engine.UpliftReport, error)
	Versions(ctx context.Context, id engine.ActionID) ([]engine.Snapshot, error)
	Rollback(ctx context.Context, id engine.ActionID, version uint64) (uint64, error)
}

// DecisionLog reads the decision log: /v1/decisions and its export.
type DecisionLog interface {
	Decision(ctx context.Context, id engine.DecisionID) (*engine.Decision, error)
	Decisions(ctx context.Context, since time.Time, fn func(*engine.Decision) error) error
}

// Experiments reads and changes experiments: /v1/experiments.
type Experiments interface {
	Experiment(id engine.ExperimentID) (engine.Experiment, error)
	Experiments() []engine.Experiment
	PutExperiment(ctx context.Context, x engine.Experiment) (engine.Experiment, error)
}

// Results reads what experiments have found: a customer's assignment and the report,
// /v1/experiments/{id}/assignments and /report.
type Results interface {
	Assignment(ctx context.Context, id engine.ExperimentID, cust engine.CustomerID) (engine.AssignmentInfo, error)
	Report(ctx context.Context, id engine.ExperimentID) (*engine.Report, error)
}

// Campaigns reads, changes and runs legacy campaigns: /v1/campaigns.
type Campaigns interface {
	Campaign(id engine.CampaignID) (engine.Campaign, error)
	Campaigns() []engine.Campaign
	PutCampaign(ctx context.Context, c engine.Campaign) (engine.Campaign, error)
	RunCampaign(ctx context.Context, id engine.CampaignID) (engine.RunResult, error)
}

// Outbound runs outbound decisions on a channel and reads what they logged:
// /v1/outbound.
type Outbound interface {
	RunOutbound(ctx context.Context, channel string) (engine.RunResult, error)
	Outbound(ctx context.Context, channel string, since time.Time, fn func(*engine.Decision) error) error
}

// Objectives reads and changes the business objectives: /v1/objectives.
type Objectives interface {
	Objective(outcome string) (engine.Objective, error)
	Objectives() []engine.Objective
	PutObjective(ctx context.Context, o engine.Objective) (engine.Objective, error)
	DeleteObjective(ctx context.Context, outcome string) error
}

// Evaluations starts, lists and cancels off-policy evaluation jobs: /v1/evaluations.
type Evaluations interface {
	StartEvaluation(ctx context.Context, spec engine.EvaluationSpec) (engine.EvaluationJob, error)
	EvaluationJob(id string) (engine.EvaluationJob, error)
	EvaluationJobs() []engine.EvaluationJob
	CancelEvaluation(id string) (engine.EvaluationJob, error)
}

// Status says whether the engine serves (/readyz) and what time it is for it (the
// default of every ?since=).
type Status interface {
	Ready() bool
	Clock() engine.Clock
}

// Engine is everything the API calls on the decision engine.
type Engine interface {
	Decider
	Profiles
	Catalog
	Schemas
	Models
	DecisionLog
	Experiments
	Results
	Campaigns
	Outbound
	Objectives
	Evaluations
	Status
}
