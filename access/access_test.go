package access

import (
	"strings"
	"testing"
	"time"
)

func TestNewKeyVerify(t *testing.T) {
	k, plain, err := NewKey(Analyst, "notebook", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, "nbk_"+string(k.ID)+"_") {
		t.Fatalf("key %q does not start with its id %q", plain, k.ID)
	}
	id, err := ParseID(plain)
	if err != nil || id != k.ID {
		t.Fatalf("ParseID: %q, %v", id, err)
	}
	if !k.Verify(plain) {
		t.Fatal("a key does not verify against its own hash")
	}
	tampered := plain[:len(plain)-1] + string("AB"[strings.IndexByte("AB", plain[len(plain)-1])+1&1])
	if k.Verify(tampered) {
		t.Fatal("a tampered key verified")
	}
	if strings.Contains(string(k.Hash), plain) || len(k.Public().Hash) != 0 {
		t.Fatal("the stored or public form carries the secret")
	}
	_, other, _ := NewKey(Analyst, "", time.Unix(0, 0))
	if other == plain {
		t.Fatal("two keys are equal")
	}
}

func TestParseIDRejects(t *testing.T) {
	for _, s := range []string{"", "nbk_", "nbk_zzzzzzzz_" + strings.Repeat("a", 43), "abc_12345678_" + strings.Repeat("a", 43), "nbk_12345678-" + strings.Repeat("a", 43), "nbk_12345678_short"} {
		if _, err := ParseID(s); err == nil {
			t.Errorf("ParseID(%q) accepted a malformed key", s)
		}
	}
}

func TestRoleTable(t *testing.T) {
	cases := []struct {
		r    Role
		p    Permission
		want bool
	}{
		{Decide, PermDecide, true}, {Decide, PermConfigure, false}, {Decide, PermReport, false}, {Decide, PermAdmin, false},
		{Analyst, PermConfigure, true}, {Analyst, PermInspect, true}, {Analyst, PermReport, true}, {Analyst, PermDecide, false}, {Analyst, PermAdmin, false},
		{Viewer, PermReport, true}, {Viewer, PermInspect, false}, {Viewer, PermConfigure, false}, {Viewer, PermDecide, false},
		{Admin, PermAdmin, true}, {Admin, PermDecide, true}, {Admin, PermReport, true},
	}
	for _, c := range cases {
		if got := c.r.Allows(c.p); got != c.want {
			t.Errorf("%s allows %s = %v, want %v", c.r, c.p, got, c.want)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("ParseRole accepted an unknown role")
	}
}

func TestNewSession(t *testing.T) {
	exp := time.Date(2026, 3, 2, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	s, token, err := NewSession("3f9a1c2e", exp)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID != "3f9a1c2e" || !s.Expires.Equal(exp) || s.Expires.Location() != time.UTC {
		t.Fatalf("session %+v: want key 3f9a1c2e, expiry %v in UTC", s, exp)
	}
	if SessionIDOf(token) != s.ID || len(s.ID) != 64 || strings.Contains(string(s.ID), token) {
		t.Fatalf("session id %q of token %q: want the hex SHA-256 of the token", s.ID, token)
	}
	if len(token) != 43 { // 256 bits in unpadded base64url
		t.Fatalf("token %q: %d characters, want 43", token, len(token))
	}
	other, otherToken, _ := NewSession("3f9a1c2e", exp)
	if other.ID == s.ID || otherToken == token {
		t.Fatal("two sessions are equal")
	}
}
