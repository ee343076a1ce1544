package main

import (
	"errors"
	"fmt"

	"github.com/nextbest/nextbest/internal/cli"
	"github.com/nextbest/nextbest/store"
	"github.com/spf13/cobra"
)

// duCmd is nextbest du: it prints what each table of a stopped store holds in Badger's LSM tree and value log,
// and the bytes of the tree's files on disk: what the store's background work (compactions,
// value-log GC) scales with, and what a table costs on disk (a decision: the v1/decision/
// row's file bytes per entry).
func duCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "du [--data DIR]",
		Short: "What each table of a stopped store holds",
		Long: `du prints what each table of a stopped store holds in Badger's LSM tree and value log, and
the bytes of the tree's files on disk: what the store's background work (compactions,
value-log GC) scales with, and what a table costs on disk.`,
		Example: "  nextbest du --data ./data",
		Args:    cli.NoArgs,
	}
	fs := c.Flags()
	data := fs.String("data", "./data", "data directory of the store (the server must be stopped)")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx, stdout := c.Context(), c.OutOrStdout()
		st, err := openStopped("du", *data)
		if err != nil {
			return err
		}
		usage, err := st.Usage(ctx)
		if cerr := st.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("du: %w", err)
		}
		if len(usage) == 0 {
			return errors.New("du: the store is empty")
		}
		fmt.Fprintf(stdout, "%-16s %9s %12s %15s %11s %12s %9s %13s\n", "table", "entries", "key B/entry", "inline B/entry", "value log", "value log MB", "files MB", "file B/entry")
		var total store.TableUsage
		perEntry := func(b int64, n int) string {
			if n == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f", float64(b)/float64(n))
		}
		row := func(u store.TableUsage) {
			fmt.Fprintf(stdout, "%-16s %9d %12s %15s %11d %12.1f %9.1f %13s\n", u.Table, u.Entries, perEntry(u.KeyBytes, u.Entries),
				perEntry(u.InlineBytes, u.Entries), u.ValueLogged, float64(u.ValueLogSize)/(1<<20), float64(u.FileBytes)/(1<<20), perEntry(u.FileBytes, u.Entries))
		}
		for _, u := range usage {
			row(u)
			total.Entries += u.Entries
			total.KeyBytes += u.KeyBytes
			total.InlineBytes += u.InlineBytes
			total.ValueLogged += u.ValueLogged
			total.ValueLogSize += u.ValueLogSize
			total.FileBytes += u.FileBytes
		}
		total.Table = "all"
		row(total)
		fmt.Fprintf(stdout, "entries count every version and deletion marker not yet compacted away; keys and inline values are in the LSM tree (%.1f MB uncompressed, %.1f MB in its files: compressed, with indexes and Bloom filters; %s counts the files that span tables)\n",
			float64(total.KeyBytes+total.InlineBytes)/(1<<20), float64(total.FileBytes)/(1<<20), store.AcrossTables)
		return nil

	}
	return c
}
