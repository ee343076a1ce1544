package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
)

// TestUnknownChannelRefused: a decide or an outbound run on a channel that is neither
// configured (engine.channels, outbound_channel, the contact policy) nor named by the
// catalog is a 400 unknown_channel that lists the known ones; naming a channel in an
// action or a campaign makes it known.
func TestUnknownChannelRefused(t *testing.T) {
	h := newHarness(t, t.TempDir(), func(o *engine.Options) {
		o.Channels = map[string]engine.Channel{"web": {Weight: 1, Timeout: time.Hour}}
		o.OutboundChannel = "email"
		o.ContactPolicy = engine.ContactPolicy{Caps: map[string]engine.Cap{"sms": {Max: 1, Window: time.Hour}}}
	})
	ctx := context.Background()
	h.putAction("offer")
	decide := func(channel string) error {
		_, err := h.eng.Decide(ctx, engine.DecideRequest{CustomerID: "c1", Channel: channel})
		return err
	}
	for _, ch := range []string{"web", "email", "sms"} {
		if err := decide(ch); err != nil {
			t.Errorf("decide on configured channel %s: %v", ch, err)
		}
	}
	for _, ch := range []string{"kiosk", "store", "app"} {
		err := decide(ch)
		if !errors.Is(err, engine.ErrInvalid) || engine.ErrorCode(err) != "unknown_channel" || !strings.Contains(err.Error(), "email, sms, web") {
			t.Errorf("decide on %s: %v (code %q), want invalid unknown_channel listing email, sms, web", ch, err, engine.ErrorCode(err))
		}
	}
	if _, err := h.eng.RunOutbound(ctx, "kiosk"); engine.ErrorCode(err) != "unknown_channel" {
		t.Errorf("outbound run on kiosk: %v, want unknown_channel", err)
	}

	if _, err := h.eng.PutAction(ctx, engine.Action{ID: "kiosk-offer", Value: 1, Enabled: true, Channels: []string{"kiosk"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.PutCampaign(ctx, engine.Campaign{ID: "in-store", Segment: "true", Action: "offer", Channel: "store", Priority: 1, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{"kiosk", "store"} {
		if err := decide(ch); err != nil {
			t.Errorf("decide on %s, named by the catalog: %v", ch, err)
		}
	}
	if got := strings.Join(h.eng.Channels(), ","); got != "email,kiosk,sms,store,web" {
		t.Errorf("Channels() = %s", got)
	}
	// The catalog's channels are known again after a restart.
	h.stop()
	h.start(func(o *engine.Options) {
		o.Channels = map[string]engine.Channel{"web": {Weight: 1, Timeout: time.Hour}}
	})
	for _, ch := range []string{"kiosk", "store"} {
		if err := decide(ch); err != nil {
			t.Errorf("after a restart, decide on %s: %v", ch, err)
		}
	}
	if err := decide("app"); engine.ErrorCode(err) != "unknown_channel" {
		t.Errorf("after a restart, decide on app: %v", err)
	}
}

func TestReasonCode(t *testing.T) {
	for reason, want := range map[string]string{
		engine.ReasonNoEligible:  "no_eligible",
		engine.ReasonBelowThresh: "below_threshold",
		engine.ReasonHoldout:     "holdout",
		engine.ReasonNoCampaign:  "no_campaign",
		engine.ReasonContactLimit + ": suppressed: 4 negative responses in 720h0m0s": "contact_policy",
		engine.ReasonContactLimit + ": cap: 2 email contacts in 168h0m0s":            "contact_policy",
		"something new": "other",
	} {
		if got := engine.ReasonCode(reason); got != want {
			t.Errorf("ReasonCode(%q) = %q, want %q", reason, got, want)
		}
	}
}
