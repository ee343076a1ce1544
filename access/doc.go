// Package access is nextbest's access control: API keys with roles, and the table of what
// each role may do. Keys are random, shown once, stored only as SHA-256 hashes and compared
// in constant time.
//
// A key looks like nbk_3f9a1c2e_<43 characters>: the prefix, an 8-hex-digit key id (used
// to find the stored hash, and shown in lists and logs), and 256 random bits in base64url.
// Because the secret is 256 uniformly random bits, a single SHA-256 is enough to store it:
// slow password hashes (bcrypt, argon2) exist to protect low-entropy secrets, which these
// are not, and they would cost milliseconds on every request.
//
// A dashboard session (session.go) is the same idea for a browser: a random token in the
// cookie, stored only as its SHA-256, and valid only while the store holds it.
package access
