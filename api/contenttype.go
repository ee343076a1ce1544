package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// errNotJSON becomes 415 unsupported_media_type.
var errNotJSON = fiber.NewError(fiber.StatusUnsupportedMediaType, "the body must be JSON: send Content-Type: application/json (curl: --json, or -H 'Content-Type: application/json' with -d)")

// requireJSON wraps a JSON API handler so that it refuses a request that declares a body
// of another type than JSON: 415. It accepts application/json, with or without a charset
// of UTF-8 (the only encoding of JSON, RFC 8259), and a request without a Content-Type, as
// programs send that say nothing about their JSON (or have no body). Form and text types,
// which are what a web page can send to another origin without asking (a CORS "simple"
// request), are refused; so is curl's -d without a Content-Type header, which sends
// application/x-www-form-urlencoded. Reads (GET, HEAD) carry no body and are not checked.
//
// It wraps each handler rather than being a middleware of the /v1 group: a group
// middleware costs fiber another walk of the routes on every request (about 0.3 us),
// a wrapper one call.
func requireJSON(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
			return h(c)
		}
		if ct := c.Get(fiber.HeaderContentType); ct != "" && !isJSON(ct) {
			return errNotJSON
		}
		return h(c)
	}
}

// isJSON reports whether a Content-Type value is application/json, with a charset, if
// any, of UTF-8. It allocates nothing: it runs on every decide.
func isJSON(ct string) bool {
	typ, params, _ := strings.Cut(ct, ";")
	if !strings.EqualFold(strings.TrimSpace(typ), "application/json") {
		return false
	}
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		name, value, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "charset") {
			continue // application/json defines no parameter; other ones change nothing
		}
		value = strings.Trim(strings.TrimSpace(value), `"`)
		if !strings.EqualFold(value, "utf-8") && !strings.EqualFold(value, "utf8") {
			return false
		}
	}
	return true
}
