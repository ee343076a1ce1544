package api

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
)

// Session consistency across the replicas of a cluster (docs/scale-out.md): every answer
// of a replica carries, in HeaderLogSeq, how far it has applied the cluster's log; a
// client that sends the highest sequence it has seen back in HeaderAfterSeq is answered
// only once the replica it reaches has applied the log that far, so it reads its own
// writes whichever replica a load balancer sends it to (the "session guarantees" of
// Terry et al. 1994, "Session guarantees for weakly consistent replicated data", PDIS).
const (
	HeaderLogSeq   = "Nextbest-Log-Seq"
	HeaderAfterSeq = "Nextbest-After-Seq"
)

// Replicated is what session consistency needs of a clustered engine.
type Replicated interface {
	Clustered() bool
	DispatchedSeq() uint64
	WaitApplied(ctx context.Context, seq uint64) error
}

// sessionConsistency waits for HeaderAfterSeq before the handler and sets HeaderLogSeq
// after it.
func (s *Server) sessionConsistency(r Replicated) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if raw := c.Get(HeaderAfterSeq); raw != "" {
			seq, err := strconv.ParseUint(raw, 10, 64)
			if err != nil {
				return engine.Invalid("invalid_header", "%s: %q is not a log sequence (a non-negative integer)", HeaderAfterSeq, truncateHeader(raw))
			}
			if err := r.WaitApplied(c.UserContext(), seq); err != nil {
				return err
			}
		}
		err := c.Next()
		c.Set(HeaderLogSeq, strconv.FormatUint(r.DispatchedSeq(), 10))
		return err
	}
}

func truncateHeader(s string) string {
	if len(s) > 32 {
		return s[:32]
	}
	return s
}
