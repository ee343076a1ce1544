package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/store"
)

const keysUsage = `Usage:
  nextbest keys create --role decide|analyst|viewer|admin [--name NAME]
  nextbest keys list
  nextbest keys revoke KEY_ID

Against a running server (default): --addr 127.0.0.1:8080 and an admin key in
$NEXTBEST_KEY or --key. Against a stopped server's store: --data DIR.
`

// keyClient is where key commands go: a running server or a stopped store.
type keyClient interface {
	create(ctx context.Context, role access.Role, name string) (access.Key, string, error)
	list(ctx context.Context) ([]access.Key, error)
	revoke(ctx context.Context, id access.KeyID) (access.Key, error)
}

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return flag.ErrHelp
	}
	verb := args[0]
	fs := flag.NewFlagSet("keys "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address of the running server")
	key := fs.String("key", "", "admin API key (default $NEXTBEST_KEY)")
	data := fs.String("data", "", "work on this stopped server's store instead of over HTTP")
	role := fs.String("role", "", "role of the new key: decide, analyst, viewer or admin")
	name := fs.String("name", "", "a name for the new key, e.g. the service that uses it")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	var kc keyClient
	if *data != "" {
		st, err := store.Open(store.DefaultOptions(*data))
		if err != nil {
			return fmt.Errorf("keys: %w (is a server running on %s? then use --addr and an admin key)", err, *data)
		}
		defer st.Close()
		kc = storeKeys{st}
	} else {
		k := *key
		if k == "" {
			k = os.Getenv("NEXTBEST_KEY")
		}
		if k == "" {
			return errors.New("keys: an admin key is needed: set NEXTBEST_KEY or pass --key (or use --data on a stopped server's store)")
		}
		kc = httpKeys{client.New(baseURL(*addr), client.WithKey(k), client.WithUserAgent("nextbest keys"), client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))}
	}
	switch verb {
	case "create":
		r, err := access.ParseRole(*role)
		if err != nil {
			return fmt.Errorf("keys create: --%w", err)
		}
		k, plain, err := kc.create(ctx, r, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s key %s (%s). It is shown this once:\n\n    %s\n\n", k.Role, k.ID, k.Name, plain)
	case "list":
		ks, err := kc.list(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tNAME\tCREATED\tSTATUS")
		for _, k := range ks {
			status := "active"
			if !k.Active() {
				status = "revoked " + k.Revoked.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Role, k.Name, k.Created.Format(time.RFC3339), status)
		}
		return tw.Flush()
	case "revoke":
		if len(pos) != 1 {
			return errors.New("keys revoke: give one KEY_ID (from nextbest keys list)")
		}
		k, err := kc.revoke(ctx, access.KeyID(pos[0]))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked key %s (%s, %s)\n", k.ID, k.Role, k.Name)
	default:
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("keys: unknown command %q", verb)
	}
	return nil
}

func baseURL(addr string) string {
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		return strings.TrimRight(addr, "/")
	}
	return "http://" + addr
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

// parseInterleaved parses flags that may come before and after positional arguments
// (keys revoke ID --addr ...), which the flag package alone stops at, and returns the
// positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}
