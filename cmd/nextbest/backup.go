package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/cli"
	"github.com/nextbest/nextbest/internal/service"
	"github.com/nextbest/nextbest/store"
	"github.com/spf13/cobra"
)

func backupCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "backup --out FILE [--data DIR]",
		Short: "Write a backup of a stopped store",
		Long: `backup writes the whole store of a stopped server to one file: to a temporary file beside
it first, renamed into place once complete and fsync'd, so FILE is never a partial backup
(docs/durability.md).`,
		Example: "  nextbest backup --data ./data --out nextbest-2026-01-31.backup",
		Args:    cli.NoArgs,
	}
	fs := c.Flags()
	data := fs.String("data", "./data", "data directory of the store to back up (the server must be stopped)")
	out := fs.String("out", "", "backup file to write")
	c.MarkFlagRequired("out")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx, stdout := c.Context(), c.OutOrStdout()
		if *out == "" {
			return errors.New("backup: --out FILE is required")
		}
		st, err := openStopped("backup", *data)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := writeBackup(ctx, st, *out); err != nil {
			return err
		}
		fi, _ := os.Stat(*out)
		fmt.Fprintf(stdout, "wrote backup %s (%d bytes)\n", *out, fi.Size())
		return nil

	}
	return c
}

// partialBackup is what a backup file's name gets, with a unique suffix, while it is
// written: ".NAME.partial-*" beside it, hidden and never taken for a backup.
func partialBackup(out string) string { return "." + filepath.Base(out) + ".partial-" }

// writeBackup writes the backup to a new temporary file beside out and renames it to out
// once it is complete and fsync'd, so that out is never a partial backup. On an error or
// a signal (ctx done) the temporary file is removed; one left by a process killed with
// SIGKILL, which can clean up nothing, is removed by the next backup to the same file.
func writeBackup(ctx context.Context, st *store.Store, out string) (err error) {
	dir := filepath.Dir(out)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), partialBackup(out)) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("backup: remove what an interrupted backup left: %w", err)
			}
		}
	}
	f, err := os.CreateTemp(dir, partialBackup(out)+"*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := st.Backup(ctx, f); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("backup interrupted (%w): %s was not written", ctx.Err(), out)
		}
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// syncDir fsyncs a directory, so that a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// openStopped opens the store in data for a command that needs the server stopped.
func openStopped(cmd, data string) (*store.Store, error) {
	if _, err := os.Stat(filepath.Join(data, "MANIFEST")); err != nil {
		return nil, fmt.Errorf("%s: %s holds no nextbest store", cmd, data)
	}
	st, err := store.Open(store.DefaultOptions(data))
	if errors.Is(err, engine.ErrDamaged) {
		return nil, fmt.Errorf("%s: %w", cmd, service.RefuseDamaged(err, data))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (is a server running on this directory? stop it first)", cmd, err)
	}
	return st, nil
}

func restoreCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "restore --in FILE [--data DIR]",
		Short: "Restore a backup into an empty store",
		Long: `restore verifies the whole backup file before it touches the data directory, restores
beside it and moves the store into place only once it is complete and verified. The
directory must be empty or absent (docs/durability.md).`,
		Example: "  nextbest restore --in nextbest-2026-01-31.backup --data ./data-restored",
		Args:    cli.NoArgs,
	}
	fs := c.Flags()
	data := fs.String("data", "./data", "data directory to restore into; must be empty or absent")
	in := fs.String("in", "", "backup file to restore")
	c.MarkFlagRequired("in")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx, stdout := c.Context(), c.OutOrStdout()
		if *in == "" {
			return errors.New("restore: --in FILE is required")
		}
		raw, err := os.ReadFile(*in)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		// RestoreDir verifies the whole file before it touches the data directory, restores
		// beside it and moves the store into place only once it is complete and verified.
		err = store.RestoreDir(ctx, bytes.NewReader(raw), store.DefaultOptions(*data))
		switch {
		case errors.Is(err, store.ErrBadBackup):
			return fmt.Errorf("restore %s: %w; nothing was changed", *in, err)
		case errors.Is(err, store.ErrNotEmpty):
			return fmt.Errorf("restore: %s is not empty; restore into a new directory (--data) and point the server at it", *data)
		case err != nil:
			return fmt.Errorf("%w; the restore did not complete: run it again", err)
		}
		fmt.Fprintf(stdout, "restored %s into %s\n", *in, *data)
		return nil

	}
	return c
}
