// Package testserver runs the real parts for the tests of the packages that drive a
// nextbest server: the service (internal/service) in-process on 127.0.0.1:0 over Badger in
// a directory, and the nextbest binary built for a child process. Tests only: it imports
// package testing.
package testserver

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/internal/service"
)

// Server is the service running in-process on 127.0.0.1:0.
type Server struct {
	URL  string      // "http://127.0.0.1:PORT"
	Data string      // the store's directory
	Out  *SyncBuffer // what the service printed (the first admin key, for one)
	// Clustered: the service is a replica of a cluster (Options.Cluster set).
	Clustered bool

	cancel context.CancelFunc
	done   chan error
}

// Start runs the service over a store in dir with the tests' defaults (demo off, keyless
// on loopback, no scheduled jobs: tests drive scheduled work themselves), changed by
// mutate, and waits until it is ready (10 seconds at the most; a minute for a replica of a
// cluster, which first waits for its NATS servers' JetStream, the scheduler's lease and
// the log, seconds more on a busy machine). The service logs warnings and errors to stderr.
func Start(t testing.TB, dir string, mutate func(*service.Options)) *Server {
	t.Helper()
	s := launch(t, dir, mutate)
	wait := 10 * time.Second
	if s.Clustered {
		wait = time.Minute
	}
	s.WaitReady(t, wait)
	return s
}

// launch starts the service over a store in dir with the tests' defaults changed by
// mutate, without waiting for it.
func launch(t testing.TB, dir string, mutate func(*service.Options)) *Server {
	t.Helper()
	o := service.DefaultOptions()
	o.Data, o.Demo, o.InsecureLocal, o.Schedule = dir, false, true, service.Schedule{}
	if mutate != nil {
		mutate(&o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{URL: "http://" + ln.Addr().String(), Data: dir, Clustered: o.Cluster != nil, Out: &SyncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { s.done <- service.Run(ctx, o, ln, log, s.Out) }()
	return s
}

// WaitReady waits until the server's /readyz answers ready, failing the test after max
// or if the service stops first.
func (s *Server) WaitReady(t testing.TB, max time.Duration) {
	t.Helper()
	// The readiness probe's connection is closed once the server is ready, so that a
	// test of connection limits counts only its own (TestConnectionCaps).
	// A probe's timeout: the listener accepts connections before the service serves them.
	probe := &http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Second}
	defer probe.CloseIdleConnections()
	c := client.New(s.URL, client.WithHTTPClient(probe))
	ctx := context.Background()
	for deadline := time.Now().Add(max); ; time.Sleep(20 * time.Millisecond) {
		_, err := c.Readyz(ctx)
		if err == nil {
			return
		}
		select {
		case err := <-s.done:
			s.done <- err // for Stop
			t.Fatalf("server stopped before it was ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after %v: %v", max, err)
		}
	}
}

// Stop shuts the server down as SIGTERM does and waits for it (30 seconds at the most).
// It returns what the service returned.
func (s *Server) Stop() error {
	s.cancel()
	select {
	case err := <-s.done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("server did not stop within 30s")
	}
}

// BuildNextbest builds the nextbest binary into a temporary directory and returns its
// path. The go command is found on PATH: go test puts its own GOROOT/bin first; without
// one the test is skipped.
func BuildNextbest(t testing.TB) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the binary with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "nextbest")
	if out, err := exec.Command(gobin, "build", "-o", bin, "github.com/nextbest/nextbest/cmd/nextbest").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// SyncBuffer is a bytes.Buffer safe for a writer and a reader in different goroutines:
// a server's or a child process's output that a test reads while it runs.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what has been written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
