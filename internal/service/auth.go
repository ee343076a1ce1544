package service

import (
	"github.com/gofiber/fiber/v2"

	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

const settingSessionSecret = "session_secret"

// setUpAuth loads (or makes) the session secret and, on first start with no keys, creates
// an admin key and prints it once.
//
// On a replica of a cluster, keys is the replicated key store (every key write goes through
// the log) and firstKey says whether the cluster is new: only then does it make a first
// admin key (each of the replicas that start a new cluster together makes and prints one,
// each valid on every replica); a replica that joins an existing cluster gets its keys from
// the log.
func setUpAuth(ctx context.Context, o Options, st *store.Store, keys api.KeyStore, firstKey bool, stdout io.Writer) (*api.Auth, error) {
	secret, err := st.Setting(ctx, settingSessionSecret)
	if errors.Is(err, engine.ErrNotFound) {
		if secret, err = api.NewSessionSecret(); err != nil {
			return nil, err
		}
		if err := st.PutSetting(ctx, settingSessionSecret, secret); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	stored, err := keys.Keys(ctx)
	if err != nil {
		return nil, err
	}
	if len(stored) == 0 && firstKey {
		k, plain, err := access.NewKey(access.Admin, "first admin key", time.Now())
		if err != nil {
			return nil, err
		}
		if err := keys.PutKey(ctx, k); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, `
First start: created an admin API key. It is shown this once; store it safely.

    admin key: %s

Use it as a bearer token, for example:
    export NEXTBEST_KEY=%s
    curl -H "Authorization: Bearer $NEXTBEST_KEY" http://%s/v1/actions
Make keys for other roles with: nextbest keys create --role decide|analyst|viewer|admin
Sign in to the dashboards at http://%s/ with any key.

`, plain, plain, o.Addr, o.Addr)
	}
	return api.NewAuth(ctx, api.AuthOptions{Keys: keys, Sessions: st, SessionSecret: secret, InsecureLocal: o.InsecureLocal, TLS: o.TLSCert != "",
		FailureBurst: o.HTTP.AuthFailureBurst, FailuresPerMinute: o.HTTP.AuthFailuresPerMinute})
}

// sessions adapts api.Auth to what the dashboards need.
type sessions struct{ *api.Auth }

func (s sessions) SignIn(c *fiber.Ctx, key string) (access.Role, error) {
	p, err := s.Auth.SignIn(c, key)
	if err != nil {
		return "", err
	}
	return p.Role, nil
}

func (s sessions) Role(c *fiber.Ctx) (access.Role, bool) {
	p := api.PrincipalOf(c)
	if p == nil {
		return "", false
	}
	return p.Role, true
}
