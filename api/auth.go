package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/engine"
)

// KeyStore is what the key endpoints and authentication need from storage.
type KeyStore interface {
	Key(ctx context.Context, id access.KeyID) (access.Key, error)
	PutKey(ctx context.Context, k access.Key) error
	Keys(ctx context.Context) ([]access.Key, error)
}

// SessionStore keeps the dashboard sessions.
type SessionStore interface {
	PutSession(ctx context.Context, s access.Session) error
	DeleteSession(ctx context.Context, id access.SessionID) error
	Sessions(ctx context.Context) ([]access.Session, error)
}

// Auth authenticates requests by API key (Authorization: Bearer, or X-API-Key) or, on the
// dashboards' routes only, by a session cookie, and checks each route's permission.
//
// It holds every key and every live session in memory: NewAuth loads them, and while the
// server runs they change only through Auth (PutKey, SignIn, SignOut), which writes the
// store first and then memory. So verifying a key or a session never reads the store: a
// key id that does not exist costs a map lookup, and a revocation takes effect on the
// next request.
type Auth struct {
	keys     KeyStore
	sessions SessionStore
	secret   []byte // HMAC key for CSRF tokens
	insecure bool   // --insecure-local: requests without credentials act as admin
	secure   bool   // served over TLS: cookies get the Secure flag
	ttl      time.Duration
	now      func() time.Time
	failures *failureLimiter // nil: no limit

	// byID maps an access.KeyID to its *knownKey, for every stored key, revoked ones
	// included. Reads take no lock; writes (PutKey) hold mu, so that memory ends in the
	// order the store does.
	byID sync.Map
	mu   sync.Mutex

	smu  sync.RWMutex
	live map[access.SessionID]access.Session // under smu
}

// knownKey is a stored key and its principal, which every request that presents the key
// shares.
type knownKey struct {
	key       access.Key
	principal *Principal
}

// maxSessionsPerKey caps one key's live sessions: signing in once more ends the oldest,
// so that a key holder cannot fill memory and the store with sessions.
const maxSessionsPerKey = 100

// AuthOptions configures Auth.
type AuthOptions struct {
	Keys          KeyStore
	Sessions      SessionStore
	SessionSecret []byte        // at least 32 bytes; see SessionSecret
	InsecureLocal bool          // allow keyless use; the caller checks the address is loopback
	TLS           bool          // set the cookie's Secure flag
	SessionTTL    time.Duration // default 12h
	// FailureBurst failed authentications per client address are answered 401, then
	// FailuresPerMinute; the ones over that get 429 (authfail.go). 0 means no limit.
	FailureBurst, FailuresPerMinute int
}

// NewAuth returns an authenticator holding the stored keys and live sessions.
func NewAuth(ctx context.Context, o AuthOptions) (*Auth, error) {
	if len(o.SessionSecret) < 32 {
		return nil, errors.New("auth: the session secret must be at least 32 bytes")
	}
	if o.Keys == nil || o.Sessions == nil {
		return nil, errors.New("auth: a key store and a session store are required")
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	a := &Auth{keys: o.Keys, sessions: o.Sessions, secret: o.SessionSecret, insecure: o.InsecureLocal, secure: o.TLS, ttl: o.SessionTTL,
		now: time.Now, failures: newFailureLimiter(o.FailureBurst, o.FailuresPerMinute), live: map[access.SessionID]access.Session{}}
	keys, err := o.Keys.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	for _, k := range keys {
		a.byID.Store(k.ID, newKnownKey(k))
	}
	sessions, err := o.Sessions.Sessions(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	now := a.now()
	for _, ss := range sessions {
		if now.Before(ss.Expires) {
			a.live[ss.ID] = ss
		}
	}
	return a, nil
}

func newKnownKey(k access.Key) *knownKey {
	return &knownKey{key: k, principal: &Principal{KeyID: k.ID, Role: k.Role}}
}

// NewSessionSecret returns 32 random bytes.
func NewSessionSecret() ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("session secret: %w", err)
	}
	return b, nil
}

// Principal is who made a request. Requests with the same key share one: read it, never
// modify it.
type Principal struct {
	KeyID   access.KeyID
	Role    access.Role
	Session bool // authenticated by the dashboard cookie
}

const localsPrincipal = "nextbest.principal"

// localPrincipal is the key id of keyless requests under --insecure-local; rate limits,
// which are per key, do not apply to it.
const localPrincipal access.KeyID = "local"

// errUnauthenticated and errBadKey become 401.
var (
	errUnauthenticated = &engine.Error{Kind: engine.ErrUnauthenticated, Code: "unauthenticated", Message: "an API key is required: send Authorization: Bearer <key> (nextbest keys create makes one)"}
	errBadKey          = &engine.Error{Kind: engine.ErrUnauthenticated, Code: "invalid_key", Message: "the API key is not valid (unknown, malformed or revoked)"}
	errSessionOnAPI    = &engine.Error{Kind: engine.ErrUnauthenticated, Code: "unauthenticated", Message: "the JSON API takes API keys only (Authorization: Bearer <key>); the dashboards' session cookie is not accepted here"}
)

// SessionCookie is the dashboard session cookie's name.
const SessionCookie = "nextbest_session"

// Authenticate resolves the request's principal, if any, and stores it for the guards:
// the API key it carries; else, under --insecure-local, the local admin; else the
// session of its cookie, which only the dashboards' routes accept (SessionGuard).
// Under --insecure-local it first refuses requests that a browser made on behalf of
// another site (localOnly).
func (a *Auth) Authenticate(c *fiber.Ctx) error {
	if a.insecure {
		if err := localOnly(c); err != nil {
			return err
		}
	}
	if p, ok := a.fromHeader(c); ok {
		if p == nil {
			return a.refuse(c)
		}
		c.Locals(localsPrincipal, p)
	} else if a.insecure {
		c.Locals(localsPrincipal, &Principal{KeyID: localPrincipal, Role: access.Admin})
	} else if p := a.fromCookie(c); p != nil {
		c.Locals(localsPrincipal, p)
	}
	return c.Next()
}

// refuse answers a failed authentication: 401, or 429 once the client's address is over
// its limit of failures (authfail.go).
func (a *Auth) refuse(c *fiber.Ctx) error {
	ok, wait := a.failures.fail(c.Context().RemoteIP())
	if ok {
		return errBadKey
	}
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(retrySeconds(wait)))
	return &engine.Error{Kind: engine.ErrRateLimited, Code: "too_many_failures", Message: "too many failed authentications from this address; retry after the number of seconds in Retry-After"}
}

// fromHeader returns (principal, true) for a valid key, (nil, true) for a bad one, and
// (nil, false) when no key was sent.
func (a *Auth) fromHeader(c *fiber.Ctx) (*Principal, bool) {
	plain := c.Get(fiber.HeaderAuthorization)
	if plain != "" {
		var ok bool
		if plain, ok = strings.CutPrefix(plain, "Bearer "); !ok {
			return nil, true
		}
	} else if plain = c.Get("X-API-Key"); plain == "" {
		return nil, false
	}
	// plain is in fiber's request memory, which verify does not keep.
	ck, ok := a.verify(strings.TrimSpace(plain))
	if !ok {
		return nil, true
	}
	return ck.principal, true
}

// verify checks a key string against the keys in memory. plain may be in request memory:
// it is neither kept nor returned.
func (a *Auth) verify(plain string) (*knownKey, bool) {
	id, err := access.ParseID(plain)
	if err != nil {
		return nil, false
	}
	ck, ok := a.key(id)
	if !ok || !ck.key.Active() || !ck.key.Verify(plain) {
		return nil, false
	}
	return ck, true
}

// key returns a stored key by id, revoked or not.
func (a *Auth) key(id access.KeyID) (*knownKey, bool) {
	ck, ok := a.byID.Load(id)
	if !ok {
		return nil, false
	}
	return ck.(*knownKey), true
}

// PutKey stores a new or changed key (such as a revoked one) and makes it the one that
// authentication checks, from the next request on. While the server runs, every key
// write goes through it.
func (a *Auth) PutKey(ctx context.Context, k access.Key) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.keys.PutKey(ctx, k); err != nil {
		return err
	}
	a.byID.Store(k.ID, newKnownKey(k))
	return nil
}

// Known makes k (new, or changed such as revoked) the key that authentication checks,
// without storing it: a replica of a cluster stores a key where it applies the cluster's
// log, and tells every replica's Auth so.
func (a *Auth) Known(k access.Key) {
	a.byID.Store(k.ID, newKnownKey(k))
}

// Guard wraps an API handler so that only API keys (or, under --insecure-local, keyless
// requests) whose role grants perm may call it: 401 without a key or with only a session
// cookie, 403 with a role that lacks the permission. Browsers send cookies by themselves,
// on requests that other pages make too; they never send a key by themselves, so no page
// can make a signed-in browser call the API.
func (a *Auth) Guard(perm access.Permission, h fiber.Handler) fiber.Handler {
	return a.guard(perm, h, false)
}

// SessionGuard is Guard for the dashboards' routes, which also take the session cookie.
// They only read (GET); their one form, sign-out, carries a CSRF token (CheckCSRF).
func (a *Auth) SessionGuard(perm access.Permission, h fiber.Handler) fiber.Handler {
	return a.guard(perm, h, true)
}

func (a *Auth) guard(perm access.Permission, h fiber.Handler, sessions bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := PrincipalOf(c)
		if p == nil {
			return errUnauthenticated
		}
		if p.Session && !sessions {
			return errSessionOnAPI
		}
		if !p.Role.Allows(perm) {
			return &engine.Error{Kind: engine.ErrForbidden, Code: "forbidden", Message: fmt.Sprintf("role %q may not do this (needs permission %q); see docs/security.md", p.Role, perm)}
		}
		return h(c)
	}
}

// PrincipalOf returns the request's principal, or nil.
func PrincipalOf(c *fiber.Ctx) *Principal {
	p, _ := c.Locals(localsPrincipal).(*Principal)
	return p
}

// Session cookies hold a session's token: 256 random bits, which the store and memory
// know only by their SHA-256 (access.Session). The cookie is HttpOnly, SameSite=Strict,
// and Secure over TLS. A session ends when it expires, when its key is revoked (every
// request re-checks the key), or when it signs out, which deletes it from the store.

// SignIn checks a key and, if valid, starts a session and sets its cookie. It returns
// the principal. A bad key counts as a failed authentication of the client's address.
func (a *Auth) SignIn(c *fiber.Ctx, plain string) (*Principal, error) {
	ck, ok := a.verify(strings.TrimSpace(plain))
	if !ok {
		return nil, a.refuse(c)
	}
	k := ck.key
	ss, token, err := access.NewSession(k.ID, a.now().Add(a.ttl))
	if err != nil {
		return nil, err
	}
	if err := a.startSession(c.UserContext(), ss); err != nil {
		return nil, err
	}
	c.Cookie(&fiber.Cookie{Name: SessionCookie, Value: token, Path: "/", Expires: ss.Expires, HTTPOnly: true, Secure: a.secure, SameSite: fiber.CookieSameSiteStrictMode})
	return &Principal{KeyID: k.ID, Role: k.Role, Session: true}, nil
}

// startSession stores a new session and holds it in memory. It forgets the sessions that
// have expired, and ends the key's oldest one if the key has maxSessionsPerKey.
func (a *Auth) startSession(ctx context.Context, ss access.Session) error {
	a.smu.Lock()
	defer a.smu.Unlock()
	now := a.now()
	var oldest access.Session
	n := 0
	for id, s := range a.live {
		switch {
		case !now.Before(s.Expires):
			delete(a.live, id) // the store's copy expires by itself
		case s.KeyID == ss.KeyID:
			if n++; oldest.ID == "" || s.Expires.Before(oldest.Expires) {
				oldest = s
			}
		}
	}
	if n >= maxSessionsPerKey {
		if err := a.sessions.DeleteSession(ctx, oldest.ID); err != nil {
			return err
		}
		delete(a.live, oldest.ID)
	}
	if err := a.sessions.PutSession(ctx, ss); err != nil {
		return err
	}
	a.live[ss.ID] = ss
	return nil
}

// SignOut ends the request's session, in the store and in memory, and clears the cookie.
// The cookie's token is worth nothing afterwards, also after a restart.
func (a *Auth) SignOut(c *fiber.Ctx) error {
	if token := c.Cookies(SessionCookie); token != "" {
		id := access.SessionIDOf(token)
		a.smu.Lock()
		err := a.sessions.DeleteSession(c.UserContext(), id)
		if err == nil {
			delete(a.live, id)
		}
		a.smu.Unlock()
		if err != nil {
			return err
		}
	}
	c.Cookie(&fiber.Cookie{Name: SessionCookie, Value: "", Path: "/", Expires: time.Unix(0, 0), HTTPOnly: true, Secure: a.secure, SameSite: fiber.CookieSameSiteStrictMode})
	return nil
}

// fromCookie returns the principal of the request's session, or nil.
func (a *Auth) fromCookie(c *fiber.Ctx) *Principal {
	token := c.Cookies(SessionCookie)
	if token == "" {
		return nil
	}
	a.smu.RLock()
	ss, ok := a.live[access.SessionIDOf(token)]
	a.smu.RUnlock()
	if !ok || !a.now().Before(ss.Expires) {
		return nil
	}
	ck, ok := a.key(ss.KeyID)
	if !ok || !ck.key.Active() {
		return nil
	}
	return &Principal{KeyID: ck.key.ID, Role: ck.key.Role, Session: true}
}

// CSRFToken returns the token that a session's forms must carry (field "csrf"). It is
// an HMAC of the session cookie, so it cannot be forged without the server's secret and is
// useless without the cookie.
func (a *Auth) CSRFToken(c *fiber.Ctx) string {
	return base64.RawURLEncoding.EncodeToString(a.mac("csrf", []byte(c.Cookies(SessionCookie))))
}

// CheckCSRF verifies a form's CSRF token for cookie-authenticated requests.
func (a *Auth) CheckCSRF(c *fiber.Ctx) error {
	p := PrincipalOf(c)
	if p == nil || !p.Session {
		return nil // API keys are not sent automatically by browsers: no CSRF risk
	}
	if subtle.ConstantTimeCompare([]byte(c.FormValue("csrf")), []byte(a.CSRFToken(c))) != 1 {
		return &engine.Error{Kind: engine.ErrForbidden, Code: "csrf", Message: "the form's CSRF token is missing or wrong; reload the page and try again"}
	}
	return nil
}

func (a *Auth) mac(purpose string, msg []byte) []byte {
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(msg)
	return m.Sum(nil)
}
