package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/internal/service"
)

// The browser-facing defences (issue 15, defect 6): the dashboard session cookie does not
// authorise the JSON API, JSON endpoints refuse bodies that are not JSON, signing out ends
// the session on the server, and --insecure-local refuses foreign hosts and origins.

var noRedirect = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// signInCookie signs in at /login with key, as the sign-in form does, and returns the
// session cookie the server set.
func signInCookie(t *testing.T, s *testServer, key string) *http.Cookie {
	t.Helper()
	resp, err := noRedirect.PostForm(s.base+"/login", url.Values{"key": {key}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("sign-in: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	return resp.Cookies()[0]
}

// send makes one request and returns its status and body.
func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestSessionCookieCannotCallTheAPI is the cross-site request a page on another port of
// the same host (same site, so SameSite=Strict lets the cookie through) can make from a
// signed-in admin's browser: a text/plain form post, which needs no CORS preflight. It
// must neither mint a key, nor change the catalog, nor run the outbound pass; and the
// cookie must not authorise the API even with a JSON content type (which a cross-origin
// page cannot send without a preflight, but the cookie is not an API credential).
func TestSessionCookieCannotCallTheAPI(t *testing.T) {
	s, adminKey := startSecure(t, nil)
	defer s.stop()
	admin := s.as(adminKey)
	cookie := signInCookie(t, s, adminKey)
	const evil = "http://127.0.0.1:1" // another port of the same host: same site, other origin

	attacks := []struct{ method, path, body string }{
		{"POST", "/v1/keys", `{"role": "admin", "name": "minted by a web page"}`},
		{"PUT", "/v1/actions/planted", `{"value": 1000, "channels": ["web"]}`},
		{"POST", "/v1/outbound/run", `{"channel": "email"}`},
		{"POST", "/V1/KEYS", `{"role": "admin", "name": "minted through another spelling"}`}, // routing is case-insensitive
	}
	for _, a := range attacks {
		for _, ctype := range []string{"text/plain", "application/x-www-form-urlencoded", "", "application/json"} {
			req, _ := http.NewRequest(a.method, s.base+a.path, strings.NewReader(a.body))
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			req.Header.Set("Origin", evil)
			req.Header.Set("Sec-Fetch-Site", "same-site")
			req.AddCookie(cookie)
			code, body := send(t, req)
			if code < 400 || code >= 500 || !strings.Contains(body, `"error"`) {
				t.Errorf("%s %s (%q) with the admin's session cookie: %d %s; want a 4xx JSON error", a.method, a.path, ctype, code, body)
			}
		}
	}
	// Nothing happened.
	var keys struct {
		Keys []map[string]any `json:"keys"`
	}
	if code := admin.call("GET", "/v1/keys", nil, &keys); code != 200 || len(keys.Keys) != 1 {
		t.Errorf("after the attacks: %d keys (status %d), want only the first admin key", len(keys.Keys), code)
	}
	if code := admin.call("GET", "/v1/actions/planted", nil, nil); code != 404 {
		t.Errorf("after the attacks: GET /v1/actions/planted is %d, want 404", code)
	}
	// The same cookie still opens the dashboards.
	req, _ := http.NewRequest("GET", s.base+"/", nil)
	req.AddCookie(cookie)
	if code, page := send(t, req); code != 200 || !strings.Contains(page, "Signed in as <strong>admin</strong>") {
		t.Errorf("dashboard with the session: %d", code)
	}
}

// TestJSONContentType checks which content types a JSON endpoint takes: JSON (with or
// without a UTF-8 charset) and none at all; anything else is 415 with the JSON error.
func TestJSONContentType(t *testing.T) {
	s, adminKey := startSecure(t, nil)
	defer s.stop()
	if code := s.as(adminKey).call("PUT", "/v1/actions/offer", `{"value": 1, "channels": ["web"]}`, nil); code != 200 {
		t.Fatalf("setup: %d", code)
	}
	cases := []struct {
		ctype string
		want  int
	}{
		{"application/json", 200},
		{"application/json; charset=utf-8", 200},
		{"Application/JSON;charset=\"UTF-8\"", 200},
		{"", 200}, // a body without a type: programs that send JSON and say nothing
		{"text/plain", 415},
		{"text/plain;charset=UTF-8", 415}, // what fetch() sends for a string body
		{"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415},
		{"application/json; charset=iso-8859-1", 415}, // JSON is UTF-8 (RFC 8259)
		{"application/jsonp", 415},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("POST", s.base+"/v1/decide", strings.NewReader(`{"customer_id": "c1", "channel": "web"}`))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		code, body := send(t, req)
		if code != c.want {
			t.Errorf("decide with Content-Type %q: %d %s, want %d", c.ctype, code, body, c.want)
		}
		if c.want == 415 && !strings.Contains(body, `"code":"unsupported_media_type"`) {
			t.Errorf("decide with Content-Type %q: body %s, want the JSON error unsupported_media_type", c.ctype, body)
		}
	}
}

// TestSignOutEndsTheSession checks that signing out ends the session on the server: the
// old cookie, replayed, no longer opens a page, also after a restart; a session that did
// not sign out survives the restart.
func TestSignOutEndsTheSession(t *testing.T) {
	s, adminKey := startSecure(t, nil)
	viewerKey := createKey(t, s.as(adminKey), "viewer")
	out := signInCookie(t, s, viewerKey)
	stay := signInCookie(t, s, viewerKey)
	get := func(s *testServer, ck *http.Cookie) (int, string) {
		req, _ := http.NewRequest("GET", s.base+"/", nil)
		req.AddCookie(ck)
		return send(t, req)
	}
	code, page := get(s, out)
	if code != 200 {
		t.Fatalf("page with a fresh session: %d", code)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		t.Fatal("the page has no CSRF token in its sign-out form")
	}
	req, _ := http.NewRequest("POST", s.base+"/logout", strings.NewReader(url.Values{"csrf": {csrf[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(out)
	if code, _ := send(t, req); code != http.StatusSeeOther {
		t.Fatalf("sign-out: %d, want 303", code)
	}
	// The browser dropped the cookie; a copy of it (stolen, or kept by a shared computer)
	// must be worth nothing now.
	if code, _ := get(s, out); code != http.StatusSeeOther {
		t.Fatalf("the signed-out cookie, replayed: %d, want 303 to the sign-in page", code)
	}
	if code, _ := get(s, stay); code != 200 {
		t.Fatalf("another session of the same key after the sign-out: %d, want 200", code)
	}

	s.stop()
	s = startServer(t, s.dataDir, func(o *service.Options) { o.InsecureLocal = false })
	defer s.stop()
	if code, _ := get(s, out); code != http.StatusSeeOther {
		t.Fatalf("the signed-out cookie after a restart: %d, want 303 to the sign-in page", code)
	}
	if code, _ := get(s, stay); code != 200 {
		t.Fatalf("a live session after a restart: %d, want 200", code)
	}
}

// TestInsecureLocalRefusesForeignHosts is DNS rebinding: a page on evil.example whose name
// now resolves to 127.0.0.1 talks to a keyless --insecure-local server as its own origin,
// so the browser sends Host: evil.example. Keyless requests act as admin there, so the
// server must answer only to loopback names and to its own origin.
func TestInsecureLocalRefusesForeignHosts(t *testing.T) {
	s := startServer(t, t.TempDir(), nil) // insecure-local
	defer s.stop()
	port := s.base[strings.LastIndexByte(s.base, ':')+1:]
	cases := []struct {
		name, host, origin, fetchSite string
		want                          int
	}{
		{"loopback address", "", "", "", 200},
		{"localhost", "localhost:" + port, "", "", 200},
		{"same origin", "", s.base, "same-origin", 200},
		{"rebound name", "evil.example:" + port, "", "", 403},
		{"rebound name, its own origin", "evil.example:" + port, "http://evil.example:" + port, "same-origin", 403},
		{"no host", "-", "", "", 403},
		{"foreign origin", "", "http://evil.example", "cross-site", 403},
		{"another local port", "", "http://127.0.0.1:1", "same-site", 403},
		{"opaque origin", "", "null", "", 403},
	}
	for _, c := range cases {
		for _, path := range []string{"/v1/keys", "/"} {
			var code int
			var body string
			if c.host == "-" {
				code, body = sendRaw(t, s.base, "GET "+path+" HTTP/1.0\r\n\r\n")
			} else {
				req, _ := http.NewRequest("GET", s.base+path, nil)
				if c.host != "" {
					req.Host = c.host
				}
				if c.origin != "" {
					req.Header.Set("Origin", c.origin)
				}
				if c.fetchSite != "" {
					req.Header.Set("Sec-Fetch-Site", c.fetchSite)
				}
				code, body = send(t, req)
			}
			if code != c.want || (c.want == 403 && !strings.Contains(body, `"error"`)) {
				t.Errorf("%s: GET %s: %d %.120s, want %d", c.name, path, code, body, c.want)
			}
		}
	}
}

// sendRaw writes a raw HTTP/1.0 request to the server at base and returns the status and
// body of its answer.
func sendRaw(t *testing.T, base, request string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSignInFailuresLimited checks the sign-in form's share of the limit on failed
// authentications: past the burst, bad keys get the sign-in page with 429 and
// Retry-After, and a valid key from the same address still signs in.
func TestSignInFailuresLimited(t *testing.T) {
	s, adminKey := startSecure(t, func(o *service.Options) { o.HTTP.AuthFailureBurst, o.HTTP.AuthFailuresPerMinute = 5, 1 })
	defer s.stop()
	for i := range 8 {
		resp, err := noRedirect.PostForm(s.base+"/login", url.Values{"key": {"nbk_00000000_" + strings.Repeat("A", 43)}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := http.StatusUnauthorized
		if i >= 5 {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want || !strings.Contains(string(body), "<form") || len(resp.Cookies()) != 0 {
			t.Fatalf("bad sign-in %d: %d, cookies %v; want %d with the sign-in form again", i, resp.StatusCode, resp.Cookies(), want)
		}
		if want == http.StatusTooManyRequests && (resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "Too many failed sign-ins")) {
			t.Fatalf("bad sign-in %d: Retry-After %q, page %s", i, resp.Header.Get("Retry-After"), body)
		}
	}
	signInCookie(t, s, adminKey)
	// The API's bad keys share the address's bucket.
	var er wire.ErrorBody
	if code := s.as("nbk_00000000_"+strings.Repeat("A", 43)).call("GET", "/v1/actions", nil, &er); code != 429 || er.Error.Code != "too_many_failures" {
		t.Fatalf("a bad API key from the limited address: %d %+v, want 429 too_many_failures", code, er)
	}
}
