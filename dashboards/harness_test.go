package dashboards_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/dashboards"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// roleHeader carries the test principal's role. The real sessions (api.Auth) are tested
// with the real server in cmd/nextbest; here a header stands in for the session cookie.
const roleHeader = "X-Test-Role"

type headerSessions struct{}

func (headerSessions) SignIn(c *fiber.Ctx, key string) (access.Role, error) {
	r, err := access.ParseRole(key)
	if err != nil {
		return "", &engine.Error{Kind: engine.ErrInvalid, Code: "invalid_key", Message: err.Error()}
	}
	return r, nil
}
func (headerSessions) SignOut(*fiber.Ctx) error { return nil }
func (headerSessions) Role(c *fiber.Ctx) (access.Role, bool) {
	r := access.Role(c.Get(roleHeader))
	return r, r != ""
}
func (headerSessions) CSRFToken(*fiber.Ctx) string { return "token" }
func (headerSessions) CheckCSRF(*fiber.Ctx) error  { return nil }

// guard is the API's rule: the role must grant the permission.
func guard(p access.Permission, h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !access.Role(c.Get(roleHeader)).Allows(p) {
			return fiber.ErrForbidden
		}
		return h(c)
	}
}

// harness is an engine over a real Badger store, with a manual clock, and the pages.
type harness struct {
	st    *store.Store
	eng   *engine.Engine
	clock *engine.ManualClock
	app   *fiber.App
	stop  func()
}

func newHarness(tb testing.TB, dir string, now time.Time, mutate func(*store.Options)) *harness {
	tb.Helper()
	so := store.DefaultOptions(dir)
	so.Retention = 0 // decisions with old timestamps must not expire
	if mutate != nil {
		mutate(&so)
	}
	st, err := store.Open(so)
	if err != nil {
		tb.Fatal(err)
	}
	h := &harness{st: st, clock: engine.NewManualClock(now)}
	h.eng, err = engine.New(engine.DefaultOptions(), st, h.clock, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.eng.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.eng.Run(ctx) }()
	pages, err := dashboards.New(h.eng, headerSessions{}, nil, dashboards.Options{Currency: "EUR"})
	if err != nil {
		tb.Fatal(err)
	}
	h.app = fiber.New(fiber.Config{DisableStartupMessage: true})
	pages.Register(h.app, guard)
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("engine run: %v", err)
		}
		st.Close()
	}
	tb.Cleanup(h.stop)
	return h
}

// get requests a page as role ("" = signed out) and returns the status, headers and body.
func (h *harness) get(tb testing.TB, path string, role access.Role) (int, map[string]string, string) {
	tb.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if role != "" {
		req.Header.Set(roleHeader, string(role))
	}
	resp, err := h.app.Test(req, -1)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	hdr := map[string]string{}
	for k, v := range resp.Header {
		hdr[k] = strings.Join(v, ", ")
	}
	return resp.StatusCode, hdr, string(b)
}
