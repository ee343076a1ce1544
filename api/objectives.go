package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

func (s *Server) listObjectives(c *fiber.Ctx) error {
	return c.JSON(wire.ObjectiveList{Objectives: s.eng.Objectives()})
}

func (s *Server) getObjective(c *fiber.Ctx) error {
	o, err := s.eng.Objective(param(c, "outcome"))
	if err != nil {
		return err
	}
	return c.JSON(o)
}

func (s *Server) putObjective(c *fiber.Ctx) error {
	outcome := param(c, "outcome")
	var b wire.ObjectiveRequest
	if err := decode(c.Body(), &b); err != nil {
		return err
	}
	if b.Outcome != "" && b.Outcome != outcome {
		return engine.Invalid("invalid_field", "outcome: body says %q but the URL says %q", b.Outcome, outcome)
	}
	if b.Value == nil {
		return engine.Invalid("invalid_field", "value: required (what one occurrence is worth for a customer: a number, or an expression such as \"-9 * (profile.monthly_spend ?? 0)\"; negative for churn)")
	}
	if b.Horizon == nil {
		return engine.Invalid("invalid_field", "horizon: required (how long after a decision an occurrence counts, such as \"14d\")")
	}
	h, err := engine.ParseDuration(*b.Horizon)
	if err != nil {
		return engine.Invalid("invalid_field", "horizon: %v", err)
	}
	o, err := s.eng.PutObjective(c.UserContext(), engine.Objective{Outcome: outcome, Description: b.Description, Value: *b.Value, Horizon: h, BaseRate: b.BaseRate})
	if err != nil {
		return err
	}
	return c.JSON(o)
}

func (s *Server) deleteObjective(c *fiber.Ctx) error {
	if err := s.eng.DeleteObjective(c.UserContext(), param(c, "outcome")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
