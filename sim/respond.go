package sim

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"
)

// acceptProb is the ground truth: the probability that customer c, in state st on day d,
// takes action a offered on channel ch; leaving means the customer has come to cancel.
// world.yaml (responses) documents every term.
func (w *World) acceptProb(c *customer, st *state, a, ch string, d int, leaving bool) float64 {
	r := &w.p.Responses
	e := &w.p.Effects
	off, ok := r.Channel[ch]
	if !ok {
		off = r.Channel["email"]
	}
	var logit float64
	if pct, isDiscount := e.Retention[a]; isDiscount {
		if st.discountPct > 0 && d < st.discountEnd {
			return 0 // one discount at a time
		}
		logit = r.RetentionBase + r.RetentionPct*pct + r.RetentionSens*c.sens + r.RetentionRisk*w.risk(c, st, d)
		if leaving {
			logit += r.RetentionLeave
		}
		return sigmoid(logit + off)
	}
	switch a {
	case e.Addon:
		if st.allowance <= 0 || st.addon {
			return 0
		}
		logit = r.AddonBase + r.AddonNear*clamp((st.cycleUsed/st.allowance-0.6)/0.4, 0, 1.5)
	case e.Upgrade:
		if st.plan >= len(w.p.Population.Plans)-1 || st.allowance <= 0 {
			return 0
		}
		logit = r.UpgradeBase + r.UpgradeOver*clamp((c.need/st.allowance-0.9)/0.5, 0, 2) + r.UpgradeSens*c.sens
	case e.Fix:
		logit = r.FixNone
		if st.network {
			logit = r.FixProblem
		}
	case e.Explain:
		logit = r.ExplainNone
		if st.dispute {
			logit = r.ExplainDispute
		}
	case e.Device:
		logit = r.DeviceElse
		if monthsToEnd(st, d) <= 3 {
			logit = r.DeviceNear + r.DeviceSens*c.sens + r.DeviceTenure*math.Min(float64(c.tenure(d))/12, 10)
		}
	default:
		logit = r.Other
	}
	return sigmoid(logit + off)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// discountCost is what a retention discount of pct percent costs over its months.
func (w *World) discountCost(st *state, pct float64) float64 {
	return math.Round(pct/100*st.price*float64(w.p.Effects.Months)*100) / 100
}

// apply makes an accepted action take effect at t on day d. It reports whether the action
// removed a reason to leave (a fixed problem, a settled bill, a new contract), and returns
// the outcomes (the discount's cost) and the profile changes.
func (w *World) apply(c *customer, st *state, a string, t time.Time, d int, u float64, attrs map[string]any) (fixed bool, outs []Outcome) {
	e, p := &w.p.Effects, w.p
	s := &p.Satisfaction
	if pct, ok := e.Retention[a]; ok {
		cost := w.discountCost(st, pct)
		st.discountPct, st.discountEnd = pct, d+30*e.Months
		st.sat = clamp(st.sat+s.AcceptBonus, 0, 10)
		attrs["discount_pct"] = pct
		c.discount += cost
		return true, []Outcome{{ID: c.id + "-disc-" + strconv.FormatInt(t.UnixNano(), 36), Customer: c.id, Type: "retention_discount", Value: cost, Time: t}}
	}
	switch a {
	// An add-on already held, or an upgrade from the top plan, changes nothing: two offers
	// taken in turn (an email answered after an inbound offer of the same thing) give
	// what one gives.
	case e.Addon:
		if st.addon {
			break
		}
		st.addon = true
		st.allowance += p.Usage.AddonGB
		st.price += p.Usage.AddonPrice
		w.rebase(st, attrs)
	case e.Upgrade:
		if st.plan >= len(p.Population.Plans)-1 {
			break
		}
		st.plan++
		pl := p.Population.Plans[st.plan]
		st.allowance, st.price = pl.AllowanceGB, pl.Price
		if st.addon {
			st.price += p.Usage.AddonPrice
			if st.allowance > 0 {
				st.allowance += p.Usage.AddonGB
			}
		}
		attrs["plan"] = pl.Name
		w.rebase(st, attrs)
	case e.Fix:
		if st.network && u < p.Responses.FixSuccess {
			st.network, fixed = false, true
			if st.ticket == "network" {
				st.ticket = ""
				attrs["open_ticket"] = "none"
			}
			st.sat += s.FixBonus
			attrs["dropped_calls_7d"] = w.dropped(c, d, false)
		}
	case e.Explain:
		if st.dispute && u < p.Responses.ExplainResolves {
			st.dispute, fixed = false, true
			if st.ticket == "billing" {
				st.ticket = ""
				attrs["open_ticket"] = "none"
			}
			st.sat += s.ExplainBonus
		}
	case e.Device:
		fixed = monthsToEnd(st, d) <= p.Churn.NearEndMonths
		next := d + (30-(d+c.cycle)%30)%30
		st.contractEnd = next + (p.Population.ContractMonths-1)*30
		attrs["months_to_contract_end"] = monthsToEnd(st, d)
	}
	st.sat = clamp(st.sat+s.AcceptBonus, 0, 10)
	return fixed, nil
}

// rebase recomputes the usage alert and overage after the allowance changed.
func (w *World) rebase(st *state, attrs map[string]any) {
	st.alert = usageBand(st.cycleUsed, st.allowance)
	st.overage = st.allowance > 0 && st.cycleUsed > st.allowance
	attrs["data_used_pct"] = st.alert
}

// ignored is what an offer the customer does not take costs: fatigue and a little
// satisfaction.
func (w *World) ignored(st *state, channel string, outbound bool) {
	s := &w.p.Satisfaction
	switch {
	case outbound:
		st.fatigue += s.FatigueOutbound
		st.sat -= s.IgnoredOutbound
	case channel == "call_center":
		st.fatigue += s.FatigueCall
		st.sat -= s.IgnoredInbound
	default:
		st.fatigue += s.FatigueInbound
		st.sat -= s.IgnoredInbound
	}
	st.sat = clamp(st.sat, 0, 10)
}

// Reaction is what a customer does after the service answered an interaction.
type Reaction struct {
	Feedback *Feedback      // a response to send, if any
	Outcomes []Outcome      // discount granted, departure, survey answer
	Update   *ProfileUpdate // what the CRM records
}

// Respond is the customer's reaction to the service's answer o to interaction in: take
// the first action or not, and, for a customer who came to cancel, stay or leave. It may
// run concurrently for different customers.
func (w *World) Respond(in *Interaction, o Offer) Reaction {
	c := w.cust[in.idx]
	st := &c.real
	d := w.day
	if c.arm == "" {
		c.arm = o.Arm
	}
	var re Reaction
	attrs := map[string]any{}
	r := w.stream(purposeReact, uint64(c.idx), uint64(in.Time.UnixNano()))
	uAccept, uLag, uSave, uFix, uSurvey, z := r.Float64(), r.Float64(), r.Float64(), r.Float64(), r.Float64(), r.NormFloat64()
	reason, _ := in.Context["reason"].(string)
	if in.Channel == "call_center" && (reason == "network" || reason == "billing") && st.ticket == "" {
		st.ticket = reason
		attrs["open_ticket"] = reason
	}
	saved := false
	if len(o.Actions) > 0 {
		a := o.Actions[0]
		p := w.acceptProb(c, st, a, in.Channel, d, in.leaving)
		c.contacts++
		c.expResp += p
		c.expValue += p * o.Value
		c.contactCost += o.ContactCost
		if pct, ok := w.p.Effects.Retention[a]; ok {
			c.expDisc += p * w.discountCost(st, pct)
		}
		if uAccept < p {
			fixed, outs := w.apply(c, st, a, in.Time, d, uFix, attrs)
			re.Outcomes = append(re.Outcomes, outs...)
			lag := time.Minute + time.Duration(uLag*float64(9*time.Minute)) // within the 30-minute timeout
			re.Feedback = &Feedback{DecisionID: o.DecisionID, Action: a, Outcome: "accepted", Time: in.Time.Add(lag), Customer: c.id}
			c.responses++
			if in.leaving {
				_, discount := w.p.Effects.Retention[a]
				saved = discount || fixed && uSave < w.p.Responses.SaveWhenFixed || !fixed && uSave < w.p.Responses.SaveOtherwise
			}
		} else {
			w.ignored(st, in.Channel, false)
			if in.Channel == "call_center" {
				re.Feedback = &Feedback{DecisionID: o.DecisionID, Action: a, Outcome: "rejected", Time: in.Time.Add(2 * time.Minute), Customer: c.id}
			}
		}
	}
	left := in.leaving && !saved
	if left {
		o, u := w.leave(c, in.Time.Add(5*time.Minute))
		re.Outcomes = append(re.Outcomes, o)
		for k, v := range u.Attributes {
			attrs[k] = v
		}
	}
	survey := in.Time.Add(15 * time.Minute)
	if in.Channel == "call_center" && !left && (!st.churned || survey.Before(st.churnedAt)) && uSurvey < w.p.NPS.AfterCallAnswer {
		re.Outcomes = append(re.Outcomes, w.answer(c, survey, z))
	}
	if len(attrs) > 0 {
		re.Update = &ProfileUpdate{Customer: c.id, Attributes: attrs}
	}
	return re
}

// pending is an accepted outbound offer whose response happens at t.
type pending struct {
	t      time.Time
	idx    int
	offer  Offer
	action string
}

// Contacted is an outbound contact read from the service's feed: the customer reads the
// message and, with the true probability, will take the offer after a delay (Due
// delivers the response); otherwise the message adds to its fatigue.
func (w *World) Contacted(o Offer) {
	idx, ok := w.byID[o.Customer]
	if !ok || len(o.Actions) == 0 {
		return
	}
	c := w.cust[idx]
	st := &c.real
	if c.arm == "" {
		c.arm = o.Arm
	}
	c.contacts++
	c.contactCost += o.ContactCost
	if st.churned && !o.Time.Before(st.churnedAt) {
		return // a message to a customer who has left
	}
	d := int(o.Time.Sub(w.start) / (24 * time.Hour))
	a := o.Actions[0]
	p := w.acceptProb(c, st, a, o.Channel, d, false)
	in := &w.p.Interactions
	left := w.End().Sub(o.Time).Hours() - in.EmailMinLag
	reach := 0.0 // P(the response comes before the end)
	if left > 0 {
		reach = 1 - math.Exp(-left/in.EmailLagHours)
	}
	c.expResp += p * reach
	c.expValue += p * reach * o.Value
	if pct, ok := w.p.Effects.Retention[a]; ok {
		c.expDisc += p * reach * w.discountCost(st, pct)
	}
	r := w.stream(purposeContact, uint64(idx), uint64(o.Time.UnixNano()), hashString(a))
	if r.Float64() < p {
		lag := in.EmailMinLag + r.ExpFloat64()*in.EmailLagHours
		w.pending = append(w.pending, pending{t: o.Time.Add(time.Duration(lag * float64(time.Hour))), idx: idx, offer: o, action: a})
		return
	}
	w.ignored(st, o.Channel, true)
}

// Due returns the responses to outbound contacts that happen before until, in time
// order, with what they cause.
func (w *World) Due(until time.Time) ([]Feedback, []Outcome, []ProfileUpdate) {
	slices.SortFunc(w.pending, func(a, b pending) int {
		return cmp.Or(a.t.Compare(b.t), cmp.Compare(a.idx, b.idx), cmp.Compare(a.offer.DecisionID, b.offer.DecisionID))
	})
	n := 0
	for n < len(w.pending) && w.pending[n].t.Before(until) {
		n++
	}
	var fbs []Feedback
	var outs []Outcome
	var ups []ProfileUpdate
	for _, pr := range w.pending[:n] {
		c := w.cust[pr.idx]
		st := &c.real
		if st.churned && !pr.t.Before(st.churnedAt) {
			continue // left before answering
		}
		d := int(pr.t.Sub(w.start) / (24 * time.Hour))
		attrs := map[string]any{}
		u := w.stream(purposeResponse, uint64(pr.idx), uint64(pr.t.UnixNano())).Float64()
		_, o := w.apply(c, st, pr.action, pr.t, d, u, attrs)
		outs = append(outs, o...)
		fbs = append(fbs, Feedback{DecisionID: pr.offer.DecisionID, Action: pr.action, Outcome: "accepted", Time: pr.t, Customer: c.id})
		c.responses++
		if len(attrs) > 0 {
			ups = append(ups, ProfileUpdate{Customer: c.id, Attributes: attrs})
		}
	}
	w.pending = slices.Delete(w.pending, 0, n)
	return fbs, outs, ups
}
