package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"

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
  nextbest serve --config cmd/nextbest/demo.yaml   # manual clock, for nextbest simulate`,
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
