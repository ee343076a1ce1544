package api

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Accept back-off: net/http's figures (5 ms, doubling, at most 1 s).
const (
	acceptDelayMin = 5 * time.Millisecond
	acceptDelayMax = time.Second
	acceptLogEvery = 10 * time.Second // at most one log line per streak of failures this often
	refuseLogEvery = time.Minute      // at most one log line about refused addresses this often
)

// listener is the server's listener with two guards.
//
// It rides out the accept errors that pass: out of file descriptors (the process's or the
// system's), a connection aborted before it was accepted, no buffers. fasthttp retries
// only timeouts and stops serving on any other error, which turned a burst of connections
// into a stopped server. Each failed accept is counted in
// nextbest_http_accept_errors_total and retried after a back-off; the first of a streak,
// then one every acceptLogEvery, is logged. Any other error (the listener closed at
// shutdown) is returned as it is.
//
// It caps the connections from one address at perIP (0: no cap): one more is answered 429
// (plain HTTP; over TLS it is only closed) and closed at once. fasthttp's own
// MaxConnsPerIP closes a connection twice when Shutdown meets it idle (fasthttp issue
// 1987, fixed after the version in go.mod), which returns its pooled wrapper twice.
type listener struct {
	net.Listener
	log   *slog.Logger
	met   *Metrics // optional
	perIP int

	mu    sync.Mutex
	conns map[netip.Addr]int // open connections by address, with perIP > 0

	// Only the accept loop (one goroutine) touches these.
	logged, refusedLogged time.Time
	failed                int // failures since the last log line
}

// Accept waits for the next connection, retrying transient failures and refusing
// addresses over their cap.
func (l *listener) Accept() (net.Conn, error) {
	delay := time.Duration(0)
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !transientAccept(err) {
				return nil, err
			}
			delay = min(max(2*delay, acceptDelayMin), acceptDelayMax)
			l.acceptFailed(err, delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if l.perIP <= 0 {
			return c, nil
		}
		ip := remoteAddr(c)
		if !ip.IsValid() || l.take(ip) {
			return l.track(c, ip), nil
		}
		l.refuse(c, ip)
	}
}

// acceptFailed counts and (at most every acceptLogEvery) logs a transient accept error.
func (l *listener) acceptFailed(err error, delay time.Duration) {
	if l.met != nil {
		l.met.acceptErrors.Inc()
	}
	l.failed++
	if now := time.Now(); now.Sub(l.logged) >= acceptLogEvery {
		l.log.Warn("accepting a connection failed; retrying (raise the open-file limit, or lower http.max_connections)", "err", err, "failures", l.failed, "retry_in", delay)
		l.logged, l.failed = now, 0
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

// remoteAddr is a connection's remote address (IPv4 in IPv6 unmapped), or the zero Addr.
func remoteAddr(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// take counts a connection from ip if ip is under its cap.
func (l *listener) take(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns[ip] >= l.perIP {
		return false
	}
	if l.conns == nil {
		l.conns = map[netip.Addr]int{}
	}
	l.conns[ip]++
	return true
}

// release uncounts a connection from ip.
func (l *listener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns[ip] <= 1 {
		delete(l.conns, ip)
		return
	}
	l.conns[ip]--
}

// refusedBody is the answer to a connection over its address's cap.
const refusedBody = `{"error":{"code":"too_many_connections","message":"too many connections from this address (http.max_conns_per_ip)"}}`

var refusedResponse = []byte("HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
	strconv.Itoa(len(refusedBody)) + "\r\n\r\n" + refusedBody)

// refuse answers a connection over its address's cap and closes it. A fresh socket's send
// buffer takes the few bytes at once; over TLS the answer would need a handshake, which
// the accept loop does not wait for.
func (l *listener) refuse(c net.Conn, ip netip.Addr) {
	if _, isTLS := c.(*tls.Conn); !isTLS {
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
		_, _ = c.Write(refusedResponse)
	}
	_ = c.Close()
	if now := time.Now(); now.Sub(l.refusedLogged) >= refuseLogEvery {
		l.log.Warn("refused a connection: its address has http.max_conns_per_ip connections open", "addr", ip.String(), "max_conns_per_ip", l.perIP)
		l.refusedLogged = now
	}
}

// track returns c such that closing it (once, however often Close is called) uncounts it.
// A TLS connection stays a *tls.Conn underneath, so that the server still sees TLS.
func (l *listener) track(c net.Conn, ip netip.Addr) net.Conn {
	if !ip.IsValid() {
		return c
	}
	s := &slot{l: l, ip: ip}
	if tc, ok := c.(*tls.Conn); ok {
		return &trackedTLSConn{Conn: tc, slot: s}
	}
	return &trackedConn{Conn: c, slot: s}
}

// slot is one counted connection; free uncounts it once.
type slot struct {
	l    *listener
	ip   netip.Addr
	once sync.Once
}

func (s *slot) free() { s.once.Do(func() { s.l.release(s.ip) }) }

type trackedConn struct {
	net.Conn
	slot *slot
}

// Close closes the connection and uncounts it.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.slot.free()
	return err
}

type trackedTLSConn struct {
	*tls.Conn
	slot *slot
}

// Close closes the connection and uncounts it.
func (c *trackedTLSConn) Close() error {
	err := c.Conn.Close()
	c.slot.free()
	return err
}
