package api

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
)

// TestTimeErrorNamesField: a bad time is reported with the field that holds it, at any
// depth, not with a guessed name; where several fields hold the same string, with each.
func TestTimeErrorNamesField(t *testing.T) {
	type window struct {
		Since *time.Time `json:"since"`
		Until *time.Time `json:"until"`
	}
	var v struct {
		Name   string    `json:"name"`
		Tags   []string  `json:"tags"`
		Window window    `json:"window"`
		Time   time.Time `json:"time"`
	}
	for _, tc := range []struct{ body, field string }{
		{`{"time": "yesterday"}`, `field "time": "yesterday"`},
		{`{"name": "24h", "tags": ["a", "24h"], "window": {"since": "2026-01-01T00:00:00Z", "until": "24h"}}`, `one of the fields "name", "tags", "window.until": "24h"`},
		{`{"tags": [], "window": {"since": "soon"}}`, `field "window.since": "soon"`},
	} {
		err := decode([]byte(tc.body), &v)
		if !errors.Is(err, engine.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want an invalid_type error naming %s", tc.body, err, tc.field)
		}
	}
}
