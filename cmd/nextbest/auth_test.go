package main

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/internal/service"
)

var adminKeyLine = regexp.MustCompile(`admin key: (nbk_[0-9a-f]{8}_[A-Za-z0-9_-]{43})`)

// startSecure starts a server with authentication on and returns it with its first admin key.
func startSecure(t *testing.T, mutate func(*service.Options)) (*testServer, string) {
	t.Helper()
	s := startServer(t, t.TempDir(), func(o *service.Options) {
		o.InsecureLocal = false
		if mutate != nil {
			mutate(o)
		}
	})
	m := adminKeyLine.FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("serve did not print an admin key on first start; it printed:\n%s", s.out.String())
	}
	return s, m[1]
}

func (s *testServer) as(key string) *testServer {
	c := *s
	c.key = key
	return &c
}

func createKey(t *testing.T, admin *testServer, role string) string {
	t.Helper()
	var out struct {
		Key  string `json:"key"`
		Role string `json:"role"`
		Hash []byte `json:"hash"`
	}
	if code := admin.call("POST", "/v1/keys", map[string]any{"role": role, "name": "test " + role}, &out); code != 201 || out.Role != role || out.Key == "" {
		t.Fatalf("create %s key: status %d, %+v", role, code, out)
	}
	if len(out.Hash) != 0 {
		t.Fatal("the created key's response carries its hash")
	}
	return out.Key
}

// TestRolesAgainstEveryEndpoint checks every role against every endpoint: no key and a bad
// key get 401; a role without the permission gets 403; a role with it gets past the guard.
func TestRolesAgainstEveryEndpoint(t *testing.T) {
	// One bad key per endpoint, all from 127.0.0.1: more than the default burst of failed
	// authentications per address, which would turn the later 401s into 429s
	// (session_test.go tests that limit).
	s, adminKey := startSecure(t, func(o *service.Options) { o.HTTP.AuthFailureBurst = 1000 })
	defer s.stop()
	admin := s.as(adminKey)
	keys := map[string]string{"admin": adminKey}
	for _, r := range []string{"decide", "analyst", "viewer"} {
		keys[r] = createKey(t, admin, r)
	}
	if code := admin.call("PUT", "/v1/actions/offer", `{"value": 1}`, nil); code != 200 {
		t.Fatalf("setup: %d", code)
	}

	// Who may call what: the permission table of docs/security.md, typed out again here.
	const (
		dec = "decide"
		ana = "analyst"
		vie = "viewer"
		adm = "admin"
	)
	endpoints := []struct {
		method, path, body string
		allowed            []string
	}{
		{"POST", "/v1/decide", `{"customer_id": "c1", "channel": "web"}`, []string{dec, adm}},
		{"POST", "/v1/feedback", `{"decision_id": "0000000000000000ab", "action_id": "offer", "outcome": "accepted"}`, []string{dec, adm}},
		{"PUT", "/v1/customers/c1", `{"attributes": {"plan": "small"}}`, []string{dec, ana, adm}},
		{"GET", "/v1/customers/c1", ``, []string{dec, ana, adm}},
		{"GET", "/v1/actions", ``, []string{ana, adm}},
		{"GET", "/v1/actions/offer", ``, []string{ana, adm}},
		{"PUT", "/v1/actions/other", `{"value": 2}`, []string{ana, adm}},
		{"DELETE", "/v1/actions/other", ``, []string{ana, adm}},
		{"GET", "/v1/models/offer", ``, []string{ana, adm}},
		{"GET", "/v1/models/offer/versions", ``, []string{ana, adm}},
		{"POST", "/v1/models/offer/rollback", `{"version": 99}`, []string{ana, adm}},
		{"GET", "/v1/decisions?since=1h", ``, []string{ana, adm}},
		{"GET", "/v1/decisions/0000000000000000ab", ``, []string{ana, adm}},
		{"GET", "/v1/schema", ``, []string{ana, adm}},
		{"PUT", "/v1/schema", `{"fields": [{"name": "plan", "type": "categorical", "vocabulary": ["a"]}]}`, []string{ana, adm}},
		{"POST", "/v1/outcomes", `{"customer_id": "c1", "type": "churn"}`, []string{dec, adm}},
		{"GET", "/v1/outbound?channel=email", ``, []string{dec, adm}},
		{"GET", "/v1/experiments", ``, []string{ana, adm}},
		{"GET", "/v1/experiments/x", ``, []string{ana, adm}},
		{"PUT", "/v1/experiments/x", `{"arms": [{"name": "a", "policy": "nba", "weight": 1}], "control": "a"}`, []string{ana, adm}},
		{"GET", "/v1/experiments/x/assignments/c1", ``, []string{ana, adm}},
		{"GET", "/v1/experiments/x/report", ``, []string{vie, ana, adm}},
		{"GET", "/v1/campaigns", ``, []string{ana, adm}},
		{"GET", "/v1/campaigns/k", ``, []string{ana, adm}},
		{"PUT", "/v1/campaigns/k", `{"action": "offer", "channel": "email", "segment": "true"}`, []string{ana, adm}},
		{"POST", "/v1/campaigns/k/run", ``, []string{ana, adm}},
		{"POST", "/v1/outbound/run", `{"channel": "email"}`, []string{ana, adm}},
		{"GET", "/v1/power?kind=binary&baseline=0.1&mde=0.02", ``, []string{vie, ana, adm}},
		{"POST", "/v1/evaluations", `{"policies": [{"type": "logged"}]}`, []string{ana, adm}},
		{"GET", "/v1/evaluations", ``, []string{ana, adm}},
		{"GET", "/v1/evaluations/ev-x", ``, []string{ana, adm}},
		{"DELETE", "/v1/evaluations/ev-x", ``, []string{ana, adm}},
		{"GET", "/v1/clock", ``, []string{ana, adm}},
		{"POST", "/v1/clock", `{"advance": "1h"}`, []string{adm}},
		{"GET", "/v1/cluster", ``, []string{ana, adm}},
		{"GET", "/v1/keys", ``, []string{adm}},
		{"POST", "/v1/keys", `{"role": "viewer"}`, []string{adm}},
		{"DELETE", "/v1/keys/00000000", ``, []string{adm}},
		{"GET", "/v1/admin/backup", ``, []string{adm}},
		{"GET", "/v1/admin/debug/pprof/cmdline", ``, []string{adm}},
		{"GET", "/metrics", ``, []string{ana, adm}},
		{"GET", "/", ``, []string{vie, ana, adm}},
	}
	principals := []string{"none", "bad", dec, ana, vie, adm}
	for _, e := range endpoints {
		for _, who := range principals {
			t.Run(e.method+" "+e.path+" as "+who, func(t *testing.T) {
				req, _ := http.NewRequest(e.method, s.base+e.path, strings.NewReader(e.body))
				req.Header.Set("Content-Type", "application/json")
				switch who {
				case "none":
				case "bad":
					req.Header.Set("Authorization", "Bearer nbk_00000000_"+strings.Repeat("A", 43))
				default:
					req.Header.Set("Authorization", "Bearer "+keys[who])
				}
				noRedirect := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := noRedirect.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got := resp.StatusCode
				allowed := false
				for _, a := range e.allowed {
					allowed = allowed || a == who
				}
				switch {
				case who == "none" && e.path == "/":
					if got != http.StatusSeeOther {
						t.Fatalf("status %d, want 303 to the sign-in page", got)
					}
				case who == "none" || who == "bad":
					if got != http.StatusUnauthorized || !strings.Contains(string(body), `"code"`) {
						t.Fatalf("status %d (%s), want 401 with a JSON error", got, body)
					}
				case allowed:
					if got == http.StatusUnauthorized || got == http.StatusForbidden {
						t.Fatalf("status %d (%s) for an allowed role", got, body)
					}
				case !strings.HasPrefix(e.path, "/v1/") && e.path != "/metrics":
					// A page: 403 with an HTML page that says so.
					if got != http.StatusForbidden || !strings.Contains(strings.ToLower(string(body)), "<html") {
						t.Fatalf("status %d, want a 403 page", got)
					}
				default:
					if got != http.StatusForbidden || !strings.Contains(string(body), `"forbidden"`) {
						t.Fatalf("status %d (%s), want 403 forbidden", got, body)
					}
				}
			})
		}
	}
	for _, public := range []string{"/healthz", "/readyz"} {
		if code := s.call("GET", public, nil, nil); code != 200 {
			t.Errorf("GET %s without a key: %d, want 200", public, code)
		}
	}
}

func TestKeysListRevokeAndRateLimit(t *testing.T) {
	s, adminKey := startSecure(t, func(o *service.Options) { o.RateLimits = map[string]int{"decide": 5} })
	defer s.stop()
	admin := s.as(adminKey)
	decideKey := createKey(t, admin, "decide")
	dec := s.as(decideKey)

	var list struct {
		Keys []map[string]any `json:"keys"`
	}
	admin.call("GET", "/v1/keys", nil, &list)
	if len(list.Keys) != 2 {
		t.Fatalf("%d keys listed, want 2", len(list.Keys))
	}
	for _, k := range list.Keys {
		if _, has := k["hash"]; has {
			t.Fatalf("the key list exposes a hash: %v", k)
		}
		if _, has := k["key"]; has {
			t.Fatalf("the key list exposes a secret: %v", k)
		}
	}

	// Rate limit: 5 requests per second per decide key; a burst of 20 is cut with 429.
	limited := 0
	for range 20 {
		req, _ := http.NewRequest("POST", s.base+"/v1/decide", strings.NewReader(`{"customer_id":"c1","channel":"web"}`))
		req.Header.Set("Authorization", "Bearer "+decideKey)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "rate_limited") {
				t.Fatalf("429 without Retry-After or JSON error: %v %s", resp.Header, body)
			}
		}
	}
	if limited < 10 {
		t.Fatalf("%d of 20 burst requests limited at 5/s, want at least 10", limited)
	}

	id := decideKey[4:12]
	var revoked map[string]any
	if code := admin.call("DELETE", "/v1/keys/"+id, nil, &revoked); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	time.Sleep(1100 * time.Millisecond) // let the rate-limit window pass
	var er wire.ErrorBody
	if code := dec.call("POST", "/v1/decide", `{"customer_id":"c1","channel":"web"}`, &er); code != 401 || er.Error.Code != "invalid_key" {
		t.Fatalf("revoked key: %d %+v, want 401 invalid_key", code, er)
	}
}

func TestDashboardSession(t *testing.T) {
	s, adminKey := startSecure(t, nil)
	defer s.stop()
	viewerKey := createKey(t, s.as(adminKey), "viewer")
	noRedirect := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := noRedirect.PostForm(s.base+"/login", url.Values{"key": {"nbk_nope"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("bad key sign-in: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}

	resp, err = noRedirect.PostForm(s.base+"/login", url.Values{"key": {viewerKey}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("sign-in: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	ck := resp.Cookies()[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP", ck)
	}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", s.base+path, nil)
		req.AddCookie(ck)
		r, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		return r.StatusCode, string(b)
	}
	code, page := get("/")
	if code != 200 || !strings.Contains(page, "Signed in as <strong>viewer</strong>") {
		t.Fatalf("home with session: %d %s", code, page)
	}
	// The session opens the dashboards only: the JSON API takes API keys (session_test.go).
	if code, body := get("/v1/experiments/x/report"); code != 401 || !strings.Contains(body, "session cookie is not accepted") {
		t.Fatalf("viewer session on a report its role may read: %d %s, want 401", code, body)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		t.Fatal("the page has no CSRF token in its sign-out form")
	}
	post := func(form url.Values) *http.Response {
		req, _ := http.NewRequest("POST", s.base+"/logout", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(ck)
		r, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}
	if r := post(url.Values{"csrf": {"forged"}}); r.StatusCode != 403 {
		t.Fatalf("sign-out with a forged CSRF token: %d, want 403", r.StatusCode)
	}
	if r := post(url.Values{"csrf": {csrf[1]}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d, want 303", r.StatusCode)
	}
	// A revoked key's session stops working at once.
	s.as(adminKey).call("DELETE", "/v1/keys/"+viewerKey[4:12], nil, nil)
	if code, _ := get("/"); code != http.StatusSeeOther {
		t.Fatalf("session of a revoked key: %d, want a redirect to sign in", code)
	}
}

func TestInsecureLocalOnlyOnLoopback(t *testing.T) {
	o := service.DefaultOptions()
	o.InsecureLocal = true
	for addr, ok := range map[string]bool{"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:1": true, "0.0.0.0:8080": false, ":8080": false, "10.1.2.3:80": false} {
		o.Addr = addr
		if err := o.Validate(); (err == nil) != ok {
			t.Errorf("insecure_local on %s: err %v, want allowed=%v", addr, err, ok)
		}
	}
}

func TestKeysCommand(t *testing.T) {
	s, adminKey := startSecure(t, nil)
	ctx := t.Context()
	var out strings.Builder
	addr := strings.TrimPrefix(s.base, "http://")
	if err := run(ctx, []string{"keys", "create", "--role", "analyst", "--name", "notebook", "--addr", addr, "--key", adminKey}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`nbk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}`).FindString(out.String())
	if m == "" {
		t.Fatalf("keys create printed no key: %q", out.String())
	}
	if code := s.as(m).call("GET", "/v1/actions", nil, nil); code != 200 {
		t.Fatalf("new analyst key: %d", code)
	}
	out.Reset()
	if err := run(ctx, []string{"keys", "list", "--addr", addr, "--key", adminKey}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "notebook") || strings.Contains(out.String(), m) {
		t.Fatalf("keys list: %q", out.String())
	}
	if err := run(ctx, []string{"keys", "revoke", m[4:12], "--addr", addr, "--key", adminKey}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if code := s.as(m).call("GET", "/v1/actions", nil, nil); code != 401 {
		t.Fatalf("revoked analyst key: %d", code)
	}
	if err := run(ctx, []string{"keys", "list", "--addr", addr, "--key", m}, io.Discard, io.Discard); err == nil {
		t.Fatal("keys list with a revoked key succeeded")
	}
	s.stop()
	// Offline, on the stopped server's store.
	dir := s.dataDir
	out.Reset()
	if err := run(ctx, []string{"keys", "create", "--role", "viewer", "--data", dir}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"keys", "create", "--role", "root", "--data", dir}, io.Discard, io.Discard); err == nil {
		t.Fatal("keys create accepted the role root")
	}
}

// TestProfilerForAdmins checks the admin-only profiler: an admin key gets the running
// server's heap and CPU profiles; the other roles get 403 (TestRolesAgainstEveryEndpoint).
func TestProfilerForAdmins(t *testing.T) {
	s, adminKey := startSecure(t, nil)
	defer s.stop()
	get := func(path string) (int, []byte) {
		req, _ := http.NewRequest("GET", s.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	if code, body := get("/v1/admin/debug/pprof/heap?debug=1"); code != 200 || !strings.HasPrefix(string(body), "heap profile:") {
		t.Fatalf("heap profile: status %d, body %.80q", code, body)
	}
	// A CPU profile is gzipped protobuf.
	if code, body := get("/v1/admin/debug/pprof/profile?seconds=1"); code != 200 || len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		t.Fatalf("CPU profile: status %d, body %.80q", code, body)
	}
	if code, body := get("/v1/admin/debug/pprof/"); code != 200 || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("profile index: status %d, body %.80q", code, body)
	}
}
