package wire

import (
	"time"

	"github.com/nextbest/nextbest/access"
)

// ClockState describes the service's clock: the answer of GET and POST /v1/clock.
type ClockState struct {
	Mode string    `json:"mode"` // "system" or "manual"
	Now  time.Time `json:"now"`
	Ran  []string  `json:"ran,omitempty"` // jobs run by this advance, in order
}

// ClockRequest is the body of POST /v1/clock, which moves a manual clock forward: to
// Time, or by Advance (a duration such as "24h"); give one of them.
type ClockRequest struct {
	Time    *time.Time `json:"time,omitempty"`
	Advance string     `json:"advance,omitempty"`
}

// KeyRequest is the body of POST /v1/keys.
type KeyRequest struct {
	Role access.Role `json:"role"`           // decide, analyst, viewer or admin
	Name string      `json:"name,omitempty"` // e.g. the service that uses it
}

// CreatedKey is the answer of POST /v1/keys: the only time the secret is shown.
type CreatedKey struct {
	access.Key
	Secret string `json:"key"`
}

// KeyList is the answer of GET /v1/keys: every key, revoked ones included, without
// hashes.
type KeyList struct {
	Keys []access.Key `json:"keys"`
}
