package api

import (
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
)

// Under --insecure-local a request without a key acts as admin, and the server listens
// on loopback only. That keeps other machines out, not other web pages: a page that the
// user's browser opens can send requests to 127.0.0.1 too. localOnly refuses the two
// ways it could:
//   - DNS rebinding: evil.example first resolves to the attacker, then to 127.0.0.1, and
//     its page talks to the server as its own origin; the browser sends Host: evil.example.
//     So the Host must be a loopback name or address.
//   - Cross-origin requests, which a browser marks with an Origin header (every non-GET
//     request, and CORS reads). A page on another port of the same host is a different
//     origin too. So an Origin, if present, must be the server's own.
//
// The Host is the request's own header, never X-Forwarded-Host: a rebound page may set
// any header on a request to what it takes for its own origin.

var (
	errForeignHost   = &engine.Error{Kind: engine.ErrForbidden, Code: "foreign_host", Message: "--insecure-local answers only to a loopback Host (localhost, 127.0.0.1, [::1]); this request names another, as a DNS-rebinding page would"}
	errForeignOrigin = &engine.Error{Kind: engine.ErrForbidden, Code: "foreign_origin", Message: "--insecure-local answers only to its own origin; this request comes from another web page's origin"}
)

// localOnly refuses requests that name a Host other than a loopback name or address, or
// that come from another origin.
func localOnly(c *fiber.Ctx) error {
	host := string(c.Request().Header.Host())
	if !loopbackHost(host) {
		return errForeignHost
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" {
		scheme := "http://"
		if c.Context().IsTLS() {
			scheme = "https://"
		}
		rest, ok := cutPrefixFold(origin, scheme)
		if !ok || !sameHost(rest, host, scheme) {
			return errForeignOrigin
		}
	}
	return nil
}

// loopbackHost reports whether a Host header (a name or address, with or without a port)
// is a loopback one: localhost, a name under .localhost (which browsers resolve to
// loopback themselves, RFC 6761), or a loopback address.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return err == nil && a.Unmap().IsLoopback()
}

// sameHost reports whether two host[:port]s are the same, ignoring case and the
// scheme's default port.
func sameHost(a, b, scheme string) bool {
	def := ":80"
	if scheme == "https://" {
		def = ":443"
	}
	a, b = strings.TrimSuffix(strings.ToLower(a), def), strings.TrimSuffix(strings.ToLower(b), def)
	return a == b
}

// cutPrefixFold is strings.CutPrefix, ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}
