package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"

	"github.com/nextbest/nextbest/cluster"
	"github.com/nextbest/nextbest/internal/cli"
	"github.com/nextbest/nextbest/internal/service"
	"github.com/spf13/cobra"
)

func serveCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:8080] [--data ./data] [--config FILE]",
		Short: "Run the service",
		Long: `serve runs the decision API and the dashboards over the embedded store until SIGTERM or
SIGINT, then shuts down in order: in-flight requests, running jobs, the journal and the
models' snapshots, the store. Flags override the config file, which overrides the
defaults (docs/configuration.md). On first start with no keys it prints an admin key once.`,
		Example: `  nextbest serve
  nextbest serve --config nextbest.yaml --addr :8080 --data /var/lib/nextbest
  nextbest serve --config cmd/nextbest/demo.yaml   # manual clock, for nextbest simulate
  nextbest serve --cluster r1 --data d1 --addr 127.0.0.1:8081 --nats-listen 127.0.0.1:4221 \
    --nats-cluster-listen 127.0.0.1:6221 --nats-routes nats-route://127.0.0.1:6222,nats-route://127.0.0.1:6223`,
		Args: cli.NoArgs,
	}
	fs := c.Flags()
	o := service.DefaultOptions()
	addr := fs.String("addr", "", "listen address (default "+o.Addr+")")
	data := fs.String("data", "", "data directory of the embedded Badger store (default "+o.Data+")")
	config := fs.String("config", "", "YAML config file (see docs/configuration.md)")
	noDemo := fs.Bool("no-demo", false, "do not load the demo catalog into an empty store")
	insecure := fs.Bool("insecure-local", false, "allow requests without an API key (they act as admin); refused unless --addr is a loopback address")
	tlsCert := fs.String("tls-cert", "", "PEM certificate file: serve HTTPS (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM private key file for --tls-cert")
	co := cluster.DefaultOptions()
	fs.StringVar(&co.Name, "cluster", "", "run as the replica NAME of a cluster sharing one brain on NATS JetStream (docs/scale-out.md)")
	fs.StringSliceVar(&co.URLs, "nats-url", nil, "external NATS servers (nats://host:4222,...); without it the replica runs an embedded server")
	fs.StringVar(&co.Embedded.Listen, "nats-listen", co.Embedded.Listen, "the embedded NATS server's client address")
	fs.StringVar(&co.Embedded.ClusterListen, "nats-cluster-listen", "", "the embedded NATS server's route address (host:port), to form a cluster with --nats-routes")
	fs.StringSliceVar(&co.Embedded.Routes, "nats-routes", nil, "the other embedded servers' routes (nats-route://host:port,...)")
	fs.IntVar(&co.Replicas, "nats-replicas", co.Replicas, "servers that store each message of the log (1, or 3 to survive the loss of one)")
	fs.BoolVar(&co.Embedded.SyncAlways, "nats-sync-always", false, "the embedded NATS server fsyncs every message before acknowledging it (needed for a 1-server stream to survive power loss)")
	fs.StringVar(&co.Creds, "nats-creds", "", "NATS user credentials file (.creds)")
	fs.StringVar(&co.TLS.CA, "nats-tls-ca", "", "PEM CA that verifies the NATS servers")
	fs.StringVar(&co.TLS.Cert, "nats-tls-cert", "", "PEM client certificate for NATS (with --nats-tls-key)")
	fs.StringVar(&co.TLS.Key, "nats-tls-key", "", "PEM key of --nats-tls-cert")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx, stdout := c.Context(), c.OutOrStdout()
		if *config != "" {
			if err := service.LoadConfig(&o, *config); err != nil {
				return err
			}
		}
		if *addr != "" {
			o.Addr = *addr
		}
		if *data != "" {
			o.Data = *data
		}
		if *noDemo {
			o.Demo = false
		}
		if *insecure {
			o.InsecureLocal = true
		}
		if *tlsCert != "" || *tlsKey != "" {
			o.TLSCert, o.TLSKey = *tlsCert, *tlsKey
		}
		if co.Name != "" {
			if o.Cluster == nil { // flags override the config file's cluster block
				o.Cluster = &co
			} else {
				overlayCluster(o.Cluster, &co, fs.Changed)
			}
		}
		if err := o.Validate(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
		log, err := service.NewLogger(o.LogLevel, os.Stderr)
		if err != nil {
			return err
		}
		service.ApplyMemoryLimit(o.MemoryLimitMB, log)
		service.ApplyProcs(o.GoMaxProcs, log)
		ln, err := net.Listen("tcp", o.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", o.Addr, err)
		}
		if o.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
			if err != nil {
				ln.Close()
				return fmt.Errorf("tls: %w", err)
			}
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		}
		o.Version = version
		return service.Run(ctx, o, ln, log, stdout)

	}
	return c
}

// overlayCluster sets in o the cluster flags that were given.
func overlayCluster(o, flags *cluster.Options, changed func(string) bool) {
	o.Name = flags.Name
	set := map[string]func(){
		"nats-url": func() { o.URLs = flags.URLs }, "nats-listen": func() { o.Embedded.Listen = flags.Embedded.Listen },
		"nats-cluster-listen": func() { o.Embedded.ClusterListen = flags.Embedded.ClusterListen },
		"nats-routes":         func() { o.Embedded.Routes = flags.Embedded.Routes }, "nats-replicas": func() { o.Replicas = flags.Replicas },
		"nats-creds": func() { o.Creds = flags.Creds }, "nats-sync-always": func() { o.Embedded.SyncAlways = flags.Embedded.SyncAlways }, "nats-tls-ca": func() { o.TLS.CA = flags.TLS.CA },
		"nats-tls-cert": func() { o.TLS.Cert = flags.TLS.Cert }, "nats-tls-key": func() { o.TLS.Key = flags.TLS.Key },
	}
	for name, f := range set {
		if changed(name) {
			f()
		}
	}
}
