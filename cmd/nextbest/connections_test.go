package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/internal/service"
)

// TestConnectionCaps: with http.max_connections or http.max_conns_per_ip reached, one
// more connection is answered (503 or 429) and closed at once, instead of holding a
// descriptor; once the held connections go, requests are served again.
func TestConnectionCaps(t *testing.T) {
	const held = 5
	for _, tc := range []struct {
		name   string
		mutate func(*service.Options)
		want   int
	}{
		{"max_connections", func(o *service.Options) { o.HTTP.MaxConnections = held }, http.StatusServiceUnavailable},
		{"max_conns_per_ip", func(o *service.Options) { o.HTTP.MaxConnsPerIP = held }, http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, t.TempDir(), tc.mutate)
			defer s.stop()
			addr := strings.TrimPrefix(s.base, "http://")
			// startServer's readiness probe left a keep-alive connection: close it, so
			// that the test's own are all the server holds.
			http.DefaultClient.CloseIdleConnections()
			time.Sleep(100 * time.Millisecond)
			var conns []net.Conn
			for range held {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")) // half a request
				conns = append(conns, c)
			}
			time.Sleep(200 * time.Millisecond) // the server takes them up
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			c.Close()
			if err != nil {
				t.Fatalf("connection %d: %v", held+1, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("connection %d: status %d, want %d", held+1, resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusTooManyRequests && !json.Valid(body) {
				t.Errorf("the 429 body is not JSON: %q", body)
			}
			for _, c := range conns {
				c.Close()
			}
			// Every slot is freed: as many connections as the cap are served again, at once.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				ok := servedAtOnce(t, addr, held)
				if ok == held {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d connections served at once, 10 s after the held ones closed", ok, held)
				}
			}
		})
	}
}

// servedAtOnce opens n connections to addr, sends a request on each while all are open,
// and returns how many were answered 200.
func servedAtOnce(t *testing.T, addr string, n int) int {
	t.Helper()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	ok := 0
	for _, c := range conns {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ok++
			}
		}
	}
	return ok
}
