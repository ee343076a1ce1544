package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nextbest/nextbest/internal/service"
	"gopkg.in/yaml.v3"
)

// cmdConfig prints the effective configuration (defaults overlaid with --config) as YAML:
// a starting point for a config file, and a check of what a file changes.
func cmdConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	o := service.DefaultOptions()
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "YAML config file to overlay on the defaults")
	if err := fs.Parse(args); err != nil {
		return err
	}
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
