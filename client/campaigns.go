package client

import (
	"context"
	"net/http"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// Campaigns lists the legacy campaigns (GET /v1/campaigns).
func (c *Client) Campaigns(ctx context.Context) ([]engine.Campaign, error) {
	var out wire.CampaignList
	err := c.do(ctx, http.MethodGet, "/v1/campaigns", nil, &out)
	return out.Campaigns, err
}

// Campaign returns one campaign (GET /v1/campaigns/{id}).
func (c *Client) Campaign(ctx context.Context, id engine.CampaignID) (engine.Campaign, error) {
	var out engine.Campaign
	err := c.do(ctx, http.MethodGet, "/v1/campaigns/"+esc(id), nil, &out)
	return out, err
}

// PutCampaign creates or changes a campaign (PUT /v1/campaigns/{id}).
func (c *Client) PutCampaign(ctx context.Context, id engine.CampaignID, req wire.CampaignRequest) (engine.Campaign, error) {
	var out engine.Campaign
	err := c.do(ctx, http.MethodPut, "/v1/campaigns/"+esc(id), req, &out)
	return out, err
}

// RunCampaign runs a campaign now (POST /v1/campaigns/{id}/run).
func (c *Client) RunCampaign(ctx context.Context, id engine.CampaignID) (engine.RunResult, error) {
	var out engine.RunResult
	err := c.do(ctx, http.MethodPost, "/v1/campaigns/"+esc(id)+"/run", nil, &out)
	return out, err
}

// RunOutbound runs the NBA outbound pass now on a channel, or on every outbound channel
// for "" (POST /v1/outbound/run).
func (c *Client) RunOutbound(ctx context.Context, channel string) (engine.RunResult, error) {
	var out engine.RunResult
	err := c.do(ctx, http.MethodPost, "/v1/outbound/run", wire.OutboundRunRequest{Channel: channel}, &out)
	return out, err
}

// OutboundQuery selects contacts from the outbound feed.
type OutboundQuery struct {
	Channel string    // required, such as "email"
	Since   time.Time // the zero time: from the oldest
	Limit   int       // the most to return; 0: no limit
}

// Outbound streams the outbound contacts on a channel, oldest first (GET /v1/outbound,
// JSON lines), as a sending system reads them, calling fn with each; an error of fn stops
// the stream and is returned.
func (c *Client) Outbound(ctx context.Context, q OutboundQuery, fn func(*wire.OutboundItem) error) error {
	return lines(ctx, c, "/v1/outbound"+query("channel", q.Channel, "since", sinceParam(q.Since), "limit", limitParam(q.Limit)), fn)
}
