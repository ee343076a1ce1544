package access

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// KeyID identifies a key; it is not secret.
type KeyID string

// Key is a stored key: everything but the secret, which is kept only as a hash.
type Key struct {
	ID      KeyID     `json:"id"`
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Created time.Time `json:"created"`
	Revoked time.Time `json:"revoked,omitzero"`
	Hash    []byte    `json:"hash,omitempty"` // SHA-256 of the whole key string
}

// Active reports whether the key has not been revoked.
func (k *Key) Active() bool { return k.Revoked.IsZero() }

// Public returns the key without its hash, for listing.
func (k Key) Public() Key {
	k.Hash = nil
	return k
}

const prefix = "nbk_"

// ErrMalformed reports a string that is not a nextbest key.
var ErrMalformed = errors.New("malformed API key")

// NewKey makes a new random key for a role. It returns the stored form and the secret
// string, which must be shown to the user once and never stored.
func NewKey(role Role, name string, now time.Time) (Key, string, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return Key{}, "", err
	}
	if len(name) > 128 {
		return Key{}, "", errors.New("name: at most 128 characters")
	}
	var id [4]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Key{}, "", fmt.Errorf("new key: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return Key{}, "", fmt.Errorf("new key: %w", err)
	}
	kid := KeyID(hex.EncodeToString(id[:]))
	plain := prefix + string(kid) + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	h := sha256.Sum256([]byte(plain))
	return Key{ID: kid, Name: name, Role: role, Created: now.UTC(), Hash: h[:]}, plain, nil
}

// ParseID returns the key id embedded in a key string, without checking the secret.
func ParseID(plain string) (KeyID, error) {
	rest, ok := strings.CutPrefix(plain, prefix)
	if !ok || len(rest) != 8+1+43 || rest[8] != '_' {
		return "", ErrMalformed
	}
	if _, err := hex.DecodeString(rest[:8]); err != nil {
		return "", ErrMalformed
	}
	return KeyID(rest[:8]), nil
}

// Verify reports whether plain is this key's secret, in constant time.
func (k *Key) Verify(plain string) bool {
	h := sha256.Sum256([]byte(plain))
	return len(k.Hash) == len(h) && subtle.ConstantTimeCompare(h[:], k.Hash) == 1
}
