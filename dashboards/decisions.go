package dashboards

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/numtext"
)

const (
	defaultDecisions = 50
	maxDecisions     = 500
)

type decisionsPage struct {
	Limit   int
	Limits  []int
	Rows    []decisionRow
	Actions int
}

type decisionRow struct {
	Priced     bool // some candidate has net-value terms: the table shows them
	ID         engine.DecisionID
	Src        string
	Time       string
	Customer   engine.CustomerID
	Channel    string
	Arm        string
	Experiment engine.ExperimentID
	Source     string
	Chosen     []engine.ActionID
	NoAction   bool
	Reason     string
	Explore    bool
	Outcomes   []string
	Context    string
	Candidates []candidateRow
	Filtered   int
}

type candidateRow struct {
	ID                                                   engine.ActionID
	Status                                               string
	Class                                                string // tag class
	Why                                                  string
	Ranked                                               bool
	Propensity, Score, Value, Weight, Priority, Probabil Num
	// The terms of a priced candidate's net value (engine.Candidate).
	Cost, ContactCost, Net Num
	Effect, EffectSD       Num    // on the probability of the objective's outcome, in pp
	EffectValue            Num    // that effect in money
	EffectOn               string // "P(churn within 14 days)"; "" for an action without objective
	order                  int
}

// objectives is what the decision pages need to word an action's objective: the
// objective each action aims at, and each objective's horizon.
type objectives struct {
	aims     map[engine.ActionID]string
	horizons map[string]time.Duration
}

func (p *Pages) objectives() objectives {
	o := objectives{aims: map[engine.ActionID]string{}, horizons: map[string]time.Duration{}}
	for _, a := range p.eng.Actions() {
		if a.Objective != "" {
			o.aims[a.ID] = a.Objective
		}
	}
	for _, ob := range p.eng.Objectives() {
		o.horizons[ob.Outcome] = time.Duration(ob.Horizon)
	}
	return o
}

// horizon says an objective's horizon in words: "14 days", "6 hours".
func (o objectives) horizon(objective string) string {
	h, ok := o.horizons[objective]
	switch {
	case !ok:
		return "its horizon"
	case h%(24*time.Hour) == 0:
		n := int64(h / (24 * time.Hour))
		return numtext.Group(float64(n), 0) + map[bool]string{true: " day", false: " days"}[n == 1]
	case h%time.Hour == 0:
		n := int64(h / time.Hour)
		return numtext.Group(float64(n), 0) + map[bool]string{true: " hour", false: " hours"}[n == 1]
	}
	return h.String()
}

// outcomeOf names the probability an action's effect is on: "P(churn within 14 days)".
func (o objectives) outcomeOf(objective string) string {
	return "P(" + objective + " within " + o.horizon(objective) + ")"
}

// labelText words a label event: "churned within 14 days", "stayed 14 days".
func (o objectives) labelText(ev engine.Event) string {
	h := o.horizon(ev.Objective)
	occurred := ev.Outcome == engine.LabelHit
	if ev.Objective == engine.OutcomeChurn {
		if occurred {
			return "churned within " + h
		}
		return "stayed " + h
	}
	if occurred {
		return ev.Objective + " within " + h
	}
	return "no " + ev.Objective + " within " + h
}

// priced reports whether a candidate has any net-value term (engine.Candidate).
func priced(c *engine.Candidate) bool {
	return c.Cost != 0 || c.ContactCost != 0 || c.Effect != 0 || c.EffectSD != 0 || c.EffectValue != 0 || c.Net != 0
}

// numOmit is numF for a field the API leaves out when it is zero (omitempty): a zero is
// shown without a path, since the API response has no value to check it against.
func numOmit(path string, v, scale float64, style numStyle) Num {
	if v == 0 {
		n := Num{Text: formatNum(0, style)}
		n.HTML = n.markup()
		return n
	}
	return numF(path, v, scale, style)
}

func (p *Pages) decisions(c *fiber.Ctx) (view, error) {
	limit := defaultDecisions
	if q := c.Query("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > maxDecisions {
			return view{}, engine.Invalid("invalid_query", "limit: a number from 1 to %d", maxDecisions)
		}
		limit = n
	}
	ds, err := p.eng.Recent(c.UserContext(), limit)
	if err != nil {
		return view{}, err
	}
	elig := map[engine.ActionID]string{}
	for _, a := range p.eng.Actions() {
		elig[a.ID] = a.Eligibility
	}
	obj := p.objectives()
	pg := decisionsPage{Limit: limit, Limits: []int{50, 200, 500}, Actions: len(elig)}
	for _, d := range ds {
		pg.Rows = append(pg.Rows, decisionRowOf(d, elig, obj))
	}
	return view{template: "decisions.html", title: "Decisions", nav: "decisions", data: pg}, nil
}

func decisionRowOf(d *engine.Decision, elig map[engine.ActionID]string, obj objectives) decisionRow {
	row := decisionRow{ID: d.ID, Src: "/v1/decisions/" + string(d.ID), Time: fmtTime(d.Time), Customer: d.CustomerID, Channel: d.Channel,
		Arm: d.Arm, Experiment: d.Experiment, Source: d.Source, Chosen: d.Chosen, NoAction: d.NoAction, Reason: d.Reason}
	if len(d.Context) > 0 && string(d.Context) != "null" {
		row.Context = string(d.Context)
	}
	for _, ev := range d.Outcomes {
		if ev.Objective != "" { // a label: what the customer did within the objective's horizon
			row.Outcomes = append(row.Outcomes, fmt.Sprintf("%s (resolved %s)", obj.labelText(ev), fmtTime(ev.Time)))
			continue
		}
		row.Outcomes = append(row.Outcomes, fmt.Sprintf("%s %s (%s)", ev.ActionID, ev.Outcome, fmtTime(ev.Time)))
	}
	for i, c := range d.Candidates {
		base := fmt.Sprintf("candidates[%d].", i)
		cr := candidateRow{ID: c.ID}
		chosen := false
		for _, id := range d.Chosen {
			if id == c.ID {
				chosen = true
			}
		}
		switch {
		case c.Filtered != "":
			row.Filtered++
			cr.Status, cr.Class, cr.Why = "filtered: "+c.Filtered, "filtered", filteredWhy(c, d.Channel, elig[c.ID])
		default:
			cr.Ranked = true
			cr.Status, cr.Class = fmt.Sprintf("rank %d", c.Rank), ""
			if chosen {
				cr.Status, cr.Class = fmt.Sprintf("chosen · rank %d", c.Rank), "chosen"
			}
			cr.Why = rankedWhy(c, chosen)
			if c.Detail == "explore" {
				row.Explore = true
			}
			cr.Propensity = numF(base+"propensity", c.Propensity, 100, stylePct)
			cr.Score = numF(base+"score", c.Score, 100, stylePct)
			cr.Value = numF(base+"value", c.Value, 1, styleAmount)
			cr.Weight = numF(base+"weight", c.Weight, 1, styleDecimal)
			cr.Priority = numF(base+"priority", c.Priority, 1, styleMoney)
			cr.Probabil = numF(base+"probability", c.Probability, 100, stylePct)
			if priced(&c) {
				row.Priced = true
				money := moneyStyle(true, c.Net, c.EffectValue)
				cr.Cost = numOmit(base+"cost", c.Cost, 1, styleAmount)
				cr.ContactCost = numOmit(base+"contact_cost", c.ContactCost, 1, styleAmount)
				cr.Net = numOmit(base+"net_value", c.Net, 1, money)
				cr.EffectValue = numOmit(base+"effect_value", c.EffectValue, 1, money)
				if o := obj.aims[c.ID]; o != "" || c.Effect != 0 || c.EffectSD != 0 {
					cr.EffectOn = obj.outcomeOf(o)
					cr.Effect = numOmit(base+"effect", c.Effect, 100, styleSignedPP)
					cr.EffectSD = numOmit(base+"effect_sd", c.EffectSD, 100, stylePP)
				}
			}
		}
		cr.order = c.Rank
		if c.Filtered != "" {
			cr.order = 1 << 30
		}
		row.Candidates = append(row.Candidates, cr)
	}
	// Best first, filtered last; each row keeps its API index in its paths.
	sort.SliceStable(row.Candidates, func(i, j int) bool { return row.Candidates[i].order < row.Candidates[j].order })
	return row
}

// filteredWhy says in plain language why a candidate was not considered.
func filteredWhy(c engine.Candidate, channel, eligibility string) string {
	switch c.Filtered {
	case "disabled":
		return "The action is disabled in the catalog."
	case "channel":
		return fmt.Sprintf("The action is not offered on the %s channel.", channel)
	case "eligibility":
		if c.Detail != "" {
			return fmt.Sprintf("The eligibility rule could not be evaluated (%s): %s", c.Detail, eligibility)
		}
		return "The eligibility rule is false for this customer: " + eligibility
	case "contact_policy":
		return "The contact policy blocked the contact: " + c.Detail + "."
	case "unknown_action":
		return "The campaign's action is not in the catalog."
	case "amount":
		return "An amount of the action (its value, cost or contact cost) could not be computed for this customer: " + c.Detail + "."
	}
	if c.Detail != "" {
		return c.Filtered + ": " + c.Detail
	}
	return c.Filtered
}

// rankedWhy explains a ranked candidate's place.
func rankedWhy(c engine.Candidate, chosen bool) string {
	switch {
	case strings.HasPrefix(c.Detail, "campaign "):
		if chosen {
			return fmt.Sprintf("Legacy arm: the highest-priority matching %s.", c.Detail)
		}
		return fmt.Sprintf("Legacy arm: %s matched, with a lower priority.", c.Detail)
	case c.Detail == "explore":
		return "Exploration: its sampled score put it first, although another action had the higher expected priority."
	case c.Detail == "explore: no action":
		return "Ranked first, but held back: the exploration floor answers no action now and then, so that what doing nothing does is learnt where this action is offered."
	case chosen && c.Rank == 1:
		return "Highest priority."
	case chosen:
		return "Also returned (the request asked for several)."
	}
	return ""
}
