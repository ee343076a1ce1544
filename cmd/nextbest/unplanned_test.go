package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/nextbest/nextbest/internal/service"
	"github.com/nextbest/nextbest/internal/testserver"
)

// TestUnplannedStopIsAnError: when the HTTP server stops without being asked to (here its
// listener is closed under it), serve shuts the rest down in order and returns an error,
// so that main exits non-zero and a supervisor that restarts on failure restarts the
// service. Before the fix serve returned nil, and the process exited with code 0.
func TestUnplannedStopIsAnError(t *testing.T) {
	o := service.DefaultOptions()
	o.Data = filepath.Join(t.TempDir(), "data")
	o.Demo, o.InsecureLocal, o.Schedule = false, true, service.Schedule{}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, o, ln, slog.New(slog.DiscardHandler), &testserver.SyncBuffer{}) }()
	base := "http://" + ln.Addr().String()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 30 s: %v", err)
		}
	}

	ln.Close() // not a shutdown: ctx is not cancelled
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("serve returned nil after its HTTP server stopped unasked; want an error (a non-zero exit)")
		}
		t.Logf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return within 30 s of its HTTP server stopping")
	}
}
