package main

import (
	"errors"
	"fmt"

	"github.com/nextbest/nextbest/store"
	"github.com/spf13/cobra"
)

// duCmd is nextbest du: it prints what each table of a stopped store holds in Badger's LSM tree and value log:
// what the store's background work (compactions, value-log GC) scales with.
func duCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "du [--data DIR]",
		Short: "What each table of a stopped store holds",
		Long: `du prints what each table of a stopped store holds in Badger's LSM tree and value log:
what the store's background work (compactions, value-log GC) scales with.`,
		Example: "  nextbest du --data ./data",
		Args:    noArgs,
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
		fmt.Fprintf(stdout, "%-16s %9s %12s %15s %11s %12s\n", "table", "entries", "key B/entry", "inline B/entry", "value log", "value log MB")
		var total store.TableUsage
		for _, u := range usage {
			fmt.Fprintf(stdout, "%-16s %9d %12.1f %15.1f %11d %12.1f\n", u.Table, u.Entries, float64(u.KeyBytes)/float64(u.Entries),
				float64(u.InlineBytes)/float64(u.Entries), u.ValueLogged, float64(u.ValueLogSize)/(1<<20))
			total.Entries += u.Entries
			total.KeyBytes += u.KeyBytes
			total.InlineBytes += u.InlineBytes
			total.ValueLogged += u.ValueLogged
			total.ValueLogSize += u.ValueLogSize
		}
		fmt.Fprintf(stdout, "%-16s %9d %12.1f %15.1f %11d %12.1f\n", "all", total.Entries, float64(total.KeyBytes)/float64(total.Entries),
			float64(total.InlineBytes)/float64(total.Entries), total.ValueLogged, float64(total.ValueLogSize)/(1<<20))
		fmt.Fprintf(stdout, "entries count every version and deletion marker not yet compacted away; keys and inline values are in the LSM tree (%.1f MB uncompressed)\n",
			float64(total.KeyBytes+total.InlineBytes)/(1<<20))
		return nil

	}
	return c
}
