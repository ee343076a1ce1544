package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

func (s *Server) putExperiment(c *fiber.Ctx) error {
	var b wire.ExperimentRequest
	if err := decode(c.Body(), &b); err != nil {
		return err
	}
	id := param(c, "id")
	if b.ID != "" && string(b.ID) != id {
		return engine.Invalid("invalid_field", "id: body says %q but the URL says %q", b.ID, id)
	}
	if len(b.Arms) == 0 || len(b.Arms) > experiments.MaxArms {
		return engine.Invalid("invalid_field", "arms: give 1 to %d arms, each {name, policy, weight}", experiments.MaxArms)
	}
	x, err := s.eng.PutExperiment(c.UserContext(), engine.Experiment{ID: engine.ExperimentID(id), Description: b.Description, Arms: b.Arms, Control: b.Control,
		Salt: b.Salt, Population: b.Population, Start: b.Start, End: b.End, Metrics: b.Metrics, State: b.State})
	if err != nil {
		return err
	}
	return c.JSON(x)
}

func (s *Server) listExperiments(c *fiber.Ctx) error {
	return c.JSON(wire.ExperimentList{Experiments: s.eng.Experiments()})
}

func (s *Server) getExperiment(c *fiber.Ctx) error {
	x, err := s.eng.Experiment(engine.ExperimentID(param(c, "id")))
	if err != nil {
		return err
	}
	return c.JSON(x)
}

func (s *Server) getAssignment(c *fiber.Ctx) error {
	a, err := s.eng.Assignment(c.UserContext(), engine.ExperimentID(param(c, "id")), engine.CustomerID(param(c, "customer")))
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) report(c *fiber.Ctx) error {
	rep, err := s.eng.Report(c.UserContext(), engine.ExperimentID(param(c, "id")))
	if err != nil {
		return err
	}
	switch c.Query("format", "json") {
	case "json":
		return c.JSON(rep)
	case "csv":
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+string(rep.Experiment.ID)+`-report.csv"`)
		return writeReportCSV(c, rep)
	}
	return engine.Invalid("invalid_query", "format: %q is not json or csv", truncateQ(c.Query("format")))
}
