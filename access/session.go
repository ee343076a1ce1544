package access

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"
)

// SessionID identifies a dashboard session: the hex SHA-256 of the session's token. The
// token itself is the cookie's value; only the browser holds it, and the store keeps only
// the id, so a copy of the store signs nobody in.
type SessionID string

// Session is one dashboard sign-in: the key it was made with and when it ends. It exists
// while the store holds it: signing out deletes it.
type Session struct {
	ID      SessionID `json:"id"`
	KeyID   KeyID     `json:"key_id"`
	Expires time.Time `json:"expires"`
}

// NewSession makes a session for key, ending at expires. It returns the session and its
// token (256 random bits in base64url), which goes in the cookie and nowhere else.
func NewSession(key KeyID, expires time.Time) (Session, string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Session{}, "", fmt.Errorf("new session: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	return Session{ID: SessionIDOf(token), KeyID: key, Expires: expires.UTC()}, token, nil
}

// SessionIDOf returns the id of the session whose token is token.
func SessionIDOf(token string) SessionID {
	h := sha256.Sum256([]byte(token))
	return SessionID(hex.EncodeToString(h[:]))
}
