package record

import "errors"

// The error kinds the storage side returns. engine re-exports each under the same name
// (engine.ErrNotFound is record.ErrNotFound), so errors.Is matches either spelling and
// the API maps them in one place (api/errors.go).
var (
	// ErrNotFound marks a reference to something that does not exist (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrInsufficientStorage marks a write refused because the disk the store writes to is
	// nearly full (HTTP 507). Reads and decisions go on; writes are accepted again once
	// space is freed.
	ErrInsufficientStorage = errors.New("insufficient storage")
	// ErrDamaged marks a store whose contents are damaged or contradict each other: a file
	// or a record that does not read back, acknowledged journal events or model snapshots
	// that are missing. Open refuses such a store rather than serve models that lack what
	// they learned (docs/durability.md, "Damage"); `nextbest verify` reports all of it.
	ErrDamaged = errors.New("store damaged")
)
