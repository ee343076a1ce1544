package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"gopkg.in/yaml.v3"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/dashboards"
)

// The API reference against the router and the source. cmd/nextbest's
// TestOpenAPIConformance holds it to a real server's answers.

// documentedRoutes returns "METHOD /path" of every operation in the document.
func documentedRoutes(t *testing.T) []string {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(openapiDoc, &root); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pairs(get(root.Content[0], "paths")) {
		for _, m := range httpMethods {
			if get(p.value, m) != nil {
				out = append(out, strings.ToUpper(m)+" "+p.key)
			}
		}
	}
	sort.Strings(out)
	return out
}

// routerRoutes returns "METHOD /path" of every route of the app, in the document's
// spelling: a path parameter :id is {id}, and the profiler's wildcard route
// /v1/admin/debug/pprof* is /v1/admin/debug/pprof/{profile}. HEAD, which fiber adds to
// every GET, and middleware are left out.
func routerRoutes(app *fiber.App) []string {
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	seen := map[string]bool{}
	var out []string
	for _, r := range app.GetRoutes(true) {
		if r.Method == fiber.MethodHead {
			continue
		}
		p := param.ReplaceAllString(r.Path, "{$1}")
		if p == "/v1/admin/debug/pprof*" {
			p = "/v1/admin/debug/pprof/{profile}"
		}
		k := r.Method + " " + p
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIRoutes checks that the document and the router name the same routes: every
// route the API registers is documented, and every documented operation is a route. The
// dashboards' HTML pages (registered through Options.Extra) are left out of the document:
// the test checks that they are all that a server with the dashboards adds, and that none
// of them is under /v1 or /metrics.
func TestOpenAPIRoutes(t *testing.T) {
	s := newTestServer(t, false, func(o *Options) { o.Metrics = NewMetrics() })
	doc, router := documentedRoutes(t), routerRoutes(s.srv.App())
	for _, r := range router {
		if !slices.Contains(doc, r) {
			t.Errorf("route %s is not in api/openapi.yaml", r)
		}
	}
	for _, d := range doc {
		if !slices.Contains(router, d) {
			t.Errorf("api/openapi.yaml documents %s, which is no route", d)
		}
	}
	if len(router) < 40 {
		t.Fatalf("the router has %d routes; the API has more", len(router))
	}

	pages, err := dashboards.New(s.eng, nil, nil, dashboards.Options{})
	if err != nil {
		t.Fatal(err)
	}
	withPages := newTestServer(t, false, func(o *Options) {
		o.Metrics = NewMetrics()
		o.Extra = func(r fiber.Router, guard func(access.Permission, fiber.Handler) fiber.Handler) {
			pages.Register(r, guard)
		}
	})
	extra := 0
	for _, r := range routerRoutes(withPages.srv.App()) {
		if slices.Contains(router, r) {
			continue
		}
		extra++
		path := strings.SplitN(r, " ", 2)[1]
		if strings.HasPrefix(path, "/v1/") || path == "/metrics" || slices.Contains(doc, r) {
			t.Errorf("the dashboards register %s, a route of the API", r)
		}
	}
	if extra == 0 {
		t.Error("a server with the dashboards has no more routes than one without")
	}
}

// TestOpenAPIDocument checks the document: valid OpenAPI 3.1 by libopenapi-validator's
// meta-schema; every operation with an operationId, a declared tag, and, unless it needs
// no key, an x-permission that is a permission of access; every answer's example valid
// against its schema, the ones the conformance test does not send (x-not-run) included.
func TestOpenAPIDocument(t *testing.T) {
	d, err := libopenapi.NewDocument(openapiDoc)
	if err != nil {
		t.Fatal(err)
	}
	if d.GetVersion() != "3.1.0" {
		t.Errorf("OpenAPI version %q, want 3.1.0", d.GetVersion())
	}
	m, err := d.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	doc := &m.Model
	perms := []string{string(access.PermDecide), string(access.PermProfiles), string(access.PermConfigure), string(access.PermInspect),
		string(access.PermReport), string(access.PermMetrics), string(access.PermAdmin)}
	tags := map[string]bool{}
	for _, tg := range doc.Tags {
		tags[tg.Name] = true
	}
	sv := schema_validation.NewSchemaValidator()
	examples := 0
	validate := func(where string, r *v3.Response) {
		if r == nil || r.Content == nil {
			return
		}
		for mt, media := range r.Content.FromOldest() {
			if media.Schema == nil {
				t.Errorf("%s %s: no schema", where, mt)
				continue
			}
			schema := media.Schema.Schema()
			for name, ex := range media.Examples.FromOldest() {
				examples++
				var v any
				if err := ex.Value.Decode(&v); err != nil {
					t.Errorf("%s %s example %s: %v", where, mt, name, err)
					continue
				}
				if mt == "application/x-ndjson" {
					if _, ok := v.([]any); !ok {
						t.Errorf("%s %s example %s: JSON lines are shown as an array of the lines", where, mt, name)
					}
				}
				if ok, errs := sv.ValidateSchemaObject(schema, v); !ok {
					for _, e := range errs {
						t.Errorf("%s %s example %s: %v", where, mt, name, e)
					}
				}
			}
		}
	}
	for path, item := range doc.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			where := strings.ToUpper(method) + " " + path
			if op.OperationId == "" {
				t.Errorf("%s: no operationId", where)
			}
			if len(op.Tags) != 1 || !tags[op.Tags[0]] {
				t.Errorf("%s: tags %v, want one of the document's tags", where, op.Tags)
			}
			public := op.Security != nil && len(op.Security) == 0
			perm := op.Extensions.GetOrZero("x-permission")
			switch {
			case public && perm != nil:
				t.Errorf("%s: needs no key but names x-permission", where)
			case !public && (perm == nil || !slices.Contains(perms, perm.Value)):
				t.Errorf("%s: x-permission %v is not one of %v", where, perm, perms)
			case !public:
				for _, code := range []string{"401", "403", "429", "500"} {
					if op.Responses.Codes.GetOrZero(code) == nil {
						t.Errorf("%s: needs a key, but lists no %s", where, code)
					}
				}
			}
			if op.RequestBody != nil || (method != "get" && !public) {
				if op.Responses.Codes.GetOrZero("415") == nil && method != "get" {
					t.Errorf("%s: takes a body, but lists no 415", where)
				}
			}
			for code, r := range op.Responses.Codes.FromOldest() {
				validate(where+" "+code, r)
			}
		}
	}
	for name, r := range doc.Components.Responses.FromOldest() {
		validate("components.responses."+name, r)
	}
	if examples < 100 {
		t.Errorf("%d answer examples; the document holds more", examples)
	}
}

// TestOpenAPIErrorCodes checks that the document's list of error codes (the ErrorCode
// schema's enum) is the list of codes the source can send: every code in an error the
// engine or the HTTP layer makes is listed, and every listed code is made somewhere.
func TestOpenAPIErrorCodes(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal(openapiDoc, &root); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, n := range seq(get(get(get(get(root.Content[0], "components"), "schemas"), "ErrorCode"), "enum")) {
		listed = append(listed, n.Value)
	}
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`Code:\s*"([a-z_]+)"`),                      // &engine.Error{Code: ...}, ErrorDetail{Code: ...}
		regexp.MustCompile(`errorf\(\w+,\s*"([a-z_]+)"`),               // engine's errorf(kind, code, ...)
		regexp.MustCompile(`Invalid\("([a-z_]+)"`),                     // engine.Invalid(code, ...)
		regexp.MustCompile(`or\(code,\s*"([a-z_]+)"\)`),                // status: a kind's default code
		regexp.MustCompile(`return fe\.Code,\s*"([a-z_]+)"`),           // status: fiber's errors
		regexp.MustCompile(`"code":"([a-z_]+)"`),                       // a body written by hand (listener)
		regexp.MustCompile(`StatusInternalServerError,\s*"([a-z_]+)"`), // status: the fallback
	}
	found := map[string]string{}
	for _, dir := range []string{"../api", "../engine", "../store", "../access", "../dashboards"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range patterns {
				for _, m := range p.FindAllSubmatch(src, -1) {
					found[string(m[1])] = f
				}
			}
		}
	}
	delete(found, "stop") // errStop ends a stream early; it is never sent
	if len(found) < 40 {
		t.Fatalf("found %d error codes in the source; the patterns miss most", len(found))
	}
	for code, f := range found {
		if !slices.Contains(listed, code) {
			t.Errorf("error code %q (%s) is not in the ErrorCode enum of api/openapi.yaml", code, f)
		}
	}
	for _, code := range listed {
		if _, ok := found[code]; !ok {
			t.Errorf("api/openapi.yaml lists error code %q, which no source makes", code)
		}
	}
}

// TestOpenAPIServed checks that the document and its rendering are served without a key,
// and that the page is whole: every operation and schema, each operation's permission
// with its roles, and nothing fetched from elsewhere.
func TestOpenAPIServed(t *testing.T) {
	s := newTestServer(t, false, nil)
	fetch := func(path string) (int, string, string, http.Header) {
		req := httptest.NewRequest("GET", path, nil)
		resp, err := s.srv.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b), resp.Header
	}
	code, ct, body, _ := fetch("/v1/openapi.yaml")
	if code != 200 || ct != "application/yaml" || body != string(OpenAPI()) {
		t.Errorf("GET /v1/openapi.yaml: %d %q, %d bytes; want 200 application/yaml and the document", code, ct, len(body))
	}
	code, ct, page, h := fetch("/docs")
	if code != 200 || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET /docs: %d %q", code, ct)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("GET /docs: Content-Security-Policy %q lets the page load from elsewhere", csp)
	}
	for _, bad := range []string{"<script", "src=", `href="http`, "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q: it must need nothing from elsewhere", bad)
		}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(openapiDoc, &root); err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs(get(root.Content[0], "paths")) {
		for _, m := range httpMethods {
			if op := get(p.value, m); op != nil {
				id := str(get(op, "operationId"))
				if !strings.Contains(page, `id="`+id+`"`) {
					t.Errorf("the page has no section for %s %s", m, p.key)
				}
			}
		}
	}
	for _, sc := range pairs(get(get(root.Content[0], "components"), "schemas")) {
		if !strings.Contains(page, `id="schema-`+sc.key+`"`) {
			t.Errorf("the page has no section for schema %s", sc.key)
		}
	}
	// The decide operation's permission, with the roles that have it (access.Role.Allows).
	if !strings.Contains(page, "Permission <code>decide</code>: keys of role decide, admin.") {
		t.Error("the page does not say who may decide")
	}
	if !strings.Contains(page, "No key needed.") {
		t.Error("the page does not say which routes need no key")
	}
}
