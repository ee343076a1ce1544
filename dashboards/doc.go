// Package dashboards serves nextbest's web pages: server-rendered HTML (html/template,
// embedded with go:embed), charts drawn as SVG by our own code, no JavaScript build step
// and nothing loaded from the internet. People sign in once with an API key; a session
// cookie (HttpOnly, SameSite=Strict, Secure over TLS) carries the sign-in, and every form
// carries a CSRF token.
package dashboards
