package engine

import (
	"maps"
	"slices"
	"strings"
	"sync/atomic"
)

// channelSet is the set of channels a request may name: the configured ones (the keys of
// Options.Channels, Options.OutboundChannel and the channels of the contact policy) and
// those the catalog names (an action's channels, a campaign's channel). A decide on any
// other channel is refused (400 unknown_channel): channels are configuration, and a
// client that could make up channel names would make up metric series and contact
// histories with them.
type channelSet struct {
	configured map[string]struct{}
	actions    atomic.Pointer[map[string]struct{}] // named by actions; written under Engine.mu
	campaigns  atomic.Pointer[map[string]struct{}] // named by campaigns; written under progMu
}

func newChannelSet(o *Options) *channelSet {
	s := &channelSet{configured: map[string]struct{}{o.OutboundChannel: {}}}
	for name := range o.Channels {
		s.configured[name] = struct{}{}
	}
	for name := range o.ContactPolicy.Caps {
		s.configured[name] = struct{}{}
	}
	for _, name := range o.ContactPolicy.SuppressChannels {
		s.configured[name] = struct{}{}
	}
	empty := map[string]struct{}{}
	s.actions.Store(&empty)
	s.campaigns.Store(&empty)
	return s
}

// has reports whether name is a known channel.
func (s *channelSet) has(name string) bool {
	if _, ok := s.configured[name]; ok {
		return true
	}
	if _, ok := (*s.actions.Load())[name]; ok {
		return true
	}
	_, ok := (*s.campaigns.Load())[name]
	return ok
}

// list returns the known channels, sorted.
func (s *channelSet) list() []string {
	all := maps.Clone(s.configured)
	maps.Copy(all, *s.actions.Load())
	maps.Copy(all, *s.campaigns.Load())
	return slices.Sorted(maps.Keys(all))
}

// noteActions records the channels the actions name. Callers hold e.mu.
func (e *Engine) noteActionChannels() {
	named := map[string]struct{}{}
	for _, st := range e.actions {
		for _, c := range st.action.Channels {
			named[c] = struct{}{}
		}
	}
	e.channels.actions.Store(&named)
}

// noteCampaignChannels records the channels of the campaigns. Callers hold e.progMu.
func (e *Engine) noteCampaignChannels() {
	named := map[string]struct{}{}
	for _, cs := range e.campaigns {
		named[cs.c.Channel] = struct{}{}
	}
	e.channels.campaigns.Store(&named)
}

// Channels returns the channels requests may name, sorted: the configured ones and those
// of the catalog's actions and campaigns.
func (e *Engine) Channels() []string { return e.channels.list() }

// checkChannel refuses a channel that is not known.
func (e *Engine) checkChannel(field, name string) error {
	if !ValidID(name) {
		return Invalid("invalid_field", "%s: want a channel name such as \"web\"", field)
	}
	if !e.channels.has(name) {
		return Invalid("unknown_channel", "%s: %q is not a configured channel; the channels are %s (engine.channels in the configuration, and those the catalog's actions and campaigns name)",
			field, name, truncate(strings.Join(e.channels.list(), ", "), 300))
	}
	return nil
}
