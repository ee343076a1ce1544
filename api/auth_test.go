package api

import (
	"context"
	"sync"
	"sync/atomic"
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

// authStore is what an Auth needs from storage.
type authStore interface {
	KeyStore
	SessionStore
}

func newTestAuth(t testing.TB, st authStore) *Auth {
	t.Helper()
	secret, err := NewSessionSecret()
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuth(context.Background(), AuthOptions{Keys: st, Sessions: st, SessionSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// putKey stores a new key for role through a, and returns it with its secret string.
func putKey(t testing.TB, a *Auth, role access.Role) (access.Key, string) {
	t.Helper()
	k, plain, err := access.NewKey(role, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.PutKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k, plain
}

func TestVerify(t *testing.T) {
	st := openKeyStore(t)
	ctx := context.Background()
	// A key stored before the server starts (the first admin key, or keys create --data).
	early, earlyPlain, err := access.NewKey(access.Admin, "early", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutKey(ctx, early); err != nil {
		t.Fatal(err)
	}
	a := newTestAuth(t, st)
	if ck, ok := a.verify(earlyPlain); !ok || ck.principal.KeyID != early.ID || ck.principal.Role != access.Admin {
		t.Fatalf("verify(key stored before the start) = %+v, %t", ck, ok)
	}
	k, plain := putKey(t, a, access.Decide)
	other, otherPlain := putKey(t, a, access.Viewer)
	wrongSecret := plain[:len(plain)-1] + string(plain[len(plain)-1]^1) // the right id, a wrong secret

	ck, ok := a.verify(plain)
	if !ok || ck.principal.KeyID != k.ID || ck.principal.Role != access.Decide || ck.principal.Session {
		t.Fatalf("verify(valid key) = %+v, %t", ck, ok)
	}
	if _, ok := a.verify(wrongSecret); ok {
		t.Fatal("a wrong secret with a known id verified")
	}
	if ck, ok := a.verify(otherPlain); !ok || ck.principal.KeyID != other.ID || ck.principal.Role != access.Viewer {
		t.Fatalf("verify(other key) = %+v, %t", ck, ok)
	}
	for _, bad := range []string{"", "nbk_", "nbk_zzzzzzzz_" + plain[13:], "nbk_00000000_" + plain[13:]} {
		if _, ok := a.verify(bad); ok {
			t.Errorf("verify(%q) succeeded", bad)
		}
	}
	// Requests with one key share its principal: no allocation per request.
	p1, _ := a.verify(plain)
	p2, _ := a.verify(plain)
	if p1.principal != p2.principal {
		t.Error("two verifications of one key gave two principals")
	}

	k.Revoked = time.Now()
	if err := a.PutKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.verify(plain); ok {
		t.Fatal("a revoked key verified")
	}
	// The store holds the revocation: a restart does not bring the key back.
	if _, ok := newTestAuth(t, st).verify(plain); ok {
		t.Fatal("a revoked key verified after a restart")
	}
}

// TestRevokeRacingVerify revokes a key while other goroutines verify it: once PutKey has
// returned, no verification may pass (run it with -race).
func TestRevokeRacingVerify(t *testing.T) {
	a := newTestAuth(t, openKeyStore(t))
	k, plain := putKey(t, a, access.Decide)
	var revoked atomic.Bool
	var late atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20000 {
				after := revoked.Load()
				if _, ok := a.verify(plain); ok && after {
					late.Add(1)
				}
			}
		})
	}
	time.Sleep(time.Millisecond)
	k.Revoked = time.Now()
	if err := a.PutKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	revoked.Store(true)
	wg.Wait()
	if n := late.Load(); n != 0 {
		t.Fatalf("%d verifications passed after the revocation had returned", n)
	}
}

// TestSessionsPerKey checks the cap on one key's live sessions: one more sign-in ends
// the oldest, in memory and in the store.
func TestSessionsPerKey(t *testing.T) {
	st := openKeyStore(t)
	a := newTestAuth(t, st)
	ctx := context.Background()
	now := time.Now()
	var first access.Session
	for i := range maxSessionsPerKey + 1 {
		ss, _, err := access.NewSession("0000000a", now.Add(time.Hour+time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = ss
		}
		if err := a.startSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	other, _, _ := access.NewSession("0000000b", now.Add(time.Hour))
	if err := a.startSession(ctx, other); err != nil {
		t.Fatal(err)
	}
	stored, err := st.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, live := a.live[first.ID]; live || len(a.live) != maxSessionsPerKey+1 || len(stored) != maxSessionsPerKey+1 {
		t.Fatalf("%d sessions in memory, %d stored, the oldest live: %t; want %d and %d, the oldest ended",
			len(a.live), len(stored), live, maxSessionsPerKey+1, maxSessionsPerKey+1)
	}
	// A restart loads the same sessions.
	if b := newTestAuth(t, st); len(b.live) != maxSessionsPerKey+1 {
		t.Fatalf("a restart loaded %d sessions, want %d", len(b.live), maxSessionsPerKey+1)
	}
}

func BenchmarkVerify(b *testing.B) {
	a := newTestAuth(b, openKeyStore(b))
	_, plain := putKey(b, a, access.Decide)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := a.verify(plain); !ok {
				b.Fatal("key refused")
			}
		}
	})
}
