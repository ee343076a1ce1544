package dashboards

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"path"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/numtext"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Sessions is what the pages need from authentication: signing in and out, the current
// principal's role, and CSRF tokens for forms. SignIn refuses a bad key with an
// *engine.Error, of kind engine.ErrRateLimited when the client has failed too often.
type Sessions interface {
	SignIn(c *fiber.Ctx, key string) (role access.Role, err error)
	SignOut(c *fiber.Ctx) error
	Role(c *fiber.Ctx) (access.Role, bool)
	CSRFToken(c *fiber.Ctx) string
	CheckCSRF(c *fiber.Ctx) error
}

// Guard wraps a handler with a permission check.
type Guard func(access.Permission, fiber.Handler) fiber.Handler

// Options configures the pages.
type Options struct {
	// Currency is written before the amounts of money in the uplift page's sentences
	// ("EUR"); empty writes bare amounts. The engine keeps no currency: amounts are in
	// whatever the catalog's values and the recorded outcomes are in.
	Currency string
	// Cluster reports the replicas of the cluster this node belongs to (the Cluster
	// page); nil means a single node.
	Cluster ClusterView
}

// Pages serves the dashboards.
type Pages struct {
	eng     Engine
	opts    Options
	sess    Sessions
	log     *slog.Logger
	tmpl    *template.Template
	assets  map[string]asset
	version string // of the static assets, for cache busting
	bufs    sync.Pool
}

type asset struct {
	body []byte
	typ  string
}

// New parses the embedded templates and loads the static assets.
func New(eng Engine, sess Sessions, log *slog.Logger, opts Options) (*Pages, error) {
	t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse dashboard templates: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pages{eng: eng, opts: opts, sess: sess, log: log, tmpl: t, assets: map[string]asset{}}
	p.bufs.New = func() any { return new(bytes.Buffer) }
	h := sha256.New()
	err = fs.WalkDir(staticFS, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(name)
		if err != nil {
			return err
		}
		h.Write(b)
		p.assets[path.Base(name)] = asset{body: b, typ: mime.TypeByExtension(path.Ext(name))}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load dashboard assets: %w", err)
	}
	p.version = hex.EncodeToString(h.Sum(nil))[:12]
	return p, nil
}

var funcs = template.FuncMap{
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"time":      fmtTime,
	"timeptr":   fmtTimePtr,
	"count":     func(n int64) string { return numtext.Group(float64(n), 0) },
	"plain":     plain,
	"parts":     partsHTML,
	"hasPrefix": strings.HasPrefix,
	"inc":       func(n int) int { return n + 1 },
}

// Register adds the pages to r. The uplift page needs the report permission (every
// role that may read reports: viewer, analyst, admin); the pages that look inside models,
// experiments and decisions need the inspect permission (analyst, admin).
func (p *Pages) Register(r fiber.Router, guard Guard) {
	r.Get("/assets/:name", p.asset)
	r.Get("/login", p.loginForm)
	r.Post("/login", p.login)
	r.Post("/logout", p.logout)
	r.Get("/", p.page(guard, access.PermReport, p.uplift))
	r.Get("/experiments/:id", p.page(guard, access.PermInspect, p.experiment))
	r.Get("/models", p.page(guard, access.PermInspect, p.models))
	r.Get("/models/:id", p.page(guard, access.PermInspect, p.model))
	r.Get("/decisions", p.page(guard, access.PermInspect, p.decisions))
	r.Get("/catalog", p.page(guard, access.PermInspect, p.catalog))
	r.Get("/evaluations", p.page(guard, access.PermInspect, p.evaluations))
	r.Post("/evaluations", p.form(guard, access.PermInspect, p.startEvaluation))
	r.Get("/evaluations/:id", p.page(guard, access.PermInspect, p.evaluation))
	r.Post("/evaluations/:id/cancel", p.form(guard, access.PermInspect, p.cancelEvaluation))
	r.Get("/cluster", p.page(guard, access.PermInspect, p.cluster))
}

// view is what a page handler produces: a template, its title, and its data.
type view struct {
	template string
	title    string
	nav      string // the active navigation entry
	data     any
	refresh  int // seconds after which the page reloads itself (a running job); 0: never
}

// page wraps a page handler: people without a session go to the sign-in page, a role
// without the permission gets an HTML 403 page, and errors become HTML error pages.
// The API's guard still checks the permission, so the rule has one source.
func (p *Pages) page(guard Guard, perm access.Permission, h func(c *fiber.Ctx) (view, error)) fiber.Handler {
	guarded := guard(perm, func(c *fiber.Ctx) error {
		v, err := h(c)
		if err != nil {
			return p.renderError(c, err)
		}
		return p.render(c, fiber.StatusOK, v.template, page{Title: v.title, Nav: v.nav, Data: v.data, Refresh: v.refresh})
	})
	return p.signedIn(perm, guarded)
}

// form wraps a form's POST handler as page does a page, and checks the form's CSRF token
// first. The handler answers with a redirect or a page of its own.
func (p *Pages) form(guard Guard, perm access.Permission, h fiber.Handler) fiber.Handler {
	guarded := guard(perm, func(c *fiber.Ctx) error {
		if err := p.sess.CheckCSRF(c); err != nil {
			return p.renderError(c, err)
		}
		return h(c)
	})
	return p.signedIn(perm, guarded)
}

// signedIn sends people without a session to the sign-in page and answers a role without
// the permission with an HTML 403 page; everyone else goes on to h.
func (p *Pages) signedIn(perm access.Permission, h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		role, ok := p.sess.Role(c)
		if !ok {
			return c.Redirect("/login", fiber.StatusSeeOther)
		}
		if !role.Allows(perm) {
			return p.render(c, fiber.StatusForbidden, "error.html", page{Title: "Not available for your role", Data: errorView{
				Status:  fiber.StatusForbidden,
				Heading: "This page is for analysts",
				Message: fmt.Sprintf("You are signed in as %s. This page shows the inside of models, experiments and decisions; it needs an analyst or admin key. The uplift page shows the results.", role),
			}})
		}
		return h(c)
	}
}

// page is the data every template gets.
type page struct {
	Title   string
	Nav     string
	Role    access.Role
	Inspect bool // the role may see the analyst pages
	Cluster bool // the node is a replica of a cluster: the navigation shows the Cluster page
	CSRF    string
	Error   string
	Assets  string // version query for asset URLs
	Refresh int    // seconds before the page reloads itself; 0: never
	Data    any
}

type errorView struct {
	Status  int
	Heading string
	Message string
}

// renderError maps an error to an HTML error page: the one place that does so for pages.
func (p *Pages) renderError(c *fiber.Ctx, err error) error {
	ev := errorView{Status: fiber.StatusInternalServerError, Heading: "Something went wrong", Message: "The page could not be shown. The operator's log has the details."}
	var ee *engine.Error
	switch {
	case errors.Is(err, engine.ErrNotFound):
		ev = errorView{Status: fiber.StatusNotFound, Heading: "Not found", Message: err.Error()}
	case errors.Is(err, engine.ErrInvalid), errors.Is(err, engine.ErrUnprocessable):
		ev = errorView{Status: fiber.StatusBadRequest, Heading: "Bad request", Message: err.Error()}
	case errors.Is(err, engine.ErrUnavailable):
		ev = errorView{Status: fiber.StatusServiceUnavailable, Heading: "Unavailable", Message: "The service is starting or shutting down; try again in a moment."}
	case errors.As(err, &ee):
		ev = errorView{Status: fiber.StatusBadRequest, Heading: "Bad request", Message: ee.Message}
	default:
		p.log.Error("dashboard page failed", "path", c.Path(), "err", err)
	}
	return p.render(c, ev.Status, "error.html", page{Title: ev.Heading, Data: ev})
}

func (p *Pages) render(c *fiber.Ctx, status int, name string, pg page) error {
	if role, ok := p.sess.Role(c); ok {
		pg.Role = role
		pg.Inspect = role.Allows(access.PermInspect)
		pg.CSRF = p.sess.CSRFToken(c)
	}
	pg.Assets = p.version
	pg.Cluster = p.opts.Cluster != nil
	buf := p.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer p.bufs.Put(buf)
	if err := p.tmpl.ExecuteTemplate(buf, name, pg); err != nil {
		p.log.Error("render dashboard template", "template", name, "err", err)
		status = fiber.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error</title><p>The page could not be shown. The operator's log has the details.</p>")
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	c.Set(fiber.HeaderCacheControl, "no-store")
	// fiber keeps the body until the response is written: copy it out of the pooled buffer.
	return c.Send(bytes.Clone(buf.Bytes()))
}

// asset serves an embedded static file. Assets are public: they hold no data.
func (p *Pages) asset(c *fiber.Ctx) error {
	a, ok := p.assets[c.Params("name")]
	if !ok {
		return fiber.NewError(fiber.StatusNotFound, c.Method()+" "+c.Path())
	}
	c.Set(fiber.HeaderContentType, a.typ)
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	c.Set("X-Content-Type-Options", "nosniff")
	return c.Send(a.body)
}

func (p *Pages) loginForm(c *fiber.Ctx) error {
	if _, ok := p.sess.Role(c); ok {
		return c.Redirect("/", fiber.StatusSeeOther)
	}
	return p.render(c, fiber.StatusOK, "login.html", page{Title: "Sign in"})
}

func (p *Pages) login(c *fiber.Ctx) error {
	key := strings.TrimSpace(c.FormValue("key"))
	_, err := p.sess.SignIn(c, key)
	var refused *engine.Error
	switch {
	case errors.Is(err, engine.ErrRateLimited):
		return p.render(c, fiber.StatusTooManyRequests, "login.html", page{Title: "Sign in", Error: "Too many failed sign-ins from your address. Wait a minute, then try again."})
	case errors.As(err, &refused):
		return p.render(c, fiber.StatusUnauthorized, "login.html", page{Title: "Sign in", Error: "That key is not valid. Keys start with nbk_; ask an admin for one."})
	case err != nil:
		return p.renderError(c, err) // the session could not be stored
	}
	return c.Redirect("/", fiber.StatusSeeOther)
}

func (p *Pages) logout(c *fiber.Ctx) error {
	if err := p.sess.CheckCSRF(c); err != nil {
		return err
	}
	if err := p.sess.SignOut(c); err != nil {
		return p.renderError(c, err)
	}
	return c.Redirect("/login", fiber.StatusSeeOther)
}
