package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/cli"
	"github.com/nextbest/nextbest/internal/service"
	"github.com/nextbest/nextbest/store"
	"github.com/spf13/cobra"
)

// verifyCmd is nextbest verify: it reads every file and record of a stopped store and says what is damaged:
// store.Verify, then the engine's own start-up check of the journal and the models. It
// exits non-zero on damage.
func verifyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "verify [--data DIR]",
		Short: "Check every file and record of a stopped store",
		Long: `verify reads every file and record of a stopped store and says what is damaged: the
store's check, then the engine's own start-up check of the journal and the models. It
exits 1 on damage (docs/durability.md, "Damage").`,
		Example: "  nextbest verify --data ./data",
		Args:    cli.NoArgs,
	}
	fs := c.Flags()
	data := fs.String("data", "./data", "data directory of the store to verify (the server must be stopped)")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx, stdout := c.Context(), c.OutOrStdout()
		if _, err := os.Stat(filepath.Join(*data, "MANIFEST")); err != nil {
			return fmt.Errorf("verify: %s holds no nextbest store", *data)
		}
		start := time.Now()
		rep, err := store.Verify(ctx, store.DefaultOptions(*data), openEngine)
		if err != nil {
			return fmt.Errorf("verify %s: %w", *data, err)
		}
		fmt.Fprintf(stdout, "nextbest verify %s\n", *data)
		fmt.Fprint(stdout, rep.Summary())
		if rep.Damaged() {
			return fmt.Errorf("verify: %s is damaged (%d findings above); nextbest serve refuses to start on it. Restore the last backup (docs/durability.md, \"Damage\")", *data, len(rep.Damage))
		}
		fmt.Fprintf(stdout, "no damage found (%s)\n", time.Since(start).Round(time.Millisecond))
		return nil

	}
	return c
}

// openEngine runs the engine's start-up over an open store, without starting it: it
// loads every model's newest snapshot and replays the journal, and its check refuses a
// journal or snapshots that lost what the models need (engine.ErrDamaged).
func openEngine(ctx context.Context, st *store.Store) error {
	eng, err := engine.New(service.DefaultOptions().Engine, st, nil, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	return eng.Open(ctx)
}
