package api

import (
	"context"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// ClockDriver moves a manual clock and runs the scheduled work that falls due: how a
// replay or simulation drives nextbest faster than real time.
type ClockDriver interface {
	Advance(ctx context.Context, t time.Time) (wire.ClockState, error)
	State() wire.ClockState
}

func (s *Server) getClock(c *fiber.Ctx) error {
	if s.clock == nil {
		return c.JSON(wire.ClockState{Mode: "system", Now: time.Now().UTC()})
	}
	return c.JSON(s.clock.State())
}

// advanceClock moves the manual clock forward (to time, or by advance) and runs every
// scheduled job that falls due on the way, in time order, before answering.
func (s *Server) advanceClock(c *fiber.Ctx) error {
	if s.clock == nil || s.clock.State().Mode != "manual" {
		return &engine.Error{Kind: engine.ErrUnprocessable, Code: "clock_not_manual", Message: "the clock follows the system time; start the server with clock: manual (docs/configuration.md) to drive it"}
	}
	var b wire.ClockRequest
	if err := decode(c.Body(), &b); err != nil {
		return err
	}
	now := s.clock.State().Now
	var to time.Time
	switch {
	case b.Time != nil && b.Advance == "":
		to = *b.Time
	case b.Time == nil && b.Advance != "":
		d, err := time.ParseDuration(b.Advance)
		if err != nil || d <= 0 {
			return engine.Invalid("invalid_field", "advance: %q is not a positive duration such as 1h or 24h", truncateQ(b.Advance))
		}
		to = now.Add(d)
	default:
		return engine.Invalid("invalid_field", "give either time (RFC 3339) or advance (a duration)")
	}
	if to.Before(now) {
		return engine.Invalid("invalid_field", "time: %s is before the clock's %s; time never goes backwards", to.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	st, err := s.clock.Advance(c.UserContext(), to)
	if err != nil {
		return fmt.Errorf("advance clock: %w", err)
	}
	return c.JSON(st)
}
