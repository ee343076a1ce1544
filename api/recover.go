package api

import (
	"bufio"
	"runtime/debug"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
)

// recoverPanics is the outermost middleware: a handler that panics (a programmer error)
// costs its request a 500 with the JSON error body, and the operator a log line with the
// panic's value and stack and a count in nextbest_http_panics_total; the process goes on
// serving. Without it, fasthttp lets the panic end the process.
func (s *Server) recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.panicked(c.Method(), c.Path(), v)
			c.Response().ResetBody()
			err = c.Status(fiber.StatusInternalServerError).JSON(wire.ErrorBody{Error: wire.ErrorDetail{Code: "internal", Message: "internal error; the operator's log has the details"}})
		}
	}()
	return c.Next()
}

// panicked logs and counts a recovered panic.
func (s *Server) panicked(method, path string, v any) {
	s.log.Error("handler panicked", "method", method, "path", path, "panic", v, "stack", string(debug.Stack()))
	if s.met != nil {
		s.met.panics.Inc()
	}
}

// streamBody sets fn as the response's body writer. fasthttp runs it in a goroutine of
// its own, outside recoverPanics: a panic in fn is recovered here, logged and counted like
// a handler's, and ends the stream (the status has been sent; the client sees a truncated
// body).
func (s *Server) streamBody(c *fiber.Ctx, fn func(w *bufio.Writer)) {
	method, path := strings.Clone(c.Method()), strings.Clone(c.Path()) // fiber reuses its request memory
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer func() {
			if v := recover(); v != nil {
				s.panicked(method, path, v)
			}
		}()
		fn(w)
	})
}
