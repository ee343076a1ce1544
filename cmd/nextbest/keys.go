package main

import (
	"bytes"
	"context"
	"encoding/json"
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
		kc = httpKeys{base: baseURL(*addr), key: k, client: &http.Client{Timeout: 30 * time.Second}}
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

type httpKeys struct {
	base, key string
	client    *http.Client
}

func (h httpKeys) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+h.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("keys: %w (is the server running at %s?)", err, h.base)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return fmt.Errorf("keys: server answered %d %s: %s", resp.StatusCode, e.Error.Code, e.Error.Message)
	}
	return json.Unmarshal(raw, out)
}

func (h httpKeys) create(ctx context.Context, role access.Role, name string) (access.Key, string, error) {
	var out struct {
		access.Key
		Secret string `json:"key"`
	}
	err := h.do(ctx, "POST", "/v1/keys", map[string]string{"role": string(role), "name": name}, &out)
	return out.Key, out.Secret, err
}

func (h httpKeys) list(ctx context.Context) ([]access.Key, error) {
	var out struct {
		Keys []access.Key `json:"keys"`
	}
	err := h.do(ctx, "GET", "/v1/keys", nil, &out)
	return out.Keys, err
}

func (h httpKeys) revoke(ctx context.Context, id access.KeyID) (access.Key, error) {
	var out access.Key
	err := h.do(ctx, "DELETE", "/v1/keys/"+string(id), nil, &out)
	return out, err
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
