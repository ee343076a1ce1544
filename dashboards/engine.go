package dashboards

import (
	"context"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/features"
)

// The pages declare what they read from the decision engine as small interfaces, one per
// concern, composed into Engine; *engine.Engine satisfies them (engine_test.go holds it
// to that). The pages only read, except the evaluation page, which starts and cancels
// evaluation jobs.

// Catalog reads the definitions the pages show: actions, objectives and the features
// schema (the catalog, decisions and model pages).
type Catalog interface {
	Action(id engine.ActionID) (engine.Action, error)
	Actions() []engine.Action
	Objectives() []engine.Objective
	Schema() (s *features.Schema, hash string, dim int)
}

// Programs reads the experiments and legacy campaigns (the catalog and uplift pages).
type Programs interface {
	Campaigns() []engine.Campaign
	Experiment(id engine.ExperimentID) (engine.Experiment, error)
	Experiments() []engine.Experiment
}

// Models reads the actions' models, their stored versions and their uplift (the model
// pages).
type Models interface {
	Model(id engine.ActionID, top int) (engine.ModelInfo, error)
	Versions(ctx context.Context, id engine.ActionID) ([]engine.Snapshot, error)
	UpliftReport(ctx context.Context, id engine.ActionID, since time.Time) (*engine.UpliftReport, error)
}

// Reports reads an experiment's report (the experiment and uplift pages).
type Reports interface {
	Report(ctx context.Context, id engine.ExperimentID) (*engine.Report, error)
}

// Decisions reads the newest decisions (the decisions and model pages).
type Decisions interface {
	Recent(ctx context.Context, n int) ([]*engine.Decision, error)
}

// Evaluations starts, lists and cancels off-policy evaluation jobs (the evaluation
// pages).
type Evaluations interface {
	StartEvaluation(ctx context.Context, spec engine.EvaluationSpec) (engine.EvaluationJob, error)
	EvaluationJob(id string) (engine.EvaluationJob, error)
	EvaluationJobs() []engine.EvaluationJob
	CancelEvaluation(id string) (engine.EvaluationJob, error)
}

// Settings gives the engine's clock, which the pages' "now" and default windows follow,
// and its options, whose threshold and exploration the evaluation form starts from.
type Settings interface {
	Clock() engine.Clock
	Options() engine.Options
}

// Engine is everything the pages read from the decision engine.
type Engine interface {
	Catalog
	Programs
	Models
	Reports
	Decisions
	Evaluations
	Settings
}
