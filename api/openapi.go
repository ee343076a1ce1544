package api

import (
	"bytes"
	_ "embed" // the API reference, openapi.yaml
	"sync"

	"github.com/gofiber/fiber/v2"
)

// openapiDoc is the API reference (OpenAPI returns a copy).
//
//go:embed openapi.yaml
var openapiDoc []byte

// OpenAPI returns the API reference: an OpenAPI 3.1 document of every route the server
// answers, with roles, parameters, bodies, error codes and examples, in YAML. The server
// serves it at GET /v1/openapi.yaml and renders it at /docs; openapi_test.go holds it to
// the router, and cmd/nextbest's conformance test to the answers of a real server.
func OpenAPI() []byte { return bytes.Clone(openapiDoc) }

// openapiYAML serves the document. It needs no key: it describes this version's API, the
// same for every server, and holds nothing of this one's.
func (s *Server) openapiYAML(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/yaml")
	return c.Send(openapiDoc)
}

// docsPage renders the document once, on first use: it is embedded, so every request
// would render the same page.
var docsPage = sync.OnceValues(func() ([]byte, error) { return renderDocs(openapiDoc) })

// docs serves the API reference as one self-contained HTML page: no script, no style or
// font from elsewhere (the Content-Security-Policy says so to the browser too). It needs
// no key, as the document does not.
func (s *Server) docs(c *fiber.Ctx) error {
	page, err := docsPage()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	return c.Send(page)
}
