package api

import (
	"context"

	"github.com/gofiber/fiber/v2"
)

// requestContext gives each request its context, fiber's user context (c.UserContext()),
// which every handler passes down to the engine and the store: it ends when the request's
// deadline passes (Options.RequestTimeout) or when the server stops (Shutdown's wait is
// over), whichever comes first, so work for a request nobody waits for any more stops
// (the engine answers context.DeadlineExceeded or context.Canceled, which the error
// mapping turns into 503 unavailable). Streamed answers (the decision log, the outbound
// feed, the backup), written after the handler returns, take their own context from the
// server's (s.base) with the stream's own limit.
func (s *Server) requestContext(c *fiber.Ctx) error {
	if s.timeout <= 0 {
		c.SetUserContext(s.base)
		return c.Next()
	}
	ctx, cancel := context.WithTimeout(s.base, s.timeout)
	defer cancel()
	c.SetUserContext(ctx)
	return c.Next()
}
