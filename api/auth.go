package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/engine"
)

// KeyStore is what authentication needs from storage.
type KeyStore interface {
	Key(ctx context.Context, id access.KeyID) (access.Key, error)
	PutKey(ctx context.Context, k access.Key) error
	Keys(ctx context.Context) ([]access.Key, error)
}

// Auth authenticates requests by API key (Authorization: Bearer, or X-API-Key) or by a
// dashboard session cookie, and checks each route's permission. Verified keys are cached;
// revoking through the API drops the cache entry at once.
type Auth struct {
	keys     KeyStore
	secret   []byte // HMAC key for session cookies and CSRF tokens
	insecure bool   // --insecure-local: requests without credentials act as admin
	secure   bool   // served over TLS: cookies get the Secure flag
	ttl      time.Duration
	now      func() time.Time

	// cache maps an access.KeyID to its *cachedKey. Reads take no lock; mu orders the
	// writes: a key read from the store is cached only if no revocation (forget, which
	// bumps gen) happened meanwhile, else a request racing a revocation could cache the
	// key as it was before and keep it valid.
	cache sync.Map
	mu    sync.Mutex
	gen   uint64 // forget calls, under mu
}

// cachedKey is a verified key and its principal, which every request that presents the
// key shares.
type cachedKey struct {
	key       access.Key
	principal *Principal
}

// AuthOptions configures Auth.
type AuthOptions struct {
	Keys          KeyStore
	SessionSecret []byte        // at least 32 bytes; see SessionSecret
	InsecureLocal bool          // allow keyless use; the caller checks the address is loopback
	TLS           bool          // set the cookie's Secure flag
	SessionTTL    time.Duration // default 12h
}

// NewAuth returns an authenticator.
func NewAuth(o AuthOptions) (*Auth, error) {
	if len(o.SessionSecret) < 32 {
		return nil, errors.New("auth: the session secret must be at least 32 bytes")
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	return &Auth{keys: o.Keys, secret: o.SessionSecret, insecure: o.InsecureLocal, secure: o.TLS, ttl: o.SessionTTL, now: time.Now}, nil
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

// errUnauthenticated and errForbidden become 401 and 403.
var (
	errUnauthenticated = &engine.Error{Kind: ErrUnauthenticated, Code: "unauthenticated", Message: "an API key is required: send Authorization: Bearer <key> (nextbest keys create makes one)"}
	errBadKey          = &engine.Error{Kind: ErrUnauthenticated, Code: "invalid_key", Message: "the API key is not valid (unknown, malformed or revoked)"}
)

// ErrUnauthenticated (401) and ErrForbidden (403) are the kinds of access errors.
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
)

// SessionCookie is the dashboard session cookie's name.
const SessionCookie = "nextbest_session"

// Authenticate resolves the request's principal, if any, and stores it for Guard.
func (a *Auth) Authenticate(c *fiber.Ctx) error {
	if p, ok := a.fromHeader(c); ok {
		if p == nil {
			return errBadKey
		}
		c.Locals(localsPrincipal, p)
	} else if p := a.fromCookie(c); p != nil {
		c.Locals(localsPrincipal, p)
	} else if a.insecure {
		c.Locals(localsPrincipal, &Principal{KeyID: localPrincipal, Role: access.Admin})
	}
	return c.Next()
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
	ck, ok := a.verify(c.UserContext(), strings.TrimSpace(plain))
	if !ok {
		return nil, true
	}
	return ck.principal, true
}

// verify checks a key string. plain may be in request memory: it is neither kept nor
// returned.
func (a *Auth) verify(ctx context.Context, plain string) (*cachedKey, bool) {
	id, err := access.ParseID(plain)
	if err != nil {
		return nil, false
	}
	ck, ok := a.cached(ctx, id)
	if !ok || !ck.key.Active() || !ck.key.Verify(plain) {
		return nil, false
	}
	return ck, true
}

// cached returns a key from the cache, or else from the store, which it caches. id may
// be in request memory: the cache keeps the store's copy.
func (a *Auth) cached(ctx context.Context, id access.KeyID) (*cachedKey, bool) {
	if ck, ok := a.cache.Load(id); ok {
		return ck.(*cachedKey), true
	}
	a.mu.Lock()
	gen := a.gen
	a.mu.Unlock()
	k, err := a.keys.Key(ctx, access.KeyID(strings.Clone(string(id))))
	if err != nil {
		return nil, false
	}
	ck := &cachedKey{key: k, principal: &Principal{KeyID: k.ID, Role: k.Role}}
	a.mu.Lock()
	if a.gen == gen {
		a.cache.Store(k.ID, ck)
	}
	a.mu.Unlock()
	return ck, true
}

// forget drops a key from the cache, after a revocation.
func (a *Auth) forget(id access.KeyID) {
	a.mu.Lock()
	a.gen++
	a.cache.Delete(id)
	a.mu.Unlock()
}

// Guard wraps a handler so that only principals whose role grants perm may call it:
// 401 without credentials, 403 with a role that lacks the permission.
func (a *Auth) Guard(perm access.Permission, h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := PrincipalOf(c)
		if p == nil {
			return errUnauthenticated
		}
		if !p.Role.Allows(perm) {
			return &engine.Error{Kind: ErrForbidden, Code: "forbidden", Message: fmt.Sprintf("role %q may not do this (needs permission %q); see docs/security.md", p.Role, perm)}
		}
		return h(c)
	}
}

// PrincipalOf returns the request's principal, or nil.
func PrincipalOf(c *fiber.Ctx) *Principal {
	p, _ := c.Locals(localsPrincipal).(*Principal)
	return p
}

// Session cookies: base64url(keyID(8) | expiry unix (8 bytes BE) | HMAC-SHA256 of both).
// The cookie is HttpOnly, SameSite=Strict, and Secure over TLS. A revoked key's sessions
// stop working at once, because every request re-reads the key.

// SignIn checks a key and, if valid, sets the session cookie. It returns the principal.
func (a *Auth) SignIn(c *fiber.Ctx, plain string) (*Principal, error) {
	ck, ok := a.verify(c.UserContext(), strings.TrimSpace(plain))
	if !ok {
		return nil, errBadKey
	}
	k := ck.key
	exp := a.now().Add(a.ttl)
	msg := make([]byte, 0, 16)
	msg = append(msg, k.ID...)
	msg = binary.BigEndian.AppendUint64(msg, uint64(exp.Unix()))
	tok := base64.RawURLEncoding.EncodeToString(append(msg, a.mac("session", msg)...))
	c.Cookie(&fiber.Cookie{Name: SessionCookie, Value: tok, Path: "/", Expires: exp, HTTPOnly: true, Secure: a.secure, SameSite: fiber.CookieSameSiteStrictMode})
	return &Principal{KeyID: k.ID, Role: k.Role, Session: true}, nil
}

// SignOut clears the session cookie.
func (a *Auth) SignOut(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: SessionCookie, Value: "", Path: "/", Expires: time.Unix(0, 0), HTTPOnly: true, Secure: a.secure, SameSite: fiber.CookieSameSiteStrictMode})
}

func (a *Auth) fromCookie(c *fiber.Ctx) *Principal {
	raw := c.Cookies(SessionCookie)
	if raw == "" {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) != 16+32 {
		return nil
	}
	msg, sig := b[:16], b[16:]
	if !hmac.Equal(sig, a.mac("session", msg)) {
		return nil
	}
	if exp := time.Unix(int64(binary.BigEndian.Uint64(msg[8:])), 0); a.now().After(exp) {
		return nil
	}
	ck, ok := a.cached(c.UserContext(), access.KeyID(msg[:8]))
	if !ok || !ck.key.Active() {
		return nil
	}
	return &Principal{KeyID: ck.key.ID, Role: ck.key.Role, Session: true}
}

// CSRFToken returns the token that a session's forms must carry (field "csrf"). It is
// an HMAC of the session cookie, so it cannot be forged without the server's secret and is
// useless without the cookie (which SameSite=Strict keeps off cross-site requests).
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
		return &engine.Error{Kind: ErrForbidden, Code: "csrf", Message: "the form's CSRF token is missing or wrong; reload the page and try again"}
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
