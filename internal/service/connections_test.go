package service

import (
	"log/slog"
	"testing"
)

// TestConnectionCap: a configured cap is used as it is; a derived one leaves room under
// the open-file limit for the files open now and the reserve.
func TestConnectionCap(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if got := connectionCap(123, log); got != 123 {
		t.Errorf("configured 123: got %d", got)
	}
	limit, ok := openFileLimit()
	if !ok {
		t.Skip("no open-file limit on this system")
	}
	got := connectionCap(0, log)
	room := limit - openFiles() - max(minFileReserve, limit/4)
	if want := min(max(room, minConnections), maxConnectionsCap); got != want {
		t.Errorf("derived cap %d under a limit of %d, want %d", got, limit, want)
	}
}
