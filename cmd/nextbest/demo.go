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
	ID          string   `yaml:"id"`
	Issue       string   `yaml:"issue"`
	Group       string   `yaml:"group"`
	Description string   `yaml:"description"`
	Value       float64  `yaml:"value"`
	Channels    []string `yaml:"channels"`
	Eligibility string   `yaml:"eligibility"`
}

// loadDemoCatalog puts the demo catalog's actions into the engine.
func loadDemoCatalog(ctx context.Context, eng *engine.Engine) (int, error) {
	var cat struct {
		Actions []demoAction `yaml:"actions"`
	}
	if err := yaml.Unmarshal(demoCatalog, &cat); err != nil {
		return 0, fmt.Errorf("parse demo catalog: %w", err)
	}
	for _, a := range cat.Actions {
		_, err := eng.PutAction(ctx, engine.Action{
			ID: engine.ActionID(a.ID), Issue: a.Issue, Group: a.Group, Description: a.Description,
			Value: a.Value, Channels: a.Channels, Eligibility: a.Eligibility, Lever: 1, Enabled: true,
		})
		if err != nil {
			return 0, fmt.Errorf("demo action %q: %w", a.ID, err)
		}
	}
	return len(cat.Actions), nil
}
