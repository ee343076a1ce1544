package api

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/nextbest/nextbest/access"
)

// rateLimiters returns one fiber limiter per role with a limit: at most n requests per
// second per key (fixed one-second windows). Over the limit: 429 with Retry-After.
func rateLimiters(limits map[access.Role]int) []fiber.Handler {
	var hs []fiber.Handler
	for _, role := range access.Roles {
		n := limits[role]
		if n <= 0 {
			continue
		}
		hs = append(hs, limiter.New(limiter.Config{
			Next: func(c *fiber.Ctx) bool {
				p := PrincipalOf(c)
				return p == nil || p.Role != role || p.KeyID == localPrincipal
			},
			Max:          n,
			Expiration:   time.Second,
			KeyGenerator: func(c *fiber.Ctx) string { return string(PrincipalOf(c).KeyID) },
			LimitReached: func(c *fiber.Ctx) error {
				if c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
					c.Set(fiber.HeaderRetryAfter, strconv.Itoa(1))
				}
				return fiber.NewError(fiber.StatusTooManyRequests, "rate limited")
			},
		}))
	}
	return hs
}
