package api

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
)

// Options configures the HTTP server.
type Options struct {
	BodyLimit   int           // bytes; larger bodies get 413 body_too_large
	ReadTimeout time.Duration // also the idle keep-alive timeout
	Logger      *slog.Logger
	Metrics     *Metrics // optional
	// Extra registers more routes (dashboards, admin) on the same app.
	Extra func(app *fiber.App)
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{BodyLimit: 1 << 20, ReadTimeout: 30 * time.Second}
}

// Server is the HTTP API over an engine.
type Server struct {
	app  *fiber.App
	eng  *engine.Engine
	log  *slog.Logger
	met  *Metrics
	base context.Context
}

// New builds the server and its routes. It starts nothing; call Serve.
func New(eng *engine.Engine, opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	app := fiber.New(fiber.Config{
		BodyLimit:             opts.BodyLimit,
		ReadTimeout:           opts.ReadTimeout,
		IdleTimeout:           opts.ReadTimeout,
		ErrorHandler:          errorHandler(log),
		DisableStartupMessage: true,
		AppName:               "nextbest",
	})
	s := &Server{app: app, eng: eng, log: log, met: opts.Metrics, base: context.Background()}
	if s.met != nil {
		app.Use(s.met.middleware)
	}
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	if s.met != nil {
		app.Get("/metrics", s.met.handler)
	}
	v1 := app.Group("/v1")
	v1.Get("/actions", s.listActions)
	v1.Get("/actions/:id", s.getAction)
	v1.Put("/actions/:id", s.putAction)
	v1.Delete("/actions/:id", s.deleteAction)
	v1.Get("/customers/:id", s.getCustomer)
	v1.Put("/customers/:id", s.putCustomer)
	v1.Post("/decide", s.decide)
	v1.Post("/feedback", s.feedback)
	v1.Get("/models/:id", s.getModel)
	v1.Get("/models/:id/versions", s.modelVersions)
	v1.Post("/models/:id/rollback", s.rollback)
	v1.Get("/decisions", s.decisions)
	v1.Get("/decisions/:id", s.getDecision)
	v1.Get("/schema", s.getSchema)
	v1.Put("/schema", s.putSchema)
	if opts.Extra != nil {
		opts.Extra(app)
	}
	app.Use(func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusNotFound, c.Method()+" "+c.Path())
	})
	return s
}

// App returns the fiber app, for tests and for mounting more routes.
func (s *Server) App() *fiber.App { return s.app }

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections and waits for in-flight requests to finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

// param returns a path parameter copied out of fiber's reused request memory.
func param(c *fiber.Ctx, name string) string { return strings.Clone(c.Params(name)) }

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

func (s *Server) readyz(c *fiber.Ctx) error {
	if !s.eng.Ready() {
		return c.Status(fiber.StatusServiceUnavailable).JSON(ErrorBody{Error: ErrorDetail{Code: "not_ready", Message: "the engine is loading its state or shutting down"}})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}
