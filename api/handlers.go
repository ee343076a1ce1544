package api

import (
	"bufio"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

func (s *Server) putAction(c *fiber.Ctx) error {
	id := param(c, "id")
	var b wire.ActionRequest
	if err := decode(c.Body(), &b); err != nil {
		return err
	}
	if b.ID != "" && string(b.ID) != id {
		return engine.Invalid("invalid_field", "id: body says %q but the URL says %q", b.ID, id)
	}
	a := engine.Action{ID: engine.ActionID(id), Issue: b.Issue, Group: b.Group, Description: b.Description, Channels: b.Channels, Eligibility: b.Eligibility, Model: b.Model, Enabled: true, Lever: 1,
		Cost: b.Cost, ContactCost: b.ContactCost, Objective: b.Objective}
	if b.Value == nil {
		return engine.Invalid("invalid_field", "value: required (the business value of a positive response: a number, or an expression such as \"0.5 * (profile.monthly_spend ?? 0)\"; 0 for an action worth only its objective)")
	}
	a.Value, a.ValueExpr = b.Value.Const, b.Value.Expr
	if b.Lever != nil {
		a.Lever = *b.Lever
	}
	if b.Enabled != nil {
		a.Enabled = *b.Enabled
	}
	out, err := s.eng.PutAction(c.UserContext(), a)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) listActions(c *fiber.Ctx) error {
	return c.JSON(wire.ActionList{Actions: s.eng.Actions()})
}

func (s *Server) getAction(c *fiber.Ctx) error {
	a, err := s.eng.Action(engine.ActionID(param(c, "id")))
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) deleteAction(c *fiber.Ctx) error {
	a, err := s.eng.DisableAction(c.UserContext(), engine.ActionID(param(c, "id")))
	if err != nil {
		return err
	}
	return c.JSON(a)
}

// customerBody is wire.CustomerRequest with the attributes kept raw, for object: it
// decodes them on the faster path, and tells an absent object from null.
type customerBody struct {
	wire.CustomerRequest
	Attributes json.RawMessage `json:"attributes"`
}

func (s *Server) putCustomer(c *fiber.Ctx) error {
	var b customerBody
	if err := decode(c.Body(), &b); err != nil {
		return err
	}
	if len(b.Attributes) == 0 {
		return engine.Invalid("invalid_field", "attributes: required, a JSON object")
	}
	attrs, err := object("attributes", b.Attributes)
	if err != nil {
		return err
	}
	cust, err := s.eng.PutCustomer(c.UserContext(), engine.CustomerID(param(c, "id")), attrs)
	if err != nil {
		return err
	}
	return c.JSON(cust)
}

func (s *Server) getCustomer(c *fiber.Ctx) error {
	cust, err := s.eng.Customer(c.UserContext(), engine.CustomerID(param(c, "id")))
	if err != nil {
		return err
	}
	return c.JSON(cust)
}

func (s *Server) decide(c *fiber.Ctx) error {
	req, err := decideRequest(c.Body())
	if err != nil {
		return err
	}
	res, err := s.eng.Decide(c.UserContext(), req)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Server) feedback(c *fiber.Ctx) error {
	req, err := feedbackRequest(c.Body())
	if err != nil {
		return err
	}
	res, err := s.eng.Feedback(c.UserContext(), req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(res)
}

func (s *Server) getModel(c *fiber.Ctx) error {
	top := c.QueryInt("top", 20)
	if top < 1 || top > 10000 {
		return engine.Invalid("invalid_query", "top: must be in [1, 10000]")
	}
	info, err := s.eng.Model(engine.ActionID(param(c, "id")), top)
	if err != nil {
		return err
	}
	return c.JSON(info)
}

// upliftReport answers an action's uplift report (engine.UpliftReport) over the labelled
// decisions since the since parameter (default: all the log holds).
func (s *Server) upliftReport(c *fiber.Ctx) error {
	since, err := parseSince(c.Query("since"), s.eng.Clock().Now())
	if err != nil {
		return err
	}
	rep, err := s.eng.UpliftReport(c.UserContext(), engine.ActionID(param(c, "id")), since)
	if err != nil {
		return err
	}
	return c.JSON(rep)
}

func (s *Server) modelVersions(c *fiber.Ctx) error {
	vs, err := s.eng.Versions(c.UserContext(), engine.ActionID(param(c, "id")))
	if err != nil {
		return err
	}
	return c.JSON(wire.ModelVersions{Action: engine.ActionID(param(c, "id")), Versions: vs})
}

func (s *Server) rollback(c *fiber.Ctx) error {
	var b wire.RollbackRequest
	if err := decode(c.Body(), &b); err != nil {
		return err
	}
	if b.Version == nil || *b.Version == 0 {
		return engine.Invalid("invalid_field", "version: required, a version number from GET /v1/models/{id}/versions")
	}
	v, err := s.eng.Rollback(c.UserContext(), engine.ActionID(param(c, "id")), *b.Version)
	if err != nil {
		return err
	}
	return c.JSON(wire.Rollback{Action: engine.ActionID(param(c, "id")), RolledBackTo: *b.Version, Version: v})
}

// parseSince reads the since parameter: RFC 3339, or a duration ago such as 15m or 24h.
func parseSince(q string, now time.Time) (time.Time, error) { return ParseTime("since", q, now) }

// ParseTime reads the time query parameter name: an RFC 3339 time, a duration before now
// (15m, 24h, 30d) or Unix seconds; "" is the zero time. The error is ErrInvalid's, code
// invalid_query.
func ParseTime(name, q string, now time.Time) (time.Time, error) {
	if q == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, q); err == nil {
		return t, nil
	}
	if d, err := engine.ParseDuration(q); err == nil && d > 0 {
		return now.Add(-time.Duration(d)), nil
	}
	if n, err := strconv.ParseInt(q, 10, 64); err == nil && n >= 0 {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, engine.Invalid("invalid_query", "%s: %q is not an RFC 3339 time (2026-11-22T10:00:00Z), a duration ago (15m, 24h, 30d) or Unix seconds", name, truncateQ(q))
}

func truncateQ(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// decisions streams the decision log as JSON lines.
func (s *Server) decisions(c *fiber.Ctx) error {
	since, err := parseSince(c.Query("since"), s.eng.Clock().Now())
	if err != nil {
		return err
	}
	limit := c.QueryInt("limit", 0)
	if limit < 0 {
		return engine.Invalid("invalid_query", "limit: must not be negative")
	}
	c.Set(fiber.HeaderContentType, "application/x-ndjson")
	s.streamBody(c, func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(s.base, 10*time.Minute)
		defer cancel()
		enc := json.NewEncoder(w)
		n := 0
		err := s.eng.Decisions(ctx, since, func(d *engine.Decision) error {
			if limit > 0 && n >= limit {
				return errStop
			}
			n++
			if err := enc.Encode(d); err != nil {
				return err
			}
			if n%256 == 0 {
				return w.Flush()
			}
			return nil
		})
		if err != nil && err != errStop {
			s.log.Warn("decision log stream ended early", "err", err)
		}
		_ = w.Flush()
	})
	return nil
}

var errStop = engine.Invalid("stop", "stop")

func (s *Server) getDecision(c *fiber.Ctx) error {
	d, err := s.eng.Decision(c.UserContext(), engine.DecisionID(param(c, "id")))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) getSchema(c *fiber.Ctx) error {
	schema, hash, dim := s.eng.Schema()
	mode := "schema"
	if schema == nil {
		mode = "auto"
	}
	return c.JSON(wire.Schema{Mode: mode, Hash: hash, Dim: dim, Schema: schema})
}

func (s *Server) putSchema(c *fiber.Ctx) error {
	body := c.Body()
	if len(strings.TrimSpace(string(body))) == 0 {
		return engine.Invalid("invalid_json", "empty body: send a schema as JSON or YAML")
	}
	hash, err := s.eng.PutSchema(c.UserContext(), body)
	if err != nil {
		return err
	}
	schema, _, dim := s.eng.Schema()
	return c.JSON(wire.Schema{Mode: "schema", Hash: hash, Dim: dim, Schema: schema})
}
