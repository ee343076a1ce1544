package main

import (
	"context"
	_ "embed"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/nextbest/nextbest/engine"
)

//go:embed demo_catalog.yaml
var demoCatalog []byte

type demoAction struct {
	ID          string    `yaml:"id"`
	Issue       string    `yaml:"issue"`
	Group       string    `yaml:"group"`
	Description string    `yaml:"description"`
	Value       yamlMoney `yaml:"value"`
	Cost        yamlMoney `yaml:"cost"`
	ContactCost yamlMoney `yaml:"contact_cost"`
	Objective   string    `yaml:"objective"`
	Channels    []string  `yaml:"channels"`
	Eligibility string    `yaml:"eligibility"`
	Model       struct {
		BaseRate       float64 `yaml:"base_rate"`
		PriorPrecision float64 `yaml:"prior_precision"`
	} `yaml:"model"`
}

type demoObjective struct {
	Outcome     string    `yaml:"outcome"`
	Description string    `yaml:"description"`
	Value       yamlMoney `yaml:"value"`
	Horizon     string    `yaml:"horizon"`
	BaseRate    float64   `yaml:"base_rate"`
}

// demoCatalogFile is the demo catalog's YAML.
type demoCatalogFile struct {
	Objectives []demoObjective `yaml:"objectives"`
	Actions    []demoAction    `yaml:"actions"`
}

// yamlMoney is an engine.Money in YAML: a number, or an expression as a string.
type yamlMoney engine.Money

// UnmarshalYAML reads a number or a string.
func (m *yamlMoney) UnmarshalYAML(n *yaml.Node) error {
	var f float64
	if n.Tag == "!!int" || n.Tag == "!!float" {
		if err := n.Decode(&f); err != nil {
			return err
		}
		*m = yamlMoney{Const: f}
		return nil
	}
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a number or an expression: %w", n.Line, err)
	}
	*m = yamlMoney{Expr: s}
	return nil
}

// parseDemoCatalog reads the embedded demo catalog.
func parseDemoCatalog() (demoCatalogFile, error) {
	var cat demoCatalogFile
	if err := yaml.Unmarshal(demoCatalog, &cat); err != nil {
		return cat, fmt.Errorf("parse demo catalog: %w", err)
	}
	return cat, nil
}

// loadDemoCatalog puts the demo catalog's objectives and actions into the engine.
func loadDemoCatalog(ctx context.Context, eng *engine.Engine) (int, error) {
	cat, err := parseDemoCatalog()
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
