package api

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/pprof"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/record"
)

// Options configures the HTTP server.
type Options struct {
	BodyLimit   int           // bytes; larger bodies get 413 body_too_large
	ReadTimeout time.Duration // also the idle keep-alive timeout
	Logger      *slog.Logger
	Metrics     *Metrics // optional
	// Auth authenticates every request and guards every route (required).
	Auth *Auth
	// Keys backs the key-management endpoints (key writes go through Auth.PutKey).
	Keys KeyStore
	// Backup writes a backup of the store for GET /v1/admin/backup.
	Backup func(ctx context.Context, w io.Writer) error
	// RateLimits caps requests per second per key, by role; 0 or absent means no limit.
	RateLimits map[access.Role]int
	// Clock drives the manual clock (POST /v1/clock); nil means the system clock.
	Clock ClockDriver
	// Cluster reports the cluster's replicas (GET /v1/cluster); nil means a single node.
	Cluster ClusterView
	// Extra registers more routes (dashboards) on the same app, with the guard that also
	// takes the session cookie (Auth.SessionGuard).
	Extra func(r fiber.Router, guard func(access.Permission, fiber.Handler) fiber.Handler)
	// MaxConnections caps the connections served at once (fasthttp's Concurrency); one
	// more is answered 503 and closed at once. 0 means fasthttp's default, 262,144.
	MaxConnections int
	// MaxConnsPerIP caps the connections from one address; one more is answered 429 and
	// closed at once. 0 means no cap.
	MaxConnsPerIP int
	// Disk reports a full disk in /readyz; nil means it is never full.
	Disk DiskState
	// RequestTimeout is the deadline of a request's context (requestContext): the work
	// done for it stops after that long. 0 means no deadline; the context still ends when
	// the server stops. Streamed answers are not limited by it.
	RequestTimeout time.Duration
}

// DiskState reports whether the store refuses writes because its disk is nearly full.
type DiskState interface {
	DiskFull() bool
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{BodyLimit: 1 << 20, ReadTimeout: 30 * time.Second}
}

// Server is the HTTP API over an engine.
type Server struct {
	app    *fiber.App
	eng    Engine
	log    *slog.Logger
	met    *Metrics
	base   context.Context // the server's: ends when Shutdown is over
	auth   *Auth
	keys   KeyStore
	backup func(ctx context.Context, w io.Writer) error
	clock  ClockDriver
	nodes  ClusterView // Options.Cluster
	disk   DiskState
	perIP  int // Options.MaxConnsPerIP

	stop    context.CancelFunc // ends base
	timeout time.Duration      // Options.RequestTimeout
}

// New builds the server and its routes. It starts nothing; call Serve.
func New(eng Engine, opts Options) *Server {
	if opts.Auth == nil {
		panic("api.New: Options.Auth is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	app := fiber.New(fiber.Config{
		BodyLimit:             opts.BodyLimit,
		Concurrency:           opts.MaxConnections,
		ReadTimeout:           opts.ReadTimeout,
		IdleTimeout:           opts.ReadTimeout,
		ErrorHandler:          errorHandler(log),
		DisableStartupMessage: true,
		JSONEncoder:           marshalJSON,
		AppName:               "nextbest",
		// No route takes multipart bodies: leave them to requireJSON's 415 instead of
		// parsing them while reading the request.
		DisablePreParseMultipartForm: true,
	})
	base, stop := context.WithCancel(context.Background())
	s := &Server{app: app, eng: eng, log: log, met: opts.Metrics, base: base, stop: stop, timeout: opts.RequestTimeout, auth: opts.Auth, keys: opts.Keys, backup: opts.Backup, clock: opts.Clock, nodes: opts.Cluster, disk: opts.Disk, perIP: opts.MaxConnsPerIP}
	app.Use(s.recoverPanics)
	app.Use(s.requestContext)
	if s.met != nil {
		app.Use(s.met.middleware)
	}
	if r, ok := eng.(Replicated); ok && r.Clustered() {
		app.Use(s.sessionConsistency(r)) // after the metrics: a request's time includes its wait
	}
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	// The API reference, public like the health checks: it describes this version's API.
	app.Get("/v1/openapi.yaml", s.openapiYAML)
	app.Get("/docs", s.docs)
	app.Use(s.auth.Authenticate)
	if rl := newRateLimiter(opts.RateLimits); rl != nil {
		app.Use(rl.handle)
	}
	// The JSON API's guard: API keys only (Auth.Guard), then JSON bodies only (requireJSON).
	g := func(perm access.Permission, h fiber.Handler) fiber.Handler { return s.auth.Guard(perm, requireJSON(h)) }
	if s.met != nil {
		app.Get("/metrics", g(access.PermMetrics, s.met.handler))
	}
	v1 := app.Group("/v1")
	v1.Post("/decide", g(access.PermDecide, s.decide))
	v1.Post("/feedback", g(access.PermDecide, s.feedback))
	v1.Get("/customers/:id", g(access.PermProfiles, s.getCustomer))
	v1.Put("/customers/:id", g(access.PermProfiles, s.putCustomer))
	v1.Get("/actions", g(access.PermInspect, s.listActions))
	v1.Get("/actions/:id", g(access.PermInspect, s.getAction))
	v1.Put("/actions/:id", g(access.PermConfigure, s.putAction))
	v1.Delete("/actions/:id", g(access.PermConfigure, s.deleteAction))
	v1.Get("/models/:id", g(access.PermInspect, s.getModel))
	v1.Get("/models/:id/versions", g(access.PermInspect, s.modelVersions))
	v1.Get("/models/:id/uplift", g(access.PermInspect, s.upliftReport))
	v1.Post("/models/:id/rollback", g(access.PermConfigure, s.rollback))
	v1.Get("/decisions", g(access.PermInspect, s.decisions))
	v1.Get("/decisions/export", g(access.PermInspect, s.exportDecisions)) // before /decisions/:id
	v1.Get("/decisions/:id", g(access.PermInspect, s.getDecision))
	v1.Get("/schema", g(access.PermInspect, s.getSchema))
	v1.Put("/schema", g(access.PermConfigure, s.putSchema))
	v1.Post("/outcomes", g(access.PermDecide, s.postOutcomes))
	v1.Get("/objectives", g(access.PermInspect, s.listObjectives))
	v1.Get("/objectives/:outcome", g(access.PermInspect, s.getObjective))
	v1.Put("/objectives/:outcome", g(access.PermConfigure, s.putObjective))
	v1.Delete("/objectives/:outcome", g(access.PermConfigure, s.deleteObjective))
	v1.Get("/experiments", g(access.PermInspect, s.listExperiments))
	v1.Get("/experiments/:id", g(access.PermInspect, s.getExperiment))
	v1.Put("/experiments/:id", g(access.PermConfigure, s.putExperiment))
	v1.Get("/experiments/:id/assignments/:customer", g(access.PermInspect, s.getAssignment))
	v1.Get("/experiments/:id/report", g(access.PermReport, s.report))
	v1.Get("/campaigns", g(access.PermInspect, s.listCampaigns))
	v1.Get("/campaigns/:id", g(access.PermInspect, s.getCampaign))
	v1.Put("/campaigns/:id", g(access.PermConfigure, s.putCampaign))
	v1.Post("/campaigns/:id/run", g(access.PermConfigure, s.runCampaign))
	v1.Post("/outbound/run", g(access.PermConfigure, s.runOutbound))
	v1.Get("/outbound", g(access.PermDecide, s.outboundFeed))
	v1.Get("/power", g(access.PermReport, s.power))
	// Off-policy evaluation reads the decision log: the analyst's (and admin's) inspect
	// permission, for starting, following and cancelling alike.
	v1.Post("/evaluations", g(access.PermInspect, s.startEvaluation))
	v1.Get("/evaluations", g(access.PermInspect, s.listEvaluations))
	v1.Get("/evaluations/:id", g(access.PermInspect, s.getEvaluation))
	v1.Delete("/evaluations/:id", g(access.PermInspect, s.cancelEvaluation))
	v1.Get("/clock", g(access.PermInspect, s.getClock))
	v1.Post("/clock", g(access.PermAdmin, s.advanceClock))
	v1.Get("/cluster", g(access.PermInspect, s.getCluster))
	v1.Get("/keys", g(access.PermAdmin, s.listKeys))
	v1.Post("/keys", g(access.PermAdmin, s.createKey))
	v1.Delete("/keys/:id", g(access.PermAdmin, s.revokeKey))
	v1.Get("/admin/backup", g(access.PermAdmin, s.backupHandler))
	// Go's profiler (net/http/pprof) for operators: CPU, heap, block, mutex and goroutine
	// profiles of the running server, admin only (docs/benchmarks.md uses them).
	v1.Get("/admin/debug/pprof*", g(access.PermAdmin, pprof.New(pprof.Config{Prefix: "/v1/admin"})))
	if opts.Extra != nil {
		opts.Extra(app, s.auth.SessionGuard)
	}
	app.Use(func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusNotFound, c.Method()+" "+c.Path())
	})
	return s
}

// marshalJSON is encoding/json without HTML escaping: API clients are programs, and
// "a > b" reads better than "a \u003e b" in eligibility rules. The answers to decide and
// feedback, encoded on every request of the hot path, are encoded by goccy/go-json, in
// half the time, into the same bytes (FuzzMarshalAnswers holds the two to that; the
// other types are left to encoding/json, which has not been compared on them).
func marshalJSON(v any) ([]byte, error) {
	switch v := v.(type) {
	case *engine.DecideResult:
		return gojson.MarshalWithOption(v, gojson.DisableHTMLEscape())
	case engine.FeedbackResult:
		return gojson.MarshalOf(v, gojson.DisableHTMLEscape())
	}
	return record.MarshalNoEscape(v)
}

// App returns the fiber app, for tests and for mounting more routes.
func (s *Server) App() *fiber.App { return s.app }

// Serve serves on ln until Shutdown. Accept errors that pass (out of file descriptors)
// are retried with a back-off, and connections from one address are capped (listener);
// Serve returns only at Shutdown, or on an error the listener cannot recover from.
func (s *Server) Serve(ln net.Listener) error {
	return s.app.Listener(&listener{Listener: ln, log: s.log, met: s.met, perIP: s.perIP})
}

// Shutdown stops accepting connections and waits for in-flight requests to finish, until
// ctx ends; then it cancels the context of every request still running (requestContext)
// and of every stream.
func (s *Server) Shutdown(ctx context.Context) error {
	defer s.stop()
	return s.app.ShutdownWithContext(ctx)
}

// param returns a path parameter copied out of fiber's reused request memory.
func param(c *fiber.Ctx, name string) string { return strings.Clone(c.Params(name)) }

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(wire.Health{Status: "ok"})
}

func (s *Server) readyz(c *fiber.Ctx) error {
	if !s.eng.Ready() {
		return c.Status(fiber.StatusServiceUnavailable).JSON(wire.ErrorBody{Error: wire.ErrorDetail{Code: "not_ready", Message: "the engine is loading its state or shutting down"}})
	}
	// A full disk keeps the node ready: it still answers decisions, the most of its
	// traffic, which a load balancer taking it out would stop too. Writes get 507 until
	// space is freed; the body and nextbest_store_disk_full say why.
	if s.disk != nil && s.disk.DiskFull() {
		return c.JSON(wire.Health{Status: "degraded", Reason: "disk_full",
			Message: "the disk is full: writes are refused with 507 until space is freed; decisions are answered but not logged"})
	}
	return c.JSON(wire.Health{Status: "ready"})
}
