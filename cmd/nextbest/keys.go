package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/internal/cli"
	"github.com/nextbest/nextbest/store"
	"github.com/spf13/cobra"
)

// keyClient is where key commands go: a running server or a stopped store.
type keyClient interface {
	create(ctx context.Context, role access.Role, name string) (access.Key, string, error)
	list(ctx context.Context) ([]access.Key, error)
	revoke(ctx context.Context, id access.KeyID) (access.Key, error)
}

// keysFlags are the flags every keys command has: where the keys are.
type keysFlags struct{ addr, key, data string }

// open returns where the keys are: the stopped store in --data, else the running server
// at --addr with an admin key; close releases it.
func (f *keysFlags) open() (kc keyClient, close func(), err error) {
	if f.data != "" {
		st, err := store.Open(store.DefaultOptions(f.data))
		if err != nil {
			return nil, nil, fmt.Errorf("keys: %w (is a server running on %s? then use --addr and an admin key)", err, f.data)
		}
		return storeKeys{st}, func() { st.Close() }, nil
	}
	k := f.key
	if k == "" {
		k = os.Getenv("NEXTBEST_KEY")
	}
	if k == "" {
		return nil, nil, errors.New("keys: an admin key is needed: set NEXTBEST_KEY or pass --key (or use --data on a stopped server's store)")
	}
	c := client.New(f.addr, client.WithKey(k), client.WithUserAgent("nextbest keys"), client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	return httpKeys{c}, c.CloseIdleConnections, nil
}

func keysCmd() *cobra.Command {
	var f keysFlags
	c := &cobra.Command{
		Use:   "keys create|list|revoke",
		Short: "Manage API keys",
		Long: `keys creates, lists and revokes API keys: against a running server (default) with
--addr and an admin key in $NEXTBEST_KEY or --key, or against a stopped server's store
with --data DIR. A key's secret is shown once, when it is created.`,
		Example: `  nextbest keys create --role decide --name checkout
  nextbest keys list --addr 127.0.0.1:8080
  nextbest keys revoke 3f9a1c2e
  nextbest keys create --role admin --data ./data   # the server stopped`,
		Args: cobra.NoArgs, // an unknown verb: "unknown command", exit 2
		RunE: func(c *cobra.Command, _ []string) error {
			return cli.Usage(c, errors.New("keys: give a command: create, list or revoke"))
		},
	}
	pf := c.PersistentFlags()
	pf.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address of the running server")
	pf.StringVar(&f.key, "key", "", "admin API key (default $NEXTBEST_KEY)")
	pf.StringVar(&f.data, "data", "", "work on this stopped server's store instead of over HTTP")

	var role, name string
	create := &cobra.Command{
		Use:     "create --role decide|analyst|viewer|admin [--name NAME]",
		Short:   "Create a key and print its secret once",
		Long:    "create makes a key with a role (decide, analyst, viewer or admin) and prints its secret, this once.",
		Example: "  nextbest keys create --role analyst --name notebook",
		Args:    cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			r, err := access.ParseRole(role)
			if err != nil {
				return cli.Usage(c, fmt.Errorf("keys create: --%w", err))
			}
			kc, done, err := f.open()
			if err != nil {
				return err
			}
			defer done()
			k, plain, err := kc.create(c.Context(), r, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "created %s key %s (%s). It is shown this once:\n\n    %s\n\n", k.Role, k.ID, k.Name, plain)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "", "role of the new key: decide, analyst, viewer or admin")
	create.Flags().StringVar(&name, "name", "", "a name for the new key, e.g. the service that uses it")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the keys, active and revoked",
		Long:    "list prints every key: its id, role, name, when it was made, and whether it is revoked.",
		Example: "  nextbest keys list",
		Args:    cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			kc, done, err := f.open()
			if err != nil {
				return err
			}
			defer done()
			ks, err := kc.list(c.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLE\tNAME\tCREATED\tSTATUS")
			for _, k := range ks {
				status := "active"
				if !k.Active() {
					status = "revoked " + k.Revoked.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Role, k.Name, k.Created.Format(time.RFC3339), status)
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:     "revoke KEY_ID",
		Short:   "Revoke a key",
		Long:    "revoke ends a key: requests with it are refused from then on. KEY_ID is from nextbest keys list.",
		Example: "  nextbest keys revoke 3f9a1c2e",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			kc, done, err := f.open()
			if err != nil {
				return err
			}
			defer done()
			k, err := kc.revoke(c.Context(), access.KeyID(args[0]))
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "revoked key %s (%s, %s)\n", k.ID, k.Role, k.Name)
			return nil
		},
	}
	c.AddCommand(create, list, revoke)
	return c
}

type storeKeys struct{ st *store.Store }

func (s storeKeys) create(ctx context.Context, role access.Role, name string) (access.Key, string, error) {
	k, plain, err := access.NewKey(role, name, time.Now())
	if err != nil {
		return access.Key{}, "", err
	}
	return k, plain, s.st.PutKey(ctx, k)
}

func (s storeKeys) list(ctx context.Context) ([]access.Key, error) { return s.st.Keys(ctx) }

func (s storeKeys) revoke(ctx context.Context, id access.KeyID) (access.Key, error) {
	k, err := s.st.Key(ctx, id)
	if err != nil {
		return access.Key{}, fmt.Errorf("keys revoke %s: %w", id, err)
	}
	if k.Active() {
		k.Revoked = time.Now().UTC()
	}
	return k, s.st.PutKey(ctx, k)
}

// httpKeys manages the keys of a running server through its API.
type httpKeys struct{ c *client.Client }

// hint adds, to an error of the transport (no answer), where the server was expected.
func (h httpKeys) hint(err error) error {
	var ce *client.Error
	if err == nil || errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("%w (is the server running at %s?)", err, h.c.BaseURL())
}

func (h httpKeys) create(ctx context.Context, role access.Role, name string) (access.Key, string, error) {
	k, err := h.c.CreateKey(ctx, wire.KeyRequest{Role: role, Name: name})
	if err != nil {
		return access.Key{}, "", fmt.Errorf("keys create: %w", h.hint(err))
	}
	return k.Key, k.Secret, nil
}

func (h httpKeys) list(ctx context.Context) ([]access.Key, error) {
	ks, err := h.c.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys list: %w", h.hint(err))
	}
	return ks, nil
}

func (h httpKeys) revoke(ctx context.Context, id access.KeyID) (access.Key, error) {
	k, err := h.c.RevokeKey(ctx, id)
	if err != nil {
		return access.Key{}, fmt.Errorf("keys revoke %s: %w", id, h.hint(err))
	}
	return k, nil
}
