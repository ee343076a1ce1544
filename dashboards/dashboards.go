package dashboards

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/engine"
)

//go:embed templates/*.html
var templateFS embed.FS

// Sessions is what the pages need from authentication: signing in and out, the current
// principal's role, and CSRF tokens for forms.
type Sessions interface {
	SignIn(c *fiber.Ctx, key string) (role access.Role, err error)
	SignOut(c *fiber.Ctx)
	Role(c *fiber.Ctx) (access.Role, bool)
	CSRFToken(c *fiber.Ctx) string
	CheckCSRF(c *fiber.Ctx) error
}

// Guard wraps a handler with a permission check.
type Guard func(access.Permission, fiber.Handler) fiber.Handler

// Pages serves the dashboards.
type Pages struct {
	eng  *engine.Engine
	sess Sessions
	log  *slog.Logger
	tmpl *template.Template
}

// New parses the embedded templates.
func New(eng *engine.Engine, sess Sessions, log *slog.Logger) (*Pages, error) {
	t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse dashboard templates: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pages{eng: eng, sess: sess, log: log, tmpl: t}, nil
}

var funcs = template.FuncMap{
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
}

// Register adds the pages to r. Reading pages needs the report permission.
func (p *Pages) Register(r fiber.Router, guard Guard) {
	r.Get("/login", p.loginForm)
	r.Post("/login", p.login)
	r.Post("/logout", p.logout)
	r.Get("/", p.signedIn(guard(access.PermReport, p.home)))
}

// signedIn sends people without a session to the sign-in page instead of a JSON 401.
func (p *Pages) signedIn(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if _, ok := p.sess.Role(c); !ok {
			return c.Redirect("/login", fiber.StatusSeeOther)
		}
		return h(c)
	}
}

// page is the data every template gets.
type page struct {
	Title string
	Role  access.Role
	CSRF  string
	Error string
	Data  any
}

func (p *Pages) render(c *fiber.Ctx, status int, name string, pg page) error {
	if role, ok := p.sess.Role(c); ok {
		pg.Role = role
		pg.CSRF = p.sess.CSRFToken(c)
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	return p.tmpl.ExecuteTemplate(io.Writer(c), name, pg)
}

func (p *Pages) loginForm(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusOK, "login.html", page{Title: "Sign in"})
}

func (p *Pages) login(c *fiber.Ctx) error {
	key := strings.TrimSpace(c.FormValue("key"))
	if _, err := p.sess.SignIn(c, key); err != nil {
		return p.render(c, fiber.StatusUnauthorized, "login.html", page{Title: "Sign in", Error: "That key is not valid. Keys start with nbk_; ask an admin for one."})
	}
	return c.Redirect("/", fiber.StatusSeeOther)
}

func (p *Pages) logout(c *fiber.Ctx) error {
	if err := p.sess.CheckCSRF(c); err != nil {
		return err
	}
	p.sess.SignOut(c)
	return c.Redirect("/login", fiber.StatusSeeOther)
}

func (p *Pages) home(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusOK, "home.html", page{Title: "nextbest", Data: map[string]any{"Actions": len(p.eng.Actions())}})
}
