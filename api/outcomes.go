package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// outcomeOf is the engine's outcome of a request's.
func outcomeOf(b wire.Outcome) engine.CustomerOutcome {
	o := engine.CustomerOutcome{ID: b.ID, Customer: b.CustomerID, Type: b.Type}
	if b.Value != nil {
		o.Value = *b.Value
	}
	if b.Time != nil {
		o.Time = *b.Time
	}
	return o
}

// postOutcomes accepts one outcome object or an array of them; 202 once durable.
func (s *Server) postOutcomes(c *fiber.Ctx) error {
	body := c.Body()
	var os []engine.CustomerOutcome
	if t := firstNonSpace(body); t == '[' {
		var bs []wire.Outcome
		if err := decode(body, &bs); err != nil {
			return err
		}
		for _, b := range bs {
			os = append(os, outcomeOf(b))
		}
	} else {
		var b wire.Outcome
		if err := decode(body, &b); err != nil {
			return err
		}
		os = append(os, outcomeOf(b))
	}
	res, err := s.eng.RecordOutcomes(c.UserContext(), os)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(res)
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}
