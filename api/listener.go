package api

import (
	"errors"
	"log/slog"
	"net"
	"syscall"
	"time"
)

// Accept back-off: net/http's figures (5 ms, doubling, at most 1 s).
const (
	acceptDelayMin = 5 * time.Millisecond
	acceptDelayMax = time.Second
	acceptLogEvery = 10 * time.Second // at most one log line per streak of failures this often
)

// retryListener rides out the accept errors that pass: out of file descriptors (the
// process's or the system's), a connection aborted before it was accepted, no buffers.
// fasthttp retries only timeouts and stops serving on any other error, which turned a
// burst of connections into a stopped server. Each failed accept is counted in
// nextbest_http_accept_errors_total and retried after a back-off; the first of a streak,
// then one every acceptLogEvery, is logged. Any other error (the listener closed at
// shutdown) is returned as it is.
type retryListener struct {
	net.Listener
	log *slog.Logger
	met *Metrics // optional
	// Only the accept loop (one goroutine) touches these.
	logged time.Time
	failed int // failures since the last log line
}

// Accept waits for the next connection, retrying transient failures.
func (l *retryListener) Accept() (net.Conn, error) {
	delay := time.Duration(0)
	for {
		c, err := l.Listener.Accept()
		if err == nil || !transientAccept(err) {
			return c, err
		}
		delay = min(max(2*delay, acceptDelayMin), acceptDelayMax)
		if l.met != nil {
			l.met.counter(`nextbest_http_accept_errors_total`).Inc()
		}
		l.failed++
		if now := time.Now(); now.Sub(l.logged) >= acceptLogEvery {
			l.log.Warn("accepting a connection failed; retrying (raise the open-file limit, or lower http.max_connections)", "err", err, "failures", l.failed, "retry_in", delay)
			l.logged, l.failed = now, 0
		}
		time.Sleep(delay)
	}
}

// transientAccept reports whether an accept error passes by itself.
func transientAccept(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOBUFS, syscall.ENOMEM, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
