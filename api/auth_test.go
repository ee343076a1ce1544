package api

import (
	"context"
	"testing"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/store"
)

// openKeyStore returns a Badger store in a temporary directory, for keys.
func openKeyStore(t testing.TB) *store.Store {
	t.Helper()
	so := store.DefaultOptions(t.TempDir())
	so.SyncWrites = false
	st, err := store.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return st
}

func newTestAuth(t testing.TB, keys KeyStore) *Auth {
	t.Helper()
	secret, err := NewSessionSecret()
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuth(AuthOptions{Keys: keys, SessionSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// putKey stores a new key for role and returns it with its secret string.
func putKey(t *testing.T, st KeyStore, role access.Role) (access.Key, string) {
	t.Helper()
	k, plain, err := access.NewKey(role, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k, plain
}

func TestVerify(t *testing.T) {
	st := openKeyStore(t)
	a := newTestAuth(t, st)
	ctx := context.Background()
	k, plain := putKey(t, st, access.Decide)
	other, otherPlain := putKey(t, st, access.Viewer)
	wrongSecret := plain[:len(plain)-1] + string(plain[len(plain)-1]^1) // the right id, a wrong secret

	for i := range 2 { // from the store, then from the cache
		ck, ok := a.verify(ctx, plain)
		if !ok || ck.principal.KeyID != k.ID || ck.principal.Role != access.Decide || ck.principal.Session {
			t.Fatalf("pass %d: verify(valid key) = %+v, %t", i, ck, ok)
		}
		if _, ok := a.verify(ctx, wrongSecret); ok {
			t.Fatalf("pass %d: a wrong secret with a known id verified", i)
		}
	}
	if ck, ok := a.verify(ctx, otherPlain); !ok || ck.principal.KeyID != other.ID || ck.principal.Role != access.Viewer {
		t.Fatalf("verify(other key) = %+v, %t", ck, ok)
	}
	for _, bad := range []string{"", "nbk_", "nbk_zzzzzzzz_" + plain[13:], "nbk_00000000_" + plain[13:]} {
		if _, ok := a.verify(ctx, bad); ok {
			t.Errorf("verify(%q) succeeded", bad)
		}
	}
	// Requests with one key share its principal: no allocation per request.
	p1, _ := a.verify(ctx, plain)
	p2, _ := a.verify(ctx, plain)
	if p1.principal != p2.principal {
		t.Error("two verifications of one key gave two principals")
	}

	k.Revoked = time.Now()
	if err := st.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	a.forget(k.ID)
	if _, ok := a.verify(ctx, plain); ok {
		t.Fatal("a revoked key verified")
	}
}

// revokingStore revokes a key (as DELETE /v1/keys/{id} does: store, then forget) while
// a cache miss is reading it, after the read.
type revokingStore struct {
	*store.Store
	auth   *Auth
	revoke access.Key
}

func (s *revokingStore) Key(ctx context.Context, id access.KeyID) (access.Key, error) {
	k, err := s.Store.Key(ctx, id)
	if s.auth != nil && err == nil && id == s.revoke.ID {
		r := s.revoke
		r.Revoked = time.Now()
		if err := s.Store.PutKey(ctx, r); err != nil {
			return k, err
		}
		s.auth.forget(id)
		s.auth = nil
	}
	return k, err
}

// TestRevokeDuringCacheMiss checks that a key revoked while a request reads it from the
// store is not cached as it was: the request itself may still pass, the next must not.
func TestRevokeDuringCacheMiss(t *testing.T) {
	st := &revokingStore{Store: openKeyStore(t)}
	a := newTestAuth(t, st)
	k, plain := putKey(t, st, access.Decide)
	st.auth, st.revoke = a, k
	a.verify(context.Background(), plain) // reads the key as active, then it is revoked
	if _, ok := a.verify(context.Background(), plain); ok {
		t.Fatal("a key revoked during a cache miss still verifies: the miss cached it as it was")
	}
}

func BenchmarkVerify(b *testing.B) {
	st := openKeyStore(b)
	a := newTestAuth(b, st)
	k, plain, err := access.NewKey(access.Decide, "benchmark", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if err := st.PutKey(context.Background(), k); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := a.verify(context.Background(), plain); !ok {
				b.Fatal("key refused")
			}
		}
	})
}
