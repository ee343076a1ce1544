package engine

import (
	"fmt"
	"time"

	"github.com/nextbest/nextbest/bandit"
)

// Options configures the engine. DefaultOptions gives sensible values; cmd fills them from
// flags and the YAML config file.
type Options struct {
	// Threshold is the priority below which the answer is "no action".
	Threshold float64 `yaml:"threshold"`
	// OutboundThreshold is the same for outbound decisions (the NBA outbound pass): a
	// contact we start should clear a higher bar than an answer to one the customer started.
	OutboundThreshold float64 `yaml:"outbound_threshold"`
	// OutboundChannel is the channel of the NBA outbound pass when a run names none.
	OutboundChannel string `yaml:"outbound_channel"`
	// ContactPolicy caps contacts per customer and channel, for every arm alike.
	ContactPolicy ContactPolicy `yaml:"contact_policy"`
	// Alpha scales exploration: the sampled logit is N(x'm, Alpha^2 x'Sx). Chapelle & Li
	// (2011) found 0.5 to 1 best, and 0.5 best on display ads; docs/benchmarks.md has our
	// own comparison (0.5 beats 1 on the synthetic worlds of bandit/learning_test.go).
	Alpha float64 `yaml:"alpha"`
	// Selection is how each returned action's selection probability P(ranked first |
	// context), logged for off-policy evaluation, is computed: "quadrature" (the default;
	// within SelectionTolerance, bandit.SelectionProbabilityQuad), "monte_carlo"
	// (SelectionDraws rounds of the sampling rule) or "off".
	Selection string `yaml:"selection"`
	// SelectionTolerance is the quadrature's absolute error target.
	SelectionTolerance float64 `yaml:"selection_tolerance"`
	// SelectionDraws is the number of Monte Carlo draws when Selection is "monte_carlo",
	// and where the quadrature does not apply (an action of zero value; a NaN score).
	SelectionDraws int `yaml:"selection_draws"`
	// Channels holds per-channel arbitration weight and response timeout.
	Channels map[string]Channel `yaml:"channels"`
	// DefaultChannel applies to channels not listed in Channels.
	DefaultChannel Channel `yaml:"default_channel"`
	// ImplicitNegatives turns unanswered offers into negatives at their channel's timeout.
	ImplicitNegatives bool `yaml:"implicit_negatives"`
	// AutoFeatureBits sizes the automatic encoding used when no schema is set: 2^bits dims.
	AutoFeatureBits int `yaml:"auto_feature_bits"`
	// KeepVersions is the number of model versions kept per action.
	KeepVersions int `yaml:"keep_versions"`
	// Limits bound every request.
	Limits Limits `yaml:"limits"`
	// MaxBatch is the most events and decisions written in one group commit.
	MaxBatch int `yaml:"max_batch"`
	// CommitLinger is how long the committer waits for more work when what it holds is
	// only decisions, which nobody waits for: one fsync'd commit then carries many of them
	// instead of one each. Anything a caller waits for (feedback, a write to acknowledge)
	// ends the wait at once. A decision is written to the log within about this time of
	// its answer; 0 commits at once.
	CommitLinger time.Duration `yaml:"commit_linger"`
	// NoActionFloor is the exploration floor of "no action": when the best action of an
	// NBA decision aims at an objective, the decision offers nothing instead with this
	// probability, so that the uplift models see, in every context where the action is
	// offered, what doing nothing does (docs/value.md). 0 turns it off.
	NoActionFloor float64 `yaml:"no_action_floor"`
	// Seed, when not 0, makes each decision's random draws a function of the seed and the
	// decision's own inputs (customer, event time, channel, source), so that replays and
	// simulations are reproducible. 0 seeds from crypto/rand.
	Seed uint64 `yaml:"seed"`
}

// Selection probability methods (Options.Selection).
const (
	SelectionQuadrature = "quadrature"
	SelectionMonteCarlo = "monte_carlo"
	SelectionOff        = "off"
)

// Channel is the configuration of one contact channel.
type Channel struct {
	Weight  float64       `yaml:"weight"`  // channel context weight in the priority formula
	Timeout time.Duration `yaml:"timeout"` // wait for a response before an implicit negative
}

// Limits bound what one request may carry.
type Limits struct {
	MaxActionsPerRequest int `yaml:"max_actions_per_request"`
	MaxContextFields     int `yaml:"max_context_fields"`
	MaxAttributes        int `yaml:"max_attributes"`
	MaxStringLength      int `yaml:"max_string_length"`
	MaxLimit             int `yaml:"max_limit"`
	MaxCatalog           int `yaml:"max_catalog"`
}

// DefaultOptions returns the defaults documented in the README's configuration reference.
func DefaultOptions() Options {
	return Options{
		Threshold:          0,
		OutboundChannel:    "email",
		ContactPolicy:      DefaultContactPolicy(),
		Alpha:              0.5,
		Selection:          SelectionQuadrature,
		SelectionTolerance: bandit.SelectionTolerance,
		SelectionDraws:     100,
		Channels: map[string]Channel{
			"web":         {Weight: 1, Timeout: 30 * time.Minute},
			"app":         {Weight: 1, Timeout: 30 * time.Minute},
			"call_center": {Weight: 1, Timeout: 30 * time.Minute},
			"email":       {Weight: 1, Timeout: 7 * 24 * time.Hour},
			"sms":         {Weight: 1, Timeout: 2 * 24 * time.Hour},
		},
		DefaultChannel:    Channel{Weight: 1, Timeout: 24 * time.Hour},
		ImplicitNegatives: true,
		AutoFeatureBits:   12,
		KeepVersions:      100,
		Limits: Limits{
			MaxActionsPerRequest: 1000,
			MaxContextFields:     200,
			MaxAttributes:        500,
			MaxStringLength:      1024,
			MaxLimit:             100,
			MaxCatalog:           10000,
		},
		MaxBatch:      1024,
		CommitLinger:  5 * time.Millisecond,
		NoActionFloor: 0.05,
	}
}

// Validate checks the options.
func (o *Options) Validate() error {
	if !finite(o.Threshold) || o.Threshold < 0 {
		return fmt.Errorf("threshold: must be a finite number >= 0, got %v", o.Threshold)
	}
	if !finite(o.OutboundThreshold) || o.OutboundThreshold < 0 {
		return fmt.Errorf("outbound_threshold: must be a finite number >= 0, got %v", o.OutboundThreshold)
	}
	if !ValidID(o.OutboundChannel) {
		return fmt.Errorf("outbound_channel: %q is not a valid channel name", o.OutboundChannel)
	}
	if err := o.ContactPolicy.validate(); err != nil {
		return err
	}
	if !(o.NoActionFloor >= 0 && o.NoActionFloor <= 0.5) {
		return fmt.Errorf("no_action_floor: must be in [0, 0.5], got %v", o.NoActionFloor)
	}
	if !finite(o.Alpha) || o.Alpha < 0 {
		return fmt.Errorf("alpha: must be a finite number >= 0, got %v", o.Alpha)
	}
	switch o.Selection {
	case SelectionQuadrature, SelectionMonteCarlo, SelectionOff:
	default:
		return fmt.Errorf("selection: %q is not one of quadrature, monte_carlo, off", o.Selection)
	}
	if !(o.SelectionTolerance >= 1e-9 && o.SelectionTolerance <= 0.1) {
		return fmt.Errorf("selection_tolerance: must be in [1e-9, 0.1], got %v", o.SelectionTolerance)
	}
	if o.SelectionDraws < 1 && o.Selection != SelectionOff || o.SelectionDraws > 100000 {
		return fmt.Errorf("selection_draws: must be in [1, 100000], got %d", o.SelectionDraws)
	}
	for name, c := range o.Channels {
		if !ValidID(name) {
			return fmt.Errorf("channels: %q is not a valid channel name", name)
		}
		if !finite(c.Weight) || c.Weight < 0 {
			return fmt.Errorf("channels.%s.weight: must be a finite number >= 0", name)
		}
		if c.Timeout < 0 {
			return fmt.Errorf("channels.%s.timeout: must not be negative", name)
		}
	}
	if o.AutoFeatureBits < 4 || o.AutoFeatureBits > 20 {
		return fmt.Errorf("auto_feature_bits: must be in [4, 20], got %d", o.AutoFeatureBits)
	}
	if o.KeepVersions < 1 {
		return fmt.Errorf("keep_versions: must be at least 1")
	}
	if o.MaxBatch < 1 {
		return fmt.Errorf("max_batch: must be at least 1")
	}
	if o.CommitLinger < 0 || o.CommitLinger > time.Second {
		return fmt.Errorf("commit_linger: must be in [0, 1s], got %v", o.CommitLinger)
	}
	l := o.Limits
	if l.MaxActionsPerRequest < 1 || l.MaxContextFields < 1 || l.MaxAttributes < 1 || l.MaxStringLength < 1 || l.MaxLimit < 1 || l.MaxCatalog < 1 {
		return fmt.Errorf("limits: every limit must be at least 1")
	}
	return nil
}

// channel returns the configuration for a channel name.
func (o *Options) channel(name string) Channel {
	if c, ok := o.Channels[name]; ok {
		return c
	}
	return o.DefaultChannel
}
