package store

import (
	"context"
	"testing"
	"time"

	"github.com/nextbest/nextbest/access"
)

// TestSessions checks the dashboard sessions' table: a session is listed until it is
// deleted or expires, and a deletion holds across a reopen (a signed-out session must not
// come back after a restart).
func TestSessions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	now := time.Now()
	out, _, err := access.NewSession("00000001", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	stay, _, _ := access.NewSession("00000002", now.Add(time.Hour))
	short, _, _ := access.NewSession("00000003", now.Add(time.Second)) // Badger's TTLs are whole seconds
	over, _, _ := access.NewSession("00000004", now.Add(-time.Second))
	for _, ss := range []access.Session{out, stay, short, over} {
		if err := s.PutSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() map[access.SessionID]access.Session {
		t.Helper()
		list, err := s.Sessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[access.SessionID]access.Session{}
		for _, ss := range list {
			m[ss.ID] = ss
		}
		return m
	}
	got := ids()
	if len(got) != 3 || got[stay.ID].KeyID != "00000002" || !got[stay.ID].Expires.Equal(stay.Expires) {
		t.Fatalf("sessions %v: want out, stay and short, as stored (the expired one not at all)", got)
	}
	if err := s.DeleteSession(ctx, out.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, "absent"); err != nil {
		t.Fatalf("deleting an absent session: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // past the short session's end, whatever the rounding
	s = openTest(t, dir)
	defer s.Close()
	if got := ids(); len(got) != 1 || got[stay.ID].ID != stay.ID {
		t.Fatalf("after a sign-out, an expiry and a reopen: sessions %v, want only the live one", got)
	}
}
