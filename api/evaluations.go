package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
)

// Off-policy evaluations run as background jobs (engine/evaljobs.go): POST starts one and
// answers 202 with the job, GET follows its progress and, once done, has the result;
// DELETE cancels it. docs/evaluation.md has the spec and the result.

func (s *Server) startEvaluation(c *fiber.Ctx) error {
	var spec engine.EvaluationSpec
	if err := decode(c.Body(), &spec); err != nil {
		return err
	}
	job, err := s.eng.StartEvaluation(c.UserContext(), spec)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/v1/evaluations/"+job.ID)
	return c.Status(fiber.StatusAccepted).JSON(job)
}

func (s *Server) listEvaluations(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"evaluations": s.eng.EvaluationJobs()})
}

func (s *Server) getEvaluation(c *fiber.Ctx) error {
	job, err := s.eng.EvaluationJob(param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(job)
}

func (s *Server) cancelEvaluation(c *fiber.Ctx) error {
	job, err := s.eng.CancelEvaluation(param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(job)
}
