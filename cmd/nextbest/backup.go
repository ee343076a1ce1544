package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./data", "data directory of the store to back up (the server must be stopped)")
	out := fs.String("out", "", "backup file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("backup: --out FILE is required")
	}
	st, err := openStopped("backup", *data)
	if err != nil {
		return err
	}
	defer st.Close()
	tmp := *out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := st.Backup(ctx, f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fi, _ := os.Stat(*out)
	fmt.Fprintf(stdout, "wrote backup %s (%d bytes)\n", *out, fi.Size())
	return nil
}

// openStopped opens the store in data for a command that needs the server stopped.
func openStopped(cmd, data string) (*store.Store, error) {
	if _, err := os.Stat(filepath.Join(data, "MANIFEST")); err != nil {
		return nil, fmt.Errorf("%s: %s holds no nextbest store", cmd, data)
	}
	st, err := store.Open(store.DefaultOptions(data))
	if errors.Is(err, engine.ErrDamaged) {
		return nil, fmt.Errorf("%s: %w", cmd, refuseDamaged(err, data))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (is a server running on this directory? stop it first)", cmd, err)
	}
	return st, nil
}

func cmdRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./data", "data directory to restore into; must be empty or absent")
	in := fs.String("in", "", "backup file to restore")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("restore: --in FILE is required")
	}
	raw, err := os.ReadFile(*in)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// Verify the whole file before touching the data directory.
	if _, err := store.VerifyBackup(bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("restore %s: %w; nothing was changed", *in, err)
	}
	if entries, err := os.ReadDir(*data); err == nil && len(entries) > 0 {
		return fmt.Errorf("restore: %s is not empty; restore into a new directory (--data) and point the server at it", *data)
	}
	st, err := store.Open(store.DefaultOptions(*data))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := st.Restore(ctx, bytes.NewReader(raw)); err != nil {
		st.Close()
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s\n", *in, *data)
	return nil
}
