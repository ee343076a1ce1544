package api

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

// ClockDriver moves a manual clock and runs the scheduled work that falls due: how a
// replay or simulation drives nextbest faster than real time.
type ClockDriver interface {
	Advance(ctx context.Context, t time.Time) (wire.ClockState, error)
	State() wire.ClockState
}

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

// writeReportCSV writes the daily series: one row per day, arm, reference and metric, with
// the cumulative values up to the end of that day.
func writeReportCSV(c *fiber.Ctx, rep *engine.Report) error {
	w := csv.NewWriter(c)
	_ = w.Write([]string{"day", "metric", "arm", "reference", "arm_value", "reference_value", "arm_n", "reference_n", "abs_lift", "abs_ci_low", "abs_ci_high",
		"rel_lift", "rel_ci_low", "rel_ci_high", "p_value", "chance_to_beat", "seq_ci_low", "seq_ci_high", "seq_p_value"})
	f := func(x float64) string {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', 10, 64)
	}
	for _, d := range rep.Daily {
		for _, m := range []string{engine.MetricResponseRate, engine.MetricChurn, engine.MetricDiscount, engine.MetricNPS, engine.MetricResponders} {
			for _, cmp := range d.Metrics[m] {
				st := cmp.Stats
				_ = w.Write([]string{d.Day, m, cmp.Arm, cmp.Reference, f(st.Treatment), f(st.Control), strconv.Itoa(st.NTreatment), strconv.Itoa(st.NControl),
					f(st.AbsLift), f(st.AbsCI.Lo), f(st.AbsCI.Hi), f(st.RelLift), f(st.RelCI.Lo), f(st.RelCI.Hi), f(st.PValue), f(st.ChanceToBeat),
					f(st.SeqCI.Lo), f(st.SeqCI.Hi), f(st.SeqPValue)})
			}
		}
	}
	w.Flush()
	return w.Error()
}

func (s *Server) putCampaign(c *fiber.Ctx) error {
	var b wire.CampaignRequest
	if err := decode(c.Body(), &b); err != nil {
		return err
	}
	id := param(c, "id")
	if b.ID != "" && string(b.ID) != id {
		return engine.Invalid("invalid_field", "id: body says %q but the URL says %q", b.ID, id)
	}
	cp := engine.Campaign{ID: engine.CampaignID(id), Description: b.Description, Segment: b.Segment, Action: b.Action, Channel: b.Channel,
		Schedule: b.Schedule, Cap: b.Cap, Enabled: true}
	if b.Priority != nil {
		cp.Priority = *b.Priority
	}
	if b.Enabled != nil {
		cp.Enabled = *b.Enabled
	}
	out, err := s.eng.PutCampaign(c.UserContext(), cp)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) listCampaigns(c *fiber.Ctx) error {
	return c.JSON(wire.CampaignList{Campaigns: s.eng.Campaigns()})
}

func (s *Server) getCampaign(c *fiber.Ctx) error {
	cp, err := s.eng.Campaign(engine.CampaignID(param(c, "id")))
	if err != nil {
		return err
	}
	return c.JSON(cp)
}

func (s *Server) runCampaign(c *fiber.Ctx) error {
	res, err := s.eng.RunCampaign(c.UserContext(), engine.CampaignID(param(c, "id")))
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Server) runOutbound(c *fiber.Ctx) error {
	var b wire.OutboundRunRequest
	if len(c.Body()) > 0 {
		if err := decode(c.Body(), &b); err != nil {
			return err
		}
	}
	res, err := s.eng.RunOutbound(c.UserContext(), b.Channel)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// outboundFeed streams the outbound contacts on a channel as JSON lines.
func (s *Server) outboundFeed(c *fiber.Ctx) error {
	since, err := parseSince(c.Query("since"), s.eng.Clock().Now())
	if err != nil {
		return err
	}
	channel := c.Query("channel")
	if !engine.ValidID(channel) {
		return engine.Invalid("invalid_query", "channel: required, e.g. ?channel=email")
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
		err := s.eng.Outbound(ctx, channel, since, func(d *engine.Decision) error {
			if limit > 0 && n >= limit {
				return errStop
			}
			n++
			it := wire.OutboundItem{DecisionID: d.ID, CustomerID: d.CustomerID, Channel: d.Channel, Time: d.Time, Actions: d.Chosen, Arm: d.Arm, Source: d.Source}
			for _, c := range d.Candidates {
				if len(d.Chosen) > 0 && c.ID == d.Chosen[0] {
					it.Value, it.Cost, it.ContactCost = c.Value, c.Cost, c.ContactCost
					break
				}
			}
			return enc.Encode(it)
		})
		if err != nil && err != errStop {
			s.log.Warn("outbound feed ended early", "err", err)
		}
		_ = w.Flush()
	})
	return nil
}

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

// power is the power and minimum-detectable-effect calculator:
//
//	GET /v1/power?kind=binary&baseline=0.05&mde=0.01   -> customers needed per arm
//	GET /v1/power?kind=mean&sd=40&n=5000                -> smallest detectable effect
//
// Optional: ratio (control size / treatment size, default 1), level (0.95), power (0.8).
func (s *Server) power(c *fiber.Ctx) error {
	kind, err := experiments.ParseKind(c.Query("kind", "binary"))
	if err != nil {
		return engine.Invalid("invalid_query", "kind: %v", err)
	}
	num := func(name string, def float64) (float64, error) {
		q := c.Query(name)
		if q == "" {
			return def, nil
		}
		v, err := strconv.ParseFloat(q, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, engine.Invalid("invalid_query", "%s: %q is not a number", name, truncateQ(q))
		}
		return v, nil
	}
	plan := experiments.PowerPlan{Kind: kind}
	for _, p := range []struct {
		name string
		dst  *float64
	}{{"baseline", &plan.Baseline}, {"sd", &plan.SD}, {"level", &plan.Level}, {"power", &plan.Power}, {"ratio", &plan.Ratio}} {
		if *p.dst, err = num(p.name, 0); err != nil {
			return err
		}
	}
	mde, err := num("mde", 0)
	if err != nil {
		return err
	}
	inputs := wire.PowerInputs{Kind: kind.String(), Level: or0(plan.Level, experiments.DefaultLevel), Power: or0(plan.Power, experiments.DefaultPower), Ratio: or0(plan.Ratio, 1)}
	if kind == experiments.Binary {
		inputs.Baseline = &plan.Baseline
	} else {
		inputs.SD = &plan.SD
	}
	n, err := num("n", 0)
	if err != nil {
		return err
	}
	switch {
	case mde > 0 && n == 0:
		t, ctl, err := plan.SampleSize(mde)
		if err != nil {
			return engine.Invalid("invalid_query", "%v", err)
		}
		return c.JSON(wire.Power{Inputs: inputs, MDE: mde, Treatment: t, Control: ctl, Total: t + ctl})
	case n > 0 && mde == 0:
		if n != math.Trunc(n) || n > 1e12 {
			return engine.Invalid("invalid_query", "n: a whole number of treatment-arm customers")
		}
		m, err := plan.MDE(int(n))
		if err != nil {
			return engine.Invalid("invalid_query", "%v", err)
		}
		return c.JSON(wire.Power{Inputs: inputs, Treatment: int(n), MDE: m})
	}
	return engine.Invalid("invalid_query", "give mde (to get the sample size) or n (to get the detectable effect), not both")
}

func or0(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}
