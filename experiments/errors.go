package experiments

import "errors"

// Sentinel errors. Every error this package returns wraps one of them, so
// callers can sort errors with errors.Is.
var (
	// ErrInvalidConfig reports bad arms, weights, options or power plans.
	ErrInvalidConfig = errors.New("experiments: invalid configuration")
	// ErrInvalidTable reports a CSV table that Analyze cannot read. The
	// message names the row and column.
	ErrInvalidTable = errors.New("experiments: invalid table")
	// ErrInvalidValue reports a metric value outside its kind's domain, such
	// as an NPS rating of 11.
	ErrInvalidValue = errors.New("experiments: invalid value")
)
