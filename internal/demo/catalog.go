package demo

import (
	"context"
	_ "embed"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/nextbest/nextbest/engine"
)

//go:embed catalog.yaml
var catalogYAML []byte

// Action is one action of the demo catalog.
type Action struct {
	ID          string   `yaml:"id"`
	Issue       string   `yaml:"issue"`
	Group       string   `yaml:"group"`
	Description string   `yaml:"description"`
	Value       Money    `yaml:"value"`
	Cost        Money    `yaml:"cost"`
	ContactCost Money    `yaml:"contact_cost"`
	Objective   string   `yaml:"objective"`
	Channels    []string `yaml:"channels"`
	Eligibility string   `yaml:"eligibility"`
	Model       struct {
		BaseRate       float64 `yaml:"base_rate"`
		PriorPrecision float64 `yaml:"prior_precision"`
	} `yaml:"model"`
}

// Objective is one objective of the demo catalog.
type Objective struct {
	Outcome     string  `yaml:"outcome"`
	Description string  `yaml:"description"`
	Value       Money   `yaml:"value"`
	Horizon     string  `yaml:"horizon"`
	BaseRate    float64 `yaml:"base_rate"`
}

// Catalog is the demo catalog: its objectives and actions, as the YAML file has them.
type Catalog struct {
	Objectives []Objective `yaml:"objectives"`
	Actions    []Action    `yaml:"actions"`
}

// Money is an engine.Money in YAML: a number, or an expression as a string.
type Money engine.Money

// UnmarshalYAML reads a number or a string.
func (m *Money) UnmarshalYAML(n *yaml.Node) error {
	var f float64
	if n.Tag == "!!int" || n.Tag == "!!float" {
		if err := n.Decode(&f); err != nil {
			return err
		}
		*m = Money{Const: f}
		return nil
	}
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a number or an expression: %w", n.Line, err)
	}
	*m = Money{Expr: s}
	return nil
}

// Parse reads the embedded demo catalog.
func Parse() (Catalog, error) {
	var cat Catalog
	if err := yaml.Unmarshal(catalogYAML, &cat); err != nil {
		return cat, fmt.Errorf("parse demo catalog: %w", err)
	}
	return cat, nil
}

// Load puts the demo catalog's objectives and actions into the engine.
func Load(ctx context.Context, eng *engine.Engine) (int, error) {
	cat, err := Parse()
	if err != nil {
		return 0, err
	}
	for _, o := range cat.Objectives {
		h, err := engine.ParseDuration(o.Horizon)
		if err != nil {
			return 0, fmt.Errorf("demo objective %q: horizon: %w", o.Outcome, err)
		}
		if _, err := eng.PutObjective(ctx, engine.Objective{Outcome: o.Outcome, Description: o.Description, Value: engine.Money(o.Value), Horizon: h, BaseRate: o.BaseRate}); err != nil {
			return 0, fmt.Errorf("demo objective %q: %w", o.Outcome, err)
		}
	}
	for _, a := range cat.Actions {
		_, err := eng.PutAction(ctx, engine.Action{
			ID: engine.ActionID(a.ID), Issue: a.Issue, Group: a.Group, Description: a.Description,
			Value: a.Value.Const, ValueExpr: a.Value.Expr, Cost: engine.Money(a.Cost), ContactCost: engine.Money(a.ContactCost), Objective: a.Objective,
			Channels: a.Channels, Eligibility: a.Eligibility, Lever: 1, Enabled: true, Model: engine.ModelSpec{BaseRate: a.Model.BaseRate, PriorPrecision: a.Model.PriorPrecision},
		})
		if err != nil {
			return 0, fmt.Errorf("demo action %q: %w", a.ID, err)
		}
	}
	return len(cat.Actions), nil
}
