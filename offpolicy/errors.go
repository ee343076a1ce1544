package offpolicy

import "errors"

// Sentinel errors. Every error this package returns wraps one of them, so
// callers can sort errors with errors.Is.
var (
	// ErrInvalidRecord reports a logged record the estimators cannot use: a
	// logging probability outside (0, 1] (a decision logged before selection
	// probabilities were recorded has 0), a target probability outside
	// [0, 1], or a reward or model value that is not a finite number.
	ErrInvalidRecord = errors.New("offpolicy: invalid record")
	// ErrInvalidConfig reports a Config that cannot be used: a level outside
	// (0, 1), a negative number of bootstrap replicates or top weights, or
	// bounds that are not an interval.
	ErrInvalidConfig = errors.New("offpolicy: invalid configuration")
	// ErrIncompatible reports two summaries that cannot be merged because
	// their configurations differ.
	ErrIncompatible = errors.New("offpolicy: incompatible summaries")
)
