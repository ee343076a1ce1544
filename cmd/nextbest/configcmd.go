package main

import (
	"fmt"
	"os"

	"github.com/nextbest/nextbest/internal/cli"
	"github.com/nextbest/nextbest/internal/service"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// configCmd is nextbest config: it prints the effective configuration (defaults overlaid with --config) as YAML:
// a starting point for a config file, and a check of what a file changes.
func configCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "config [--config FILE]",
		Short: "Print the effective configuration as YAML",
		Long: `config prints the effective configuration (the defaults overlaid with --config) as YAML:
a starting point for a config file, and a check of what a file changes
(docs/configuration.md).`,
		Example: `  nextbest config > nextbest.yaml
  nextbest config --config nextbest.yaml`,
		Args: cli.NoArgs,
	}
	fs := c.Flags()
	o := service.DefaultOptions()
	config := fs.String("config", "", "YAML config file to overlay on the defaults")
	c.RunE = func(c *cobra.Command, args []string) error {
		stdout := c.OutOrStdout()
		if *config != "" {
			if err := service.LoadConfig(&o, *config); err != nil {
				return err
			}
		}
		if err := o.Validate(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
		fmt.Fprintln(stdout, "# nextbest configuration: every key and its effective value (docs/configuration.md)")
		if _, source := service.MemoryLimit(o.MemoryLimitMB, os.Getenv("GOMEMLIMIT")); source == service.LimitFromEnv {
			fmt.Fprintf(stdout, "# GOMEMLIMIT=%s is set: serve uses it instead of memory_limit_mb\n", os.Getenv("GOMEMLIMIT"))
		}
		enc := yaml.NewEncoder(stdout)
		enc.SetIndent(2)
		if err := enc.Encode(o); err != nil {
			return err
		}
		return enc.Close()

	}
	return c
}
