package dashboards

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
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
	order                                                int
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
	pg := decisionsPage{Limit: limit, Limits: []int{50, 200, 500}, Actions: len(elig)}
	for _, d := range ds {
		pg.Rows = append(pg.Rows, decisionRowOf(d, elig))
	}
	return view{template: "decisions.html", title: "Decisions", nav: "decisions", data: pg}, nil
}

func decisionRowOf(d *engine.Decision, elig map[engine.ActionID]string) decisionRow {
	row := decisionRow{ID: d.ID, Src: "/v1/decisions/" + string(d.ID), Time: fmtTime(d.Time), Customer: d.CustomerID, Channel: d.Channel,
		Arm: d.Arm, Experiment: d.Experiment, Source: d.Source, Chosen: d.Chosen, NoAction: d.NoAction, Reason: d.Reason}
	if len(d.Context) > 0 && string(d.Context) != "null" {
		row.Context = string(d.Context)
	}
	for _, ev := range d.Outcomes {
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
	case chosen && c.Rank == 1:
		return "Highest priority."
	case chosen:
		return "Also returned (the request asked for several)."
	}
	return ""
}
