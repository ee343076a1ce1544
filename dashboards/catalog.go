package dashboards

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/internal/numtext"
)

type catalogPage struct {
	Actions     []actionRow
	Campaigns   []engine.Campaign
	Experiments []experimentRow
	Schema      schemaView
}

type actionRow struct {
	engine.Action
	Value    Num
	Lever    Num
	Channels string
	Model    string
}

type experimentRow struct {
	engine.Experiment
	Arms string
}

type schemaView struct {
	Auto   bool
	Hash   string
	Dim    int
	Fields []features.Field
}

func (p *Pages) catalog(c *fiber.Ctx) (view, error) {
	pg := catalogPage{Campaigns: p.eng.Campaigns()}
	for _, a := range p.eng.Actions() {
		base := fmt.Sprintf("actions[id=%s].", a.ID)
		row := actionRow{Action: a, Value: numF(base+"value", a.Value, 1, styleAmount), Lever: numF(base+"lever", a.Lever, 1, stylePoints), Channels: "all"}
		if len(a.Channels) > 0 {
			row.Channels = strings.Join(a.Channels, ", ")
		}
		row.Model = modelSpecText(a.Model)
		pg.Actions = append(pg.Actions, row)
	}
	for _, x := range p.eng.Experiments() {
		var arms []string
		for _, a := range x.Arms {
			arms = append(arms, fmt.Sprintf("%s (%s, %s)", a.Name, a.Policy, numtext.Fixed(100*a.Weight, numtext.DecimalsFor(100*a.Weight, 0))+"%"))
		}
		pg.Experiments = append(pg.Experiments, experimentRow{Experiment: x, Arms: strings.Join(arms, ", ")})
	}
	s, hash, dim := p.eng.Schema()
	pg.Schema = schemaView{Auto: s == nil, Hash: hash, Dim: dim}
	if s != nil {
		pg.Schema.Fields = s.Fields
	}
	return view{template: "catalog.html", title: "Catalog", nav: "catalog", data: pg}, nil
}

func modelSpecText(m engine.ModelSpec) string {
	form := m.Form
	if form == "" || form == "diag" {
		form = "diagonal"
	}
	parts := []string{form}
	if m.PriorMean != 0 {
		parts = append(parts, "prior mean "+numtext.Fixed(m.PriorMean, 2))
	}
	if m.PriorPrecision != 0 && m.PriorPrecision != 1 {
		parts = append(parts, "prior precision "+numtext.Fixed(m.PriorPrecision, 2))
	}
	if m.HalfLife > 0 {
		unit := m.HalfLifeUnit
		if unit == "" {
			unit = "events"
		}
		parts = append(parts, fmt.Sprintf("half-life %s %s", numtext.Group(m.HalfLife, 0), unit))
	}
	if m.WarmStartFrom != "" {
		parts = append(parts, "warm start from "+m.WarmStartFrom)
	}
	if m.Value {
		parts = append(parts, "value model")
	}
	return strings.Join(parts, ", ")
}
