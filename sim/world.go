package sim

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// World is the simulated telco. It is driven day by day and hour by hour by the
// simulator (cmd/nextbest simulate), which carries its events to the service over HTTP
// and hands the service's answers back:
//
//	StartDay  once a day, at midnight: the hidden states move; profile changes to PUT
//	Hour      the interactions (to decide on) and outcomes (churn, NPS) of one hour
//	Respond   the customer's reaction to the service's answer to an interaction
//	Contacted an outbound contact read from the service's feed (email)
//	Due       the responses to outbound contacts that happen before a time
//	Truth     the ground truth per arm, at the end
//
// Respond may be called from several goroutines at once for different customers; the
// other methods are called from one goroutine.
type World struct {
	p     *Params
	seed  uint64
	start time.Time
	days  int
	cust  []*customer
	byID  map[string]int

	day     int
	plan    []event // the current day's events, in time order
	next    int
	pending []pending // accepted outbound offers whose response has not happened yet
	bills   []Outcome // the day's bills, as revenue outcomes: Hour returns them first
	// churnValue prices a departure for the net value's truth (SetChurnValue); nil: 0.
	churnValue func(profile map[string]any) float64
}

// SetChurnValue sets what a departure is worth for a customer with a profile (the
// service's churn objective, which the simulator reads from it), for the net value's
// truth.
func (w *World) SetChurnValue(fn func(profile map[string]any) float64) { w.churnValue = fn }

// New returns a world of n customers over days days from start (a midnight, UTC).
func New(p *Params, n, days int, seed uint64, start time.Time) (*World, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if n < 1 || days < 1 {
		return nil, fmt.Errorf("%w: want at least one customer and one day", ErrParams)
	}
	w := &World{p: p, seed: seed, start: start.UTC(), days: days, byID: make(map[string]int, n), day: -1}
	w.cust = make([]*customer, n)
	for i := range w.cust {
		w.cust[i] = w.create(i)
		w.byID[w.cust[i].id] = i
	}
	return w, nil
}

// Start is the beginning of day 0; End the end of the last day.
func (w *World) Start() time.Time { return w.start }

// End is the end of the simulated period.
func (w *World) End() time.Time { return w.start.AddDate(0, 0, w.days) }

// Days is the number of simulated days.
func (w *World) Days() int { return w.days }

// Customers returns the customer ids, in order.
func (w *World) Customers() []string {
	out := make([]string, len(w.cust))
	for i, c := range w.cust {
		out[i] = c.id
	}
	return out
}

// ProfileUpdate is attributes to merge into a customer's profile (PUT /v1/customers/{id}).
type ProfileUpdate struct {
	Customer   string
	Attributes map[string]any
}

// Profiles returns every customer's profile on day 0, for the initial load.
func (w *World) Profiles() []ProfileUpdate {
	out := make([]ProfileUpdate, len(w.cust))
	for i, c := range w.cust {
		out[i] = ProfileUpdate{Customer: c.id, Attributes: w.profile(c, 0)}
	}
	return out
}

// Interaction is a contact a customer starts: a web or app visit, or a call.
type Interaction struct {
	Customer string
	Channel  string         // web, app or call_center
	Time     time.Time      // when it happens
	Context  map[string]any // what the channel knows: the page and device, or the call's reason
	idx      int
	leaving  bool // the customer means to leave (hidden; the context may say "cancel")
}

// Outcome is a business outcome for POST /v1/outcomes.
type Outcome struct {
	ID       string    `json:"id"`
	Customer string    `json:"customer_id"`
	Type     string    `json:"type"` // churn, retention_discount, nps, revenue
	Value    float64   `json:"value"`
	Time     time.Time `json:"time"`
}

// Feedback is a customer's response to an offer, for POST /v1/feedback.
type Feedback struct {
	DecisionID string
	Action     string
	Outcome    string // accepted or rejected
	Time       time.Time
	Customer   string
}

// Offer is the service's answer: what it offered a customer, on which channel, when.
type Offer struct {
	DecisionID string
	Customer   string
	Arm        string
	Actions    []string // best first; the customer sees the first
	Channel    string
	Time       time.Time
	// What the service logged for the first action: its value if taken and what the
	// contact costs (for the net value's truth).
	Value, ContactCost float64
}

type eventKind int

const (
	evInteraction eventKind = iota
	evLeave                 // decides to leave without telling us
	evSurvey                // answers the relationship survey
)

type event struct {
	t    time.Time
	idx  int
	kind eventKind
	in   *Interaction
	x    *draws
}

// StartDay moves every customer into day d (0, 1, ... in order): usage, bills, network
// problems, disputes, satisfaction, then plans the day's interactions, departures and
// survey answers. It returns the profile changes the CRM would record.
func (w *World) StartDay(d int) ([]ProfileUpdate, error) {
	if d != w.day+1 || d >= w.days {
		return nil, fmt.Errorf("sim: day %d out of order (last %d of %d)", d, w.day, w.days)
	}
	w.day = d
	w.plan, w.next = w.plan[:0], 0
	var ups []ProfileUpdate
	midnight := w.start.AddDate(0, 0, d)
	in := &w.p.Interactions
	at := func(u float64) time.Time {
		span := time.Duration(in.LastHour-in.FirstHour) * time.Hour
		return midnight.Add(time.Duration(in.FirstHour)*time.Hour + time.Duration(u*float64(span)))
	}
	for _, c := range w.cust {
		x := w.dayDraws(c, d)
		if !c.twin.churned {
			w.evolve(c, &c.twin, d, &x)
			if x.intent < w.hazard(c, &c.twin, d) {
				c.twin.churned, c.twin.churnedAt = true, at(x.intentTime)
			}
			if r := w.calls(c, &c.twin, &x); !c.twin.churned && c.twin.ticket == "" && (r == "network" || r == "billing") {
				c.twin.ticket = r // the twin's call opens a ticket too
			}
		}
		if c.real.churned {
			continue
		}
		before := c.real
		ch := w.evolve(c, &c.real, d, &x)
		if ch.bill {
			// The billing system posts each bill as money received: a CRM knows it.
			w.bills = append(w.bills, Outcome{ID: c.id + "-bill-" + strconv.Itoa(d), Customer: c.id, Type: "revenue", Value: math.Round(c.real.lastBill*100) / 100, Time: midnight})
		}
		if attrs := w.changed(c, d, &before, ch); len(attrs) > 0 {
			ups = append(ups, ProfileUpdate{Customer: c.id, Attributes: attrs})
		}
		w.planDay(c, d, &x, at)
	}
	slices.SortFunc(w.plan, func(a, b event) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		if a.idx != b.idx {
			return a.idx - b.idx
		}
		return int(a.kind) - int(b.kind)
	})
	return ups, nil
}

// changed returns the attributes the CRM sees change between before and the real state.
func (w *World) changed(c *customer, d int, before *state, ch changes) map[string]any {
	st := &c.real
	attrs := map[string]any{}
	if ch.bill {
		attrs["monthly_spend"] = math.Round(st.lastBill)
		attrs["last_bill_change_pct"] = math.Round(st.billChange)
		attrs["tenure_months"] = c.tenure(d)
		attrs["months_to_contract_end"] = monthsToEnd(st, d)
	}
	if ch.usage && st.alert != before.alert {
		attrs["data_used_pct"] = st.alert
	}
	if ch.network {
		attrs["dropped_calls_7d"] = w.dropped(c, d, st.network)
	}
	if st.ticket != before.ticket {
		attrs["open_ticket"] = orNone(st.ticket)
	}
	if ch.discount {
		attrs["discount_pct"] = 0
	}
	return attrs
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// calls returns why the customer calls the call centre today ("network", "billing",
// "other"), or "" if it does not.
func (w *World) calls(c *customer, st *state, x *draws) string {
	in := &w.p.Interactions
	rate := in.CallPerDay
	if st.network {
		rate += in.CallNetwork
	}
	if st.dispute {
		rate += in.CallDispute
	}
	if x.call >= rate {
		return ""
	}
	switch {
	case st.network && st.dispute:
		if x.callReason < 0.5 {
			return "network"
		}
		return "billing"
	case st.network:
		return "network"
	case st.dispute:
		return "billing"
	}
	return "other"
}

// planDay adds customer c's events of day d to the plan.
func (w *World) planDay(c *customer, d int, x *draws, at func(float64) time.Time) {
	st := &c.real
	in := &w.p.Interactions
	leaving := x.intent < w.hazard(c, st, d)
	leaveAt := at(x.intentTime)
	keep := func(t time.Time) bool { return !leaving || t.Before(leaveAt) }
	add := func(it *Interaction) {
		it.idx = c.idx
		w.plan = append(w.plan, event{t: it.Time, idx: c.idx, kind: evInteraction, in: it})
	}

	needs := st.alert >= 80 || st.network || st.dispute || (st.contractEnd > d && monthsToEnd(st, d) <= 3)
	boost := 1.0
	if needs {
		boost += in.NeedBoost
	}
	if x.web < in.WebPerDay*boost {
		if t := at(x.webTime); keep(t) {
			device := "desktop"
			if x.webDevice < 0.25 {
				device = "ios"
			} else if x.webDevice < 0.5 {
				device = "android"
			}
			add(&Interaction{Customer: c.id, Channel: "web", Time: t, Context: map[string]any{"page": w.page(c, st, d, x.webPage), "device": device}})
		}
	}
	if c.app && x.app < in.AppPerDay*boost {
		if t := at(x.appTime); keep(t) {
			device := "ios"
			if x.appDevice < 0.5 {
				device = "android"
			}
			add(&Interaction{Customer: c.id, Channel: "app", Time: t, Context: map[string]any{"page": w.page(c, st, d, x.appPage), "device": device}})
		}
	}
	if reason := w.calls(c, st, x); reason != "" {
		if t := at(x.callTime); keep(t) {
			add(&Interaction{Customer: c.id, Channel: "call_center", Time: t, Context: map[string]any{"reason": reason}})
		}
	}
	if x.survey < w.p.NPS.InvitePerDay*w.p.NPS.ResponseRate {
		if t := at(x.surveyTime); keep(t) {
			w.plan = append(w.plan, event{t: t, idx: c.idx, kind: evSurvey, x: x})
		}
	}
	if leaving {
		switch cp := &w.p.Churn; {
		case x.cancelPath < cp.CallFirst:
			add(&Interaction{Customer: c.id, Channel: "call_center", Time: leaveAt, Context: map[string]any{"reason": "cancel"}, leaving: true})
		case x.cancelPath < cp.CallFirst+cp.WebFirst:
			add(&Interaction{Customer: c.id, Channel: "web", Time: leaveAt, Context: map[string]any{"page": "cancel", "device": "desktop"}, leaving: true})
		default:
			w.plan = append(w.plan, event{t: leaveAt, idx: c.idx, kind: evLeave})
		}
	}
}

// page picks the page a visitor opens, weighted by what the customer needs.
func (w *World) page(c *customer, st *state, d int, u float64) string {
	b := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	nearEnd := st.contractEnd > d && monthsToEnd(st, d) <= 3
	recentBill := (d+c.cycle)%30 < 3
	weights := []struct {
		page string
		w    float64
	}{
		{"home", 2},
		{"usage", 3 * b(st.alert >= 80)},
		{"billing", 3*b(st.dispute) + b(recentBill)},
		{"coverage", 3 * b(st.network)},
		{"plans", 0.5 + 1.5*b(w.risk(c, st, d) > 0.7)},
		{"devices", 0.3 + 3*b(nearEnd)},
		{"support", 0.5 + b(st.network)},
	}
	total := 0.0
	for _, x := range weights {
		total += x.w
	}
	u *= total
	for _, x := range weights {
		if u < x.w {
			return x.page
		}
		u -= x.w
	}
	return "home"
}

// Hour returns the interactions that happen in [from, to), for the service to decide on,
// and the outcomes customers produce on their own in it: departures without a word, and
// survey answers. Departures take effect here, with a profile change (status churned).
func (w *World) Hour(from, to time.Time) ([]Interaction, []Outcome, []ProfileUpdate) {
	var ins []Interaction
	outs := w.bills
	w.bills = nil
	var ups []ProfileUpdate
	for ; w.next < len(w.plan) && w.plan[w.next].t.Before(to); w.next++ {
		ev := &w.plan[w.next]
		if ev.t.Before(from) {
			continue
		}
		c := w.cust[ev.idx]
		if c.real.churned {
			continue
		}
		switch ev.kind {
		case evInteraction:
			ins = append(ins, *ev.in)
		case evLeave:
			o, u := w.leave(c, ev.t)
			outs, ups = append(outs, o), append(ups, u)
		case evSurvey:
			outs = append(outs, w.answer(c, ev.t, ev.x.surveyNoise))
		}
	}
	return ins, outs, ups
}

// leave records a customer's departure at t.
func (w *World) leave(c *customer, t time.Time) (Outcome, ProfileUpdate) {
	c.real.churned, c.real.churnedAt = true, t
	return Outcome{ID: c.id + "-churn", Customer: c.id, Type: "churn", Value: 1, Time: t},
		ProfileUpdate{Customer: c.id, Attributes: map[string]any{"status": "churned"}}
}

// answer is a survey answer at t; the first one is kept for the ground truth.
func (w *World) answer(c *customer, t time.Time, z float64) Outcome {
	sd := w.p.NPS.AnswerNoise
	if !c.npsFirst {
		c.npsFirst = true
		c.npsReal, c.npsTwin = expectedNPS(c.real.sat, sd), expectedNPS(c.twin.sat, sd)
	}
	c.npsAnswers++
	return Outcome{ID: c.id + "-nps-" + strconv.FormatInt(t.Unix(), 10), Customer: c.id, Type: "nps", Value: float64(npsAnswer(c.real.sat, sd, z)), Time: t}
}

// Active reports whether the customer of an interaction is still a customer at its time
// (a departure later in the same hour does not cancel an earlier visit).
func (w *World) Active(in *Interaction) bool {
	st := &w.cust[in.idx].real
	return !st.churned || in.Time.Before(st.churnedAt)
}
