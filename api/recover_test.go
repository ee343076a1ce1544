package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api/wire"
)

// syncWriter is a log destination that tests may read while the server writes to it.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestHandlerPanicIs500 is issue 15's defect 3 (second half): a handler that panics gets
// the client a 500 with the JSON error body, the operator a log line with the stack and a
// count in /metrics, and the server keeps serving. Before the fix there was no recovery,
// and the first panic ended the process.
func TestHandlerPanicIs500(t *testing.T) {
	logs := &syncWriter{}
	met := NewMetrics()
	ts := newTestServer(t, true, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
		o.Metrics = met
		o.Extra = func(r fiber.Router, guard func(access.Permission, fiber.Handler) fiber.Handler) {
			r.Get("/test/panic", guard(access.PermInspect, func(c *fiber.Ctx) error {
				var m map[string]int
				m["boom"]++ // a nil map: a programmer error, as a real panic would be
				return nil
			}))
		}
	})
	get := serveOnLoopback(t, ts.srv)

	for i := range 3 {
		code, raw, err := get("/test/panic")
		if err != nil {
			t.Fatalf("request %d to the panicking route: %v", i, err)
		}
		var eb wire.ErrorBody
		if code != http.StatusInternalServerError || json.Unmarshal(raw, &eb) != nil || eb.Error.Code != "internal" {
			t.Fatalf("request %d to the panicking route: status %d, body %s; want 500 with the internal error code", i, code, raw)
		}
		if strings.Contains(string(raw), "nil map") || strings.Contains(string(raw), ".go:") {
			t.Errorf("the client sees the panic's details: %s", raw)
		}
	}
	if code, raw, err := get("/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("healthz after the panics: %d %s %v", code, raw, err)
	}
	log := logs.String()
	if n := strings.Count(log, "handler panicked"); n != 3 {
		t.Errorf("%d log lines for 3 panics, want 3:\n%s", n, log)
	}
	for _, want := range []string{"assignment to entry in nil map", "recover_test.go", "path=/test/panic"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q (the panic value, its stack, the request):\n%s", want, log)
		}
	}
	var prom bytes.Buffer
	met.WritePrometheus(&prom)
	if !strings.Contains(prom.String(), "nextbest_http_panics_total 3\n") {
		t.Errorf("/metrics lacks nextbest_http_panics_total 3:\n%s", grepLines(prom.String(), "panic"))
	}
}

// serveOnLoopback serves srv on 127.0.0.1:0 until the test ends and returns a function
// that GETs a path from it: status, whole body, error.
func serveOnLoopback(t *testing.T, srv *Server) func(path string) (int, []byte, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	base := "http://" + ln.Addr().String()
	hc := &http.Client{Timeout: 10 * time.Second}
	return func(path string) (int, []byte, error) {
		resp, err := hc.Get(base + path)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		return resp.StatusCode, raw, err
	}
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestStreamPanicEndsOnlyTheStream: a panic in a streamed body (the decision log, the
// outbound feed, a backup), which fasthttp writes from a goroutine of its own, truncates
// that response, is logged and counted, and the server keeps serving.
func TestStreamPanicEndsOnlyTheStream(t *testing.T) {
	logs := &syncWriter{}
	met := NewMetrics()
	var ts *testServer
	ts = newTestServer(t, true, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
		o.Metrics = met
		o.Extra = func(r fiber.Router, guard func(access.Permission, fiber.Handler) fiber.Handler) {
			r.Get("/test/panic-stream", guard(access.PermInspect, func(c *fiber.Ctx) error {
				ts.srv.streamBody(c, func(w *bufio.Writer) {
					_, _ = w.WriteString("{\"line\": 1}\n")
					_ = w.Flush()
					var m map[string]int
					m["boom"]++
				})
				return nil
			}))
		}
	})
	get := serveOnLoopback(t, ts.srv)
	code, raw, _ := get("/test/panic-stream") // the body may end early: that is the point
	if code != http.StatusOK || !strings.HasPrefix(string(raw), "{\"line\": 1}\n") {
		t.Errorf("streamed response: status %d, body %q; want 200 and the line written before the panic", code, raw)
	}
	if code, raw, err := get("/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("healthz after the panic: %d %s %v", code, raw, err)
	}
	if log := logs.String(); !strings.Contains(log, "handler panicked") || !strings.Contains(log, "path=/test/panic-stream") || !strings.Contains(log, "recover_test.go") {
		t.Errorf("the log lacks the panic with its path and stack:\n%s", log)
	}
	var prom bytes.Buffer
	met.WritePrometheus(&prom)
	if !strings.Contains(prom.String(), "nextbest_http_panics_total 1\n") {
		t.Errorf("/metrics lacks nextbest_http_panics_total 1:\n%s", grepLines(prom.String(), "panic"))
	}
}
