package cluster

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// clusterName is the NATS cluster name of every embedded server.
const clusterName = "nextbest"

// readyTimeout bounds how long StartServer waits for the server's listeners.
const readyTimeout = 10 * time.Second

// Server is an embedded nats-server with JetStream.
type Server struct {
	ns *server.Server
}

// StartServer starts the embedded nats-server that o.Embedded describes, with JetStream
// storing in o.Embedded.StoreDir, named o.Name, and returns once it accepts client
// connections. With ClusterListen and Routes it joins the other servers in the Raft
// cluster "nextbest"; the cluster's JetStream is usable once a meta leader is elected,
// which Ensure waits for. log receives the server's warnings and errors (its notices at
// debug level); nil discards them.
func StartServer(o Options, log *slog.Logger) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if len(o.URLs) > 0 {
		return nil, fmt.Errorf("start nats server: urls are set, so the replica uses an external NATS, not an embedded server")
	}
	sopts, err := serverOptions(o)
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("start nats server %q: %w", o.Name, err)
	}
	if log != nil {
		ns.SetLoggerV2(serverLog{log}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(readyTimeout) {
		ns.Shutdown()
		return nil, fmt.Errorf("start nats server %q: not ready for connections on %s within %v", o.Name, o.Embedded.Listen, readyTimeout)
	}
	return &Server{ns: ns}, nil
}

// serverOptions translates Options into nats-server's.
func serverOptions(o Options) (*server.Options, error) {
	e := o.Embedded
	host, port, err := hostPort(e.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster.embedded.listen: %w", err)
	}
	sopts := &server.Options{
		ServerName: o.Name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   e.StoreDir,
		SyncAlways: e.SyncAlways,
		NoSigs:     true,
		NoLog:      true,
	}
	var tc *tls.Config
	if o.TLS.enabled() {
		if tc, err = tlsConfig(o.TLS, true); err != nil {
			return nil, err
		}
		sopts.TLSConfig = tc
		sopts.TLS = true
		sopts.TLSVerify = o.TLS.CA != ""
		sopts.TLSTimeout = 2
	}
	if e.ClusterListen == "" {
		return sopts, nil
	}
	chost, cport, err := hostPort(e.ClusterListen)
	if err != nil {
		return nil, fmt.Errorf("cluster.embedded.cluster_listen: %w", err)
	}
	sopts.Cluster = server.ClusterOpts{Name: clusterName, Host: chost, Port: cport}
	if tc != nil {
		sopts.Cluster.TLSConfig = tc
		sopts.Cluster.TLSTimeout = 2
	}
	if len(e.Routes) > 0 {
		sopts.Routes = server.RoutesFromStr(strings.Join(e.Routes, ","))
	}
	return sopts, nil
}

// hostPort splits host:port.
func hostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number in [0, 65535]", p)
	}
	return h, n, nil
}

// ClientURL is the URL clients connect to (nats://host:port).
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Name is the server's name (the replica's name).
func (s *Server) Name() string { return s.ns.Name() }

// Ready reports whether the server accepts connections and its JetStream knows the
// current meta leader (always true for a server without a cluster once started).
func (s *Server) Ready() bool {
	if !s.ns.Running() || !s.ns.JetStreamEnabled() {
		return false
	}
	if !s.ns.JetStreamIsClustered() {
		return true
	}
	return s.ns.JetStreamIsCurrent()
}

// Shutdown stops the server: clients are disconnected and the Raft groups it leads
// hand their leadership to a peer first. It does not wait for the server's goroutines;
// WaitForShutdown does.
func (s *Server) Shutdown() { s.ns.Shutdown() }

// WaitForShutdown blocks until the server has shut down.
func (s *Server) WaitForShutdown() { s.ns.WaitForShutdown() }

// serverLog sends the server's log lines to slog; notices, which the server writes many
// of at start, go to debug.
type serverLog struct{ log *slog.Logger }

func (l serverLog) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLog) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l serverLog) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLog) Tracef(format string, v ...any)  {}
