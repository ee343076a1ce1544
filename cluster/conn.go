package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Reconnect back-off: the first retry after reconnectMin, doubling up to reconnectMax,
// each with up to 20% jitter so that replicas do not reconnect in step.
const (
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 5 * time.Second
)

// Connect connects to NATS as the replica o.Name: to o.URLs, or to the embedded server's
// listener when URLs is empty, with TLS (o.TLS.CA verifies the server, Cert and Key are
// the client certificate) and a credentials file if set. The connection reconnects
// forever with back-off; disconnects, reconnects and asynchronous errors are logged. It
// returns once connected, or with an error naming the last failure when ctx ends first.
func Connect(ctx context.Context, o Options, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	urls := strings.Join(o.clientURLs(), ",")
	connected := make(chan struct{}, 1)
	signal := func() {
		select {
		case connected <- struct{}{}:
		default:
		}
	}
	nopts := []nats.Option{
		nats.Name(o.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.ConnectHandler(func(*nats.Conn) { signal() }),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			log.Warn("nats disconnected", "replica", o.Name, "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			signal()
			log.Info("nats reconnected", "replica", o.Name, "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("nats async error", "replica", o.Name, "subject", subject, "err", err)
		}),
	}
	if o.TLS.enabled() {
		tc, err := tlsConfig(o.TLS, false)
		if err != nil {
			return nil, nil, err
		}
		nopts = append(nopts, nats.Secure(tc))
	}
	if o.Creds != "" {
		if _, err := os.Stat(o.Creds); err != nil {
			return nil, nil, fmt.Errorf("cluster.creds: %w", err)
		}
		nopts = append(nopts, nats.UserCredentials(o.Creds))
	}
	nc, err := nats.Connect(urls, nopts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats %s: %w", urls, err)
	}
	if !nc.IsConnected() {
		select {
		case <-connected:
		case <-ctx.Done():
			last := nc.LastError()
			nc.Close()
			if last != nil {
				return nil, nil, fmt.Errorf("connect to nats %s: %w (last error: %v)", urls, ctx.Err(), last)
			}
			return nil, nil, fmt.Errorf("connect to nats %s: %w", urls, ctx.Err())
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream on %s: %w", urls, err)
	}
	return nc, js, nil
}

// reconnectDelay is the wait before reconnect attempt n (1, 2, ...).
func reconnectDelay(n int) time.Duration {
	d := reconnectMax
	if n < 16 {
		d = min(reconnectMin<<(n-1), reconnectMax)
	}
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// tlsConfig loads the PEM files: for a server, Cert/Key serve and CA verifies client
// certificates; for a client, CA verifies the server and Cert/Key are presented.
func tlsConfig(t TLSOptions, isServer bool) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("cluster.tls: load cert and key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("cluster.tls: read ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cluster.tls: ca %s holds no PEM certificate", t.CA)
		}
		if isServer {
			tc.ClientCAs = pool
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		} else {
			tc.RootCAs = pool
		}
	}
	return tc, nil
}
