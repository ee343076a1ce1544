package offpolicy

import (
	"fmt"
	"math"
)

// Record is one logged decision seen through one target policy π. See the
// package documentation for the notation.
type Record struct {
	// Reward is the observed reward r of the logged action.
	Reward float64
	// Logging is π₀(a|x), the probability with which the logging policy
	// chose the logged action a; it must be in (0, 1].
	Logging float64
	// Target is π(a|x), the probability that the target policy chooses the
	// logged action; 0 or 1 for a deterministic target.
	Target float64
	// Model is the reward model's prediction q̂(x, a) for the logged action.
	Model float64
	// ModelTarget is the reward model's value of the target policy at x,
	// Σ_a π(a|x) q̂(x, a) over every action.
	ModelTarget float64
}

// Weight returns the importance weight w = Target / Logging.
func (r Record) Weight() float64 { return r.Target / r.Logging }

// Validate reports whether the record can be used: Logging in (0, 1],
// Target in [0, 1], and finite Reward, Model and ModelTarget. The error
// wraps ErrInvalidRecord.
func (r Record) Validate() error {
	switch {
	case !(r.Logging > 0 && r.Logging <= 1):
		return fmt.Errorf("%w: logging probability %v is not in (0, 1] (was the decision logged before selection probabilities were recorded?)", ErrInvalidRecord, r.Logging)
	case !(r.Target >= 0 && r.Target <= 1):
		return fmt.Errorf("%w: target probability %v is not in [0, 1]", ErrInvalidRecord, r.Target)
	case !finite(r.Reward):
		return fmt.Errorf("%w: reward %v is not a finite number", ErrInvalidRecord, r.Reward)
	case !finite(r.Model) || !finite(r.ModelTarget):
		return fmt.Errorf("%w: model values %v, %v are not finite numbers", ErrInvalidRecord, r.Model, r.ModelTarget)
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
