package api

import (
	"bufio"
	"context"
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

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
