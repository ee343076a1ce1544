package engine

import (
	"context"
	"fmt"
	"sort"

	"github.com/robfig/cron/v3"
)

type campaignState struct {
	c       Campaign
	segment *Expression
}

// ParseSchedule parses a campaign or job schedule: robfig/cron's standard five-field
// syntax or a descriptor such as @daily, @weekly or @every 24h.
func ParseSchedule(spec string) (cron.Schedule, error) {
	return cron.ParseStandard(spec)
}

// PutCampaign creates or replaces a campaign. The segment is compiled and the schedule
// parsed here: errors are a 422 that says where.
func (e *Engine) PutCampaign(ctx context.Context, c Campaign) (Campaign, error) {
	if e.proposing(ctx) {
		return proposeCall[Campaign](ctx, e, callPutCampaign, c)
	}
	if !ValidID(string(c.ID)) {
		return Campaign{}, Invalid("invalid_id", "campaign id %q: want 1-128 letters, digits or . _ : @ -", truncate(string(c.ID), 40))
	}
	if !ValidID(c.Channel) {
		return Campaign{}, Invalid("invalid_field", "channel: required, a channel name such as \"email\"")
	}
	if !finite(c.Priority) {
		return Campaign{}, Invalid("invalid_number", "priority: must be a finite number")
	}
	if c.Cap < 0 {
		return Campaign{}, Invalid("invalid_field", "cap: must not be negative")
	}
	if len(c.Description) > maxDescLength {
		return Campaign{}, Invalid("invalid_field", "description: longer than %d characters", maxDescLength)
	}
	if _, err := e.Action(c.Action); err != nil {
		return Campaign{}, errorf(ErrUnprocessable, "unknown_action", "action: no action %q in the catalog", truncate(string(c.Action), 64))
	}
	if c.Schedule != "" {
		if _, err := ParseSchedule(c.Schedule); err != nil {
			return Campaign{}, errorf(ErrUnprocessable, "invalid_schedule", "schedule: %q: %v", truncate(c.Schedule, 64), err)
		}
	}
	seg, err := CompileExpression("segment", c.Segment)
	if err != nil {
		return Campaign{}, err
	}
	now := e.now(ctx).UTC()
	e.progMu.Lock()
	defer e.progMu.Unlock()
	c.Created = now
	if old := e.campaigns[c.ID]; old != nil {
		c.Created = old.c.Created
	}
	c.Updated = now
	if err := e.store.PutCampaign(ctx, c); err != nil {
		return Campaign{}, fmt.Errorf("put campaign %q: %w", c.ID, err)
	}
	e.campaigns[c.ID] = &campaignState{c: c, segment: seg}
	e.noteCampaignChannels()
	return c, nil
}

// Campaigns returns every campaign, ordered by id.
func (e *Engine) Campaigns() []Campaign {
	e.progMu.RLock()
	defer e.progMu.RUnlock()
	out := make([]Campaign, 0, len(e.campaigns))
	for _, s := range e.campaigns {
		out = append(out, s.c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Campaign returns one campaign.
func (e *Engine) Campaign(id CampaignID) (Campaign, error) {
	e.progMu.RLock()
	defer e.progMu.RUnlock()
	s := e.campaigns[id]
	if s == nil {
		return Campaign{}, errorf(ErrNotFound, "unknown_campaign", "no campaign %q", truncate(string(id), 64))
	}
	return s.c, nil
}

// matchingCampaigns returns the enabled campaigns on channel whose segment matches env,
// highest priority first (ties by id).
func (e *Engine) matchingCampaigns(channel string, env *Env, eval func(*Expression) bool) []*campaignState {
	e.progMu.RLock()
	var out []*campaignState
	for _, s := range e.campaigns {
		if s.c.Enabled && s.c.Channel == channel {
			out = append(out, s)
		}
	}
	e.progMu.RUnlock()
	keep := out[:0]
	for _, s := range out {
		if eval(s.segment) {
			keep = append(keep, s)
		}
	}
	sort.Slice(keep, func(i, j int) bool {
		if keep[i].c.Priority != keep[j].c.Priority {
			return keep[i].c.Priority > keep[j].c.Priority
		}
		return keep[i].c.ID < keep[j].c.ID
	})
	return keep
}
