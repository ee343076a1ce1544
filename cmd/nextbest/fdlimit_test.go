//go:build linux

package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/internal/testserver"
)

// fdLimit is the open-file limit the server runs under here: low enough that a test can
// open more connections than it, high enough for Badger's files.
const fdLimit = 256

// limitedBinary returns a script that runs bin under an open-file limit of n (soft and
// hard, so that Go's start-up raise of the soft limit to the hard one changes nothing).
func limitedBinary(t *testing.T, bin string, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nextbest-limited")
	script := fmt.Sprintf("#!/bin/sh\nulimit -n %d || exit 97\nexec %q \"$@\"\n", n, bin)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDescriptorExhaustion is issue 15's defect 2: with about as many slow connections as
// the open-file limit, fasthttp's accept failed with "too many open files", serve took
// the server's return for a shutdown, and the process exited with code 0, so that a
// supervisor restarting on failure left it down. Now connections beyond the cap are
// refused (503) before they can use the last descriptors, accept errors that pass are
// retried with a back-off, and the server answers again once the connections go.
//
// Run twice: with the cap derived from the limit (the default), and with the cap set far
// above the limit, where accept itself runs out of descriptors and must be retried.
func TestDescriptorExhaustion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := limitedBinary(t, testserver.BuildNextbest(t), fdLimit)
	for _, tc := range []struct {
		name, config string
		acceptErrors bool // whether accept runs out of descriptors
	}{
		{"default cap", "", false},
		{"no cap", "http:\n  max_connections: 100000\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			config := ""
			if tc.config != "" {
				config = writeChildConfig(t, dir, tc.config)
			}
			p := startChild(t, bin, filepath.Join(dir, "data"), config)
			addr := strings.TrimPrefix(p.base, "http://")

			// Three times the limit of connections, each with half a request: the server
			// waits for the rest (up to http.read_timeout, 30 s).
			var conns []net.Conn
			dialErrs := 0
			for range 3 * fdLimit {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					dialErrs++
					continue
				}
				conns = append(conns, c)
				_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n"))
			}
			time.Sleep(2 * time.Second) // time for the accept loop to meet the limit
			select {
			case <-p.exited:
				t.Fatalf("the server exited (code %d) under %d slow connections\n%s", p.cmd.ProcessState.ExitCode(), len(conns), tailOf(p.stderr.String(), 3000))
			default:
			}
			for _, c := range conns {
				c.Close()
			}

			// The server answers again once the connections are gone.
			hc := &http.Client{Timeout: 5 * time.Second}
			deadline := time.Now().Add(30 * time.Second)
			for {
				resp, err := hc.Get(p.base + "/healthz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						break
					}
				}
				select {
				case <-p.exited:
					t.Fatalf("the server exited (code %d) after the connections closed\n%s", p.cmd.ProcessState.ExitCode(), tailOf(p.stderr.String(), 3000))
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("no 200 from /healthz within 30 s of closing the connections (last: %v)\n%s", err, tailOf(p.stderr.String(), 3000))
				}
				time.Sleep(100 * time.Millisecond)
			}
			code, raw, err := childSend(hc, "GET", p.base+"/metrics", nil)
			if err != nil || code != http.StatusOK {
				t.Fatalf("GET /metrics: %d %v", code, err)
			}
			hc.CloseIdleConnections()
			failed := strings.Contains(p.stderr.String(), "accepting a connection failed; retrying")
			counted := !strings.Contains(string(raw), "nextbest_http_accept_errors_total 0\n")
			if failed != tc.acceptErrors || counted != tc.acceptErrors {
				t.Errorf("accept errors logged %t, counted %t; want %t for both", failed, counted, tc.acceptErrors)
			}
			t.Logf("%d connections held (%d dials failed); log:\n%s", len(conns), dialErrs, grepLog(p.stderr.String(), "connection", "accept"))
			if code := p.terminate(); code != 0 {
				t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, tailOf(p.stderr.String(), 3000))
			}
		})
	}
}

// grepLog returns the log lines that contain any of words.
func grepLog(log string, words ...string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
