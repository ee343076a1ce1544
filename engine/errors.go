package engine

import (
	"errors"
	"fmt"
)

// Sentinel error kinds. Every error the engine returns to a caller wraps one of them, so
// the HTTP layer maps errors to statuses with errors.Is in one place.
var (
	// ErrInvalid marks a request that is malformed or fails validation (HTTP 400).
	ErrInvalid = errors.New("invalid request")
	// ErrUnprocessable marks a well-formed request that cannot be applied, such as an
	// eligibility expression that does not compile (HTTP 422).
	ErrUnprocessable = errors.New("unprocessable request")
	// ErrNotFound marks a reference to something that does not exist (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrTooLarge marks a request over one of the configured limits (HTTP 413).
	ErrTooLarge = errors.New("request too large")
	// ErrUnavailable marks a request refused because the engine is starting or stopping (HTTP 503).
	ErrUnavailable = errors.New("unavailable")
	// ErrRateLimited marks a request refused because its client is over a limit, such as
	// too many failed authentications (HTTP 429).
	ErrRateLimited = errors.New("rate limited")
	// ErrInsufficientStorage marks a write refused because the disk the store writes to is
	// nearly full (HTTP 507). Reads and decisions go on; writes are accepted again once
	// space is freed.
	ErrInsufficientStorage = errors.New("insufficient storage")
	// ErrDamaged marks a store whose contents are damaged or contradict each other: a file
	// or a record that does not read back, acknowledged journal events or model snapshots
	// that are missing. Open refuses such a store rather than serve models that lack what
	// they learned (docs/durability.md, "Damage"); `nextbest verify` reports all of it.
	ErrDamaged = errors.New("store damaged")
	// ErrUnauthenticated marks a request without valid credentials (HTTP 401): no API key,
	// or one that is unknown, malformed or revoked.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden marks a request whose credentials do not allow it (HTTP 403), such as a
	// role that lacks the route's permission.
	ErrForbidden = errors.New("forbidden")
)

// Error is an error with a stable machine-readable code for API clients, such as
// "unknown_action" or "invalid_field", and the kind it belongs to.
type Error struct {
	Kind    error  // one of the sentinel kinds above
	Code    string // stable code, snake_case
	Message string // human-readable, names the field or id at fault
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the kind, so errors.Is(err, ErrNotFound) works.
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, code, format string, args ...any) error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an ErrInvalid error with the given code and message.
func Invalid(code, format string, args ...any) error {
	return errorf(ErrInvalid, code, format, args...)
}

// ErrorCode returns the code of err if it is or wraps an *Error, or "" otherwise.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
