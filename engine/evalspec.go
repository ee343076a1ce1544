package engine

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// EvaluationSpec asks for an off-policy evaluation (evaluate.go): which logged decisions,
// which target policies, and how the intervals are computed. docs/evaluation.md documents
// its JSON.
type EvaluationSpec struct {
	// Since and Until bound the decisions evaluated by their time, [Since, Until); zero
	// means the start of the log and no end.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// AsOf is the time by which outcomes are counted: a decision is evaluated for its
	// response only if its channel's response timeout has passed by then, and for its net
	// value only if its objective's horizon has passed too. Zero means the engine's clock.
	AsOf time.Time `json:"as_of,omitzero"`
	// Sources, when given, keeps only decisions of these sources ("inbound", "outbound",
	// "campaign"): the contexts a policy does not choose (customers who call or visit)
	// apart from those it does (whom the outbound pass contacts).
	Sources []string `json:"sources,omitempty"`
	// Policies are the target policies, at most MaxEvaluationPolicies.
	Policies []PolicySpec `json:"policies"`
	// Bootstrap is the number of Poisson-bootstrap replicates (0 for none, at most
	// MaxEvaluationBootstrap); nil means DefaultEvaluationBootstrap.
	Bootstrap *int `json:"bootstrap,omitempty"`
	// Level is the two-sided level of every interval; 0 means 0.95.
	Level float64 `json:"level,omitempty"`
	// Seed seeds the bootstrap counts and the Monte Carlo selection probabilities, per
	// decision: the same spec over the same log gives the same result (to rounding).
	// 0 means 1.
	Seed uint64 `json:"seed,omitempty"`
	// Workers is the number of goroutines that score decisions; 0 means one per CPU.
	Workers int `json:"workers,omitempty"`
}

// PolicySpec is one target policy. Type is one of:
//
//   - "logged": the policy that logged each decision (π = π₀): its estimates must agree
//     with the observed mean reward, the sanity check;
//   - "uniform": uniformly at random over the decision's eligible candidates and "no
//     action";
//   - "always": Action whenever it was eligible, else no action;
//   - "nba": the engine's NBA policy with the models and the configuration given here
//     (every field left out is the engine's own).
type PolicySpec struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Action ActionID `json:"action,omitempty"` // "always"
	// Models are the models an "nba" policy scores with: "current" (the live models when
	// the evaluation starts; the default), "logged" (each decision re-scored with the
	// models as they were when it was made, rebuilt from the journal), or an RFC 3339
	// time (each model's newest stored version at that time).
	Models string `json:"models,omitempty"`
	// Versions pins stored model versions by model name (an action id, or
	// "ACTION~OBJECTIVE" for an uplift model), over Models.
	Versions map[ActionID]uint64 `json:"versions,omitempty"`
	// The engine options an "nba" policy changes (docs/configuration.md).
	Alpha             *float64 `json:"alpha,omitempty"`
	Threshold         *float64 `json:"threshold,omitempty"`
	OutboundThreshold *float64 `json:"outbound_threshold,omitempty"`
	NoActionFloor     *float64 `json:"no_action_floor,omitempty"`
	// Actions changes actions, by id.
	Actions map[ActionID]ActionChange `json:"actions,omitempty"`
}

// ActionChange changes one action for an "nba" target policy. Enabled false disables it;
// Enabled true offers an action that the log shows disabled or did not have (its
// eligibility and amounts are then evaluated on the logged context and the customer's
// profile as it is now). Value, Cost, ContactCost and Lever replace the action's for
// every decision; they change how the policy ranks, not what an outcome is worth: the
// reward always counts the amounts the decision logged.
type ActionChange struct {
	Enabled     *bool    `json:"enabled,omitempty"`
	Value       *float64 `json:"value,omitempty"`
	Cost        *float64 `json:"cost,omitempty"`
	ContactCost *float64 `json:"contact_cost,omitempty"`
	Lever       *float64 `json:"lever,omitempty"`
}

// Policy types.
const (
	PolicyLogged  = "logged"
	PolicyUniform = "uniform"
	PolicyAlways  = "always"
	PolicyNBA     = "nba"
)

// Models of an "nba" policy.
const (
	ModelsCurrent = "current"
	ModelsLogged  = "logged"
)

// Limits and defaults of an evaluation.
const (
	MaxEvaluationPolicies      = 20
	MaxEvaluationBootstrap     = 2000
	DefaultEvaluationBootstrap = 200
	maxPolicyName              = 80
)

// resolved returns the spec with its defaults filled in, or an ErrInvalid error that
// names the field. It checks what needs no engine state; Engine.prepareEvaluation the
// rest (action ids, model versions).
func (s EvaluationSpec) resolved() (EvaluationSpec, error) {
	if s.Bootstrap == nil {
		b := DefaultEvaluationBootstrap
		s.Bootstrap = &b
	}
	if s.Level == 0 {
		s.Level = 0.95
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	switch {
	case *s.Bootstrap < 0 || *s.Bootstrap > MaxEvaluationBootstrap:
		return s, Invalid("invalid_field", "bootstrap: %d replicates, want 0 to %d", *s.Bootstrap, MaxEvaluationBootstrap)
	case !(s.Level >= 0.5 && s.Level < 1):
		return s, Invalid("invalid_field", "level: %v, want a level in [0.5, 1) such as 0.95", s.Level)
	case s.Workers < 0 || s.Workers > 256:
		return s, Invalid("invalid_field", "workers: %d, want 0 (one per CPU) to 256", s.Workers)
	case !s.Until.IsZero() && !s.Since.Before(s.Until):
		return s, Invalid("empty_window", "since %s is not before until %s: the window holds no decision", s.Since.UTC().Format(time.RFC3339), s.Until.UTC().Format(time.RFC3339))
	case len(s.Policies) == 0:
		return s, Invalid("invalid_field", "policies: none given; name at least one target policy (docs/evaluation.md)")
	case len(s.Policies) > MaxEvaluationPolicies:
		return s, errorf(ErrTooLarge, "too_many_policies", "policies: %d given, at most %d", len(s.Policies), MaxEvaluationPolicies)
	}
	for i, src := range s.Sources {
		if src != "inbound" && src != "outbound" && src != "campaign" {
			return s, Invalid("invalid_field", "sources[%d]: %q is not inbound, outbound or campaign", i, truncate(src, 20))
		}
	}
	s.Policies = slices.Clone(s.Policies)
	seen := map[string]bool{}
	for i := range s.Policies {
		p := &s.Policies[i]
		if err := p.resolve(); err != nil {
			var ee *Error
			if errors.As(err, &ee) {
				ee.Message = fmt.Sprintf("policies[%d]: %s", i, ee.Message)
			}
			return s, err
		}
		if seen[p.Name] {
			return s, Invalid("invalid_field", "policies[%d]: the name %q is used twice", i, p.Name)
		}
		seen[p.Name] = true
	}
	return s, nil
}

// resolve checks a policy and fills in its name and models.
func (p *PolicySpec) resolve() error {
	nba := p.Type == PolicyNBA
	switch p.Type {
	case PolicyLogged, PolicyUniform:
	case PolicyAlways:
		if p.Action == "" {
			return Invalid("invalid_field", "action: an \"always\" policy names its action")
		}
		if !ValidID(string(p.Action)) {
			return Invalid("invalid_field", "action: %q is not a valid action id", truncate(string(p.Action), 40))
		}
	case PolicyNBA:
		if p.Models == "" {
			p.Models = ModelsCurrent
		}
		if p.Models != ModelsCurrent && p.Models != ModelsLogged {
			if _, err := time.Parse(time.RFC3339, p.Models); err != nil {
				return Invalid("invalid_field", "models: %q is not \"current\", \"logged\" or an RFC 3339 time", truncate(p.Models, 40))
			}
		}
		for _, v := range []struct {
			f        *float64
			lo, hi   float64
			name, is string
		}{
			{p.Alpha, 0, 100, "alpha", "the exploration scale"},
			{p.Threshold, 0, maxActionValue, "threshold", "a priority"},
			{p.OutboundThreshold, 0, maxActionValue, "outbound_threshold", "a priority"},
			{p.NoActionFloor, 0, 0.5, "no_action_floor", "a probability"},
		} {
			if v.f != nil && !(finite(*v.f) && *v.f >= v.lo && *v.f <= v.hi) {
				return Invalid("invalid_field", "%s: %v is not %s in [%g, %g]", v.name, *v.f, v.is, v.lo, v.hi)
			}
		}
		for _, id := range slices.Sorted(maps.Keys(p.Actions)) {
			c := p.Actions[id]
			if !ValidID(string(id)) {
				return Invalid("invalid_field", "actions: %q is not a valid action id", truncate(string(id), 40))
			}
			for _, v := range []struct {
				f    *float64
				name string
				hi   float64
			}{{c.Value, "value", maxActionValue}, {c.Cost, "cost", maxActionValue}, {c.ContactCost, "contact_cost", maxActionValue}, {c.Lever, "lever", maxLeverMagnitde}} {
				if v.f != nil && !(finite(*v.f) && *v.f >= 0 && *v.f <= v.hi) {
					return Invalid("invalid_field", "actions.%s.%s: %v is not a number in [0, %g]", id, v.name, *v.f, v.hi)
				}
			}
		}
		for id := range p.Versions {
			if !ValidID(strings.Replace(string(id), upliftSep, "-", 1)) {
				return Invalid("invalid_field", "versions: %q is not a model name (an action id, or ACTION~OBJECTIVE)", truncate(string(id), 40))
			}
		}
	case "":
		return Invalid("invalid_field", "type: missing; one of logged, uniform, always, nba")
	default:
		return Invalid("invalid_field", "type: %q is not one of logged, uniform, always, nba", truncate(p.Type, 20))
	}
	if !nba && (p.Models != "" || p.Versions != nil || p.Alpha != nil || p.Threshold != nil || p.OutboundThreshold != nil || p.NoActionFloor != nil || p.Actions != nil) {
		return Invalid("invalid_field", "models, versions, alpha, thresholds, no_action_floor and actions belong to an \"nba\" policy, not a %q one", p.Type)
	}
	if p.Type != PolicyAlways && p.Action != "" {
		return Invalid("invalid_field", "action: only an \"always\" policy names one action (an \"nba\" policy changes actions under \"actions\")")
	}
	if p.Name == "" {
		p.Name = p.defaultName()
	}
	if len(p.Name) > maxPolicyName {
		return Invalid("invalid_field", "name: longer than %d characters", maxPolicyName)
	}
	return nil
}

// defaultName describes the policy in a few words: "nba (threshold 15)".
func (p *PolicySpec) defaultName() string {
	switch p.Type {
	case PolicyAlways:
		return "always " + string(p.Action)
	case PolicyNBA:
	default:
		return p.Type
	}
	var parts []string
	num := func(name string, f *float64) {
		if f != nil {
			parts = append(parts, fmt.Sprintf("%s %g", name, *f))
		}
	}
	num("alpha", p.Alpha)
	num("threshold", p.Threshold)
	num("outbound threshold", p.OutboundThreshold)
	num("no-action floor", p.NoActionFloor)
	for _, id := range slices.Sorted(maps.Keys(p.Actions)) {
		c := p.Actions[id]
		if c.Enabled != nil {
			if *c.Enabled {
				parts = append(parts, "+"+string(id))
			} else {
				parts = append(parts, "-"+string(id))
			}
		}
		num(string(id)+" value", c.Value)
		num(string(id)+" cost", c.Cost)
		num(string(id)+" contact cost", c.ContactCost)
		num(string(id)+" lever", c.Lever)
	}
	if p.Models != ModelsCurrent {
		parts = append(parts, "models "+p.Models)
	}
	if len(p.Versions) > 0 {
		parts = append(parts, "pinned versions")
	}
	name := "nba"
	if len(parts) > 0 {
		name += " (" + strings.Join(parts, ", ") + ")"
	}
	if len(name) > maxPolicyName {
		name = name[:maxPolicyName-3] + "..."
	}
	return name
}
