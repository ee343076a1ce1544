package api

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestListenerPerIP: with a cap of 2 connections per address, a third from the same
// address is answered 429 with the JSON error and closed; closing a counted connection
// frees its slot once, however often it is closed (fasthttp's own per-address cap
// released a connection twice when Shutdown met it idle).
func TestListenerPerIP(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &listener{Listener: raw, log: slog.New(slog.DiscardHandler), perIP: 2}
	defer l.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	serverSide := func() net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no connection accepted within 10 s")
			return nil
		}
	}
	refused := func(c net.Conn) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("the connection over the cap got no answer: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusTooManyRequests || string(body) != refusedBody {
			t.Fatalf("over the cap: status %d, body %s; want 429 with the JSON error", resp.StatusCode, body)
		}
	}

	dial()
	first := serverSide()
	dial()
	serverSide()
	refused(dial())
	// One counted connection closed twice frees one slot: one more is accepted, the
	// next refused.
	first.Close()
	first.Close()
	dial()
	serverSide()
	refused(dial())
	select {
	case c := <-accepted:
		t.Fatalf("a connection over the cap was accepted: %v", c.RemoteAddr())
	default:
	}
}
