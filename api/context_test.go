package api

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api/wire"
)

// waitForContext is a route that waits until its request's context ends and returns the
// context's error, reporting it on ended.
func waitForContext(started chan<- struct{}, ended chan<- error) func(fiber.Router, func(access.Permission, fiber.Handler) fiber.Handler) {
	return func(r fiber.Router, guard func(access.Permission, fiber.Handler) fiber.Handler) {
		r.Get("/test/wait", guard(access.PermInspect, func(c *fiber.Ctx) error {
			ctx := c.UserContext()
			if started != nil {
				started <- struct{}{}
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second): // a bound for a broken build
			}
			if ended != nil {
				ended <- ctx.Err()
			}
			return ctx.Err()
		}))
	}
}

// TestRequestContextDeadline: a handler's context (fiber's user context, which every
// handler passes down) ends at Options.RequestTimeout, and the request is answered 503
// unavailable. Before, handlers got context.Background(), which never ends.
func TestRequestContextDeadline(t *testing.T) {
	const timeout = 100 * time.Millisecond
	ended := make(chan error, 1)
	ts := newTestServer(t, true, func(o *Options) {
		o.RequestTimeout = timeout
		o.Extra = waitForContext(nil, ended)
	})
	get := serveOnLoopback(t, ts.srv)
	start := time.Now()
	code, raw, err := get("/test/wait")
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	var eb wire.ErrorBody
	if code != http.StatusServiceUnavailable || json.Unmarshal(raw, &eb) != nil || eb.Error.Code != "unavailable" {
		t.Errorf("a request past its deadline: %d %s, want 503 unavailable", code, raw)
	}
	if err := <-ended; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the handler's context ended with %v, want context.DeadlineExceeded", err)
	}
	// Loose on purpose: 5 s is half the route's own bound, far above the deadline.
	if took < timeout || took > 5*time.Second {
		t.Errorf("answered after %v, want about the deadline, %v", took, timeout)
	}
	// Real routes run under the same context: they still answer.
	if code, raw, err := get("/v1/actions"); err != nil || code != http.StatusOK {
		t.Errorf("GET /v1/actions: %d %s %v", code, raw, err)
	}
}

// TestShutdownCancelsRequests: without a deadline, a request's context still ends when
// the server stops: once Shutdown's wait for in-flight requests is over, the requests
// still running are cancelled, so that their work stops with the server.
func TestShutdownCancelsRequests(t *testing.T) {
	started, ended := make(chan struct{}, 1), make(chan error, 1)
	ts := newTestServer(t, true, func(o *Options) { o.Extra = waitForContext(started, ended) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- ts.srv.Serve(ln) }()
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/test/wait")
		if err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the handler")
	}
	select {
	case err := <-ended:
		t.Fatalf("the request's context ended before the server stopped: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	ts.srv.Shutdown(ctx) // returns ctx's error: the request was still running
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the handler's context ended with %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request's context did not end when the server stopped")
	}
	if err := <-served; err != nil {
		t.Error(err)
	}
}
