package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/engine"
)

// BenchmarkHTTPDecide runs POST /v1/decide through the fiber app as the load test sends
// it (cmd/nextbest loadtest.go): 20 actions, a 30-field context, an API key, a rate
// limit, metrics; without the network (fasthttp's RequestCtx is handed to the app).
// It measures the API layer and the engine together.
func BenchmarkHTTPDecide(b *testing.B) {
	s := newTestServer(b, false, func(o *Options) {
		o.Metrics = NewMetrics()
		o.RateLimits = map[access.Role]int{access.Decide: 1 << 30} // as in production, never reached
	})
	ctx := context.Background()
	for i := range 19 { // and "offer": 20
		if _, err := s.eng.PutAction(ctx, engine.Action{ID: engine.ActionID(fmt.Sprintf("lt-a%02d", i)), Value: 1, Enabled: true, Channels: []string{"web"}}); err != nil {
			b.Fatal(err)
		}
	}
	k, plain, err := access.NewKey(access.Decide, "benchmark", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if err := s.srv.auth.PutKey(ctx, k); err != nil {
		b.Fatal(err)
	}
	body := typicalDecideBody()
	h := s.srv.App().Handler()
	var fc fasthttp.RequestCtx
	fc.Request.Header.SetMethod(fasthttp.MethodPost)
	fc.Request.SetRequestURI("/v1/decide")
	fc.Request.Header.SetContentType("application/json")
	fc.Request.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+plain)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		fc.Request.SetBody(body)
		fc.Response.Reset()
		h(&fc)
		if code := fc.Response.StatusCode(); code != fasthttp.StatusOK {
			b.Fatalf("status %d: %s", code, fc.Response.Body())
		}
	}
}

func BenchmarkMetrics(b *testing.B) {
	m := NewMetrics()
	d := &engine.Decision{Channel: "web", Chosen: []engine.ActionID{"lt-a07"}}
	e := &engine.Event{Outcome: engine.Outcome("accepted")}
	b.Run("decided", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Decided(d, time.Millisecond)
		}
	})
	b.Run("responded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Responded(e, false)
		}
	})
}
