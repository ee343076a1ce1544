package engine

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/nextbest/nextbest/offpolicy"
)

// The result of an off-policy evaluation, self-describing in JSON: every number says what
// it is, every estimate which estimator made it, and undefined numbers are null.

// Evaluation is the result of Engine.Evaluate.
type Evaluation struct {
	// Spec is the request with its defaults filled in.
	Spec EvaluationSpec `json:"spec"`
	// First and Last are the times of the first and last decision evaluated; AsOf the
	// time by which outcomes were counted.
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
	AsOf  time.Time `json:"as_of"`
	// Read is the number of decisions read in the window; Evaluated the NBA decisions
	// evaluated for their response; NetEvaluated those also evaluated for their net value.
	Read         int64 `json:"decisions_read"`
	Evaluated    int64 `json:"decisions_evaluated"`
	NetEvaluated int64 `json:"decisions_net_evaluated"`
	// Excluded counts the decisions left out, by reason.
	Excluded []Exclusion `json:"excluded"`
	// Rewards describes the rewards every policy is estimated for.
	Rewards []RewardInfo `json:"rewards"`
	// Policies holds one result per target policy, in the order of the spec.
	Policies []PolicyResult `json:"policies"`
	// Notes say what the numbers assume and how they were made.
	Notes []string `json:"notes"`
	// Seconds is how long the evaluation took.
	Seconds float64 `json:"seconds"`
}

// Exclusion is a number of decisions left out of an evaluation, for one reason.
type Exclusion struct {
	Reason  string `json:"reason"` // a stable code
	Count   int64  `json:"count"`
	Message string `json:"message"`
}

// RewardInfo names and describes a reward.
type RewardInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// The rewards.
const (
	RewardResponse = "response"
	RewardNetValue = "net_value"
)

// PolicyResult is one target policy's estimates.
type PolicyResult struct {
	Name string     `json:"name"`
	Spec PolicySpec `json:"spec"`
	// Description says in words what the policy does.
	Description string `json:"description"`
	// Models names the stored model versions an "nba" policy scored with (0: the prior;
	// absent with models "logged", which rebuilds them per decision).
	Models map[ActionID]uint64 `json:"models,omitempty"`
	// Response and NetValue are the estimates for each reward; NetValue is absent when no
	// decision's horizon had passed.
	Response *RewardEstimate `json:"response"`
	NetValue *RewardEstimate `json:"net_value,omitempty"`
	// LoggedGap compares, over the evaluated decisions, the policy's probability of the
	// logged action with the logged one: for the logged configuration re-scored with the
	// logged models it measures how exactly the re-scoring reproduces the engine (within
	// the selection tolerance, by the quadrature's error); for another policy it is how
	// far the policy departs from the logged one.
	LoggedGap *ProbabilityGap `json:"logged_gap,omitempty"`
}

// ProbabilityGap summarises |π(a|x) − π₀(a|x)| over the logged actions.
type ProbabilityGap struct {
	Mean NullFloat `json:"mean_abs"`
	Max  NullFloat `json:"max_abs"`
	// WithinTolerance is the share of decisions within the selection tolerance.
	WithinTolerance NullFloat `json:"within_tolerance"`
	Tolerance       float64   `json:"tolerance"`
}

// RewardEstimate is every estimator's value of one policy for one reward, beside the
// logged policy's observed mean over the same decisions, with the weight diagnostics.
type RewardEstimate struct {
	Reward string  `json:"reward"`
	N      int     `json:"n"`
	Level  float64 `json:"level"`
	// Logged is the observed mean reward of the logged policy over the same decisions.
	Logged EstimateResult `json:"logged"`
	// Estimates holds one result per estimator: replay, ips, snips, dm, dr, switch-dr,
	// dr-os (docs/evaluation.md).
	Estimates []EstimateResult `json:"estimates"`
	// Preferred is the estimator the table leads with: dr.
	Preferred offpolicy.Method `json:"preferred"`
	Weights   WeightReport     `json:"weights"`
	Warnings  []WarningResult  `json:"warnings"`
	// SwitchGrid and ShrinkageGrid show switch-DR's τ and DRos's λ with their estimated
	// MSE; the chosen ones are the estimates' param.
	SwitchGrid    []GridResult `json:"switch_grid"`
	ShrinkageGrid []GridResult `json:"shrinkage_grid"`
}

// Estimate returns the estimate of method m.
func (r *RewardEstimate) Estimate(m offpolicy.Method) (EstimateResult, bool) {
	if m == offpolicy.MethodObserved {
		return r.Logged, true
	}
	for _, e := range r.Estimates {
		if e.Method == m {
			return e, true
		}
	}
	return EstimateResult{}, false
}

// EstimateResult is one estimator's estimate with its intervals, and its difference
// from the logged policy's observed mean.
type EstimateResult struct {
	Method    offpolicy.Method `json:"method"`
	Value     NullFloat        `json:"value"`
	SE        NullFloat        `json:"se"`
	Normal    IntervalResult   `json:"normal"`
	Bootstrap IntervalResult   `json:"bootstrap"`
	// Param is switch-DR's τ or DRos's λ.
	Param NullFloat `json:"param,omitzero"`
	// VsLogged is Value minus the logged policy's observed mean, with its bootstrap
	// interval (each replicate's difference: the replicates resample the same decisions
	// for both).
	VsLogged         NullFloat      `json:"vs_logged"`
	VsLoggedInterval IntervalResult `json:"vs_logged_interval"`
}

// IntervalResult is a two-sided interval; null ends when it was not computed.
type IntervalResult struct {
	Lo NullFloat `json:"lo"`
	Hi NullFloat `json:"hi"`
}

// WeightReport is the importance weights' diagnostics (offpolicy.Diagnostics).
type WeightReport struct {
	ESS          NullFloat   `json:"ess"`
	ESSFraction  NullFloat   `json:"ess_fraction"`
	MeanWeight   NullFloat   `json:"mean_weight"`
	MeanWeightSE NullFloat   `json:"mean_weight_se"`
	MaxWeight    NullFloat   `json:"max_weight"`
	MaxShare     NullFloat   `json:"max_share"`
	TopShare     NullFloat   `json:"top_share"`
	Top          []TopWeight `json:"top"`
}

// TopWeight is one of the largest importance weights with its record's reward.
type TopWeight struct {
	Weight NullFloat `json:"weight"`
	Reward NullFloat `json:"reward"`
}

// WarningResult says why an estimate may not be trusted.
type WarningResult struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// GridResult is one point of switch-DR's or DRos's grid.
type GridResult struct {
	Param NullFloat `json:"param"`
	Value NullFloat `json:"value"`
	MSE   NullFloat `json:"mse"`
}

// NullFloat is a float64 that JSON writes as null when it is NaN or infinite (and reads
// null as NaN): an estimate that is not defined.
type NullFloat float64

// MarshalJSON writes the number, or null.
func (f NullFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or null as NaN.
func (f *NullFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = NullFloat(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = NullFloat(v)
	return nil
}

// IsZero reports whether f is NaN, for omitzero: an absent param.
func (f NullFloat) IsZero() bool { return math.IsNaN(float64(f)) }

func interval(i offpolicy.Interval) IntervalResult {
	return IntervalResult{NullFloat(i.Lo), NullFloat(i.Hi)}
}

// rewardEstimate turns a summary's report into the result, with each estimator's
// difference from the observed mean by the paired bootstrap replicates.
func rewardEstimate(reward string, s *offpolicy.Summary) *RewardEstimate {
	rep := s.Report()
	out := &RewardEstimate{Reward: reward, N: rep.N, Level: rep.Level, Preferred: offpolicy.MethodDR, Warnings: []WarningResult{}}
	obsReps := s.Replicates(offpolicy.MethodObserved)
	obs, _ := rep.Estimate(offpolicy.MethodObserved)
	for _, e := range rep.Estimates {
		r := EstimateResult{Method: e.Method, Value: NullFloat(e.Value), SE: NullFloat(e.SE), Normal: interval(e.Normal),
			Bootstrap: interval(e.Bootstrap), Param: NullFloat(e.Param),
			VsLogged: NullFloat(e.Value - obs.Value), VsLoggedInterval: IntervalResult{NullFloat(math.NaN()), NullFloat(math.NaN())}}
		if e.Method == offpolicy.MethodObserved {
			r.VsLogged = 0
			out.Logged = r
			continue
		}
		if len(obsReps) > 0 {
			reps := s.Replicates(e.Method)
			diff := make([]float64, 0, len(reps))
			for b := range reps {
				if d := reps[b] - obsReps[b]; !math.IsNaN(d) {
					diff = append(diff, d)
				}
			}
			r.VsLoggedInterval = interval(offpolicy.PercentileInterval(diff, rep.Level))
		}
		out.Estimates = append(out.Estimates, r)
	}
	w := rep.Weights
	out.Weights = WeightReport{ESS: NullFloat(w.ESS), ESSFraction: NullFloat(w.ESSFraction), MeanWeight: NullFloat(w.MeanWeight),
		MeanWeightSE: NullFloat(w.MeanWeightSE), MaxWeight: NullFloat(w.MaxWeight), MaxShare: NullFloat(w.MaxShare),
		TopShare: NullFloat(w.TopShare), Top: []TopWeight{}}
	for _, t := range w.Top {
		out.Weights.Top = append(out.Weights.Top, TopWeight{NullFloat(t.Weight), NullFloat(t.Reward)})
	}
	for _, wr := range rep.Warnings {
		out.Warnings = append(out.Warnings, WarningResult{string(wr.Kind), wr.Message})
	}
	for _, g := range rep.SwitchGrid {
		out.SwitchGrid = append(out.SwitchGrid, GridResult{NullFloat(g.Param), NullFloat(g.Value), NullFloat(g.MSE)})
	}
	for _, g := range rep.ShrinkageGrid {
		out.ShrinkageGrid = append(out.ShrinkageGrid, GridResult{NullFloat(g.Param), NullFloat(g.Value), NullFloat(g.MSE)})
	}
	return out
}
