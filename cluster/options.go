package cluster

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"time"
)

// Options configures a replica's place in the cluster: which NATS it talks to (an
// embedded server or external URLs), how it authenticates, and the shape of the stream,
// lease bucket and snapshot store it uses.
type Options struct {
	// Name is the replica's name: the embedded server's name, the client connection's
	// name and the holder written into leases. Unique in the cluster.
	Name string `yaml:"name"`
	// URLs of an external NATS cluster (nats://host:4222, tls://...): the production
	// shape. Empty means an embedded server, configured by Embedded.
	URLs []string `yaml:"urls"`
	// Embedded configures the nats-server started inside the process when URLs is empty.
	Embedded EmbeddedOptions `yaml:"embedded"`
	// TLS configures the client connection and, with an embedded server, its listeners.
	TLS TLSOptions `yaml:"tls"`
	// Creds is a NATS user credentials file (.creds: a user JWT and its nkey seed).
	Creds string `yaml:"creds"`
	// Replicas is how many servers store each message of the stream, the lease bucket and
	// the snapshot store (1 to 5; 3 survives one lost server).
	Replicas int `yaml:"replicas"`
	// Stream is the JetStream stream's name; its subjects are the lower-cased name and
	// ".>" ("nextbest.>"), and the bucket and object store are named after it.
	Stream string `yaml:"stream"`
	// MaxAge drops messages older than this from the stream (0 keeps them). A replica
	// stopped for longer must restore a snapshot taken within it.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxBytes caps the stream's size, dropping the oldest messages beyond it (0: no cap).
	MaxBytes int64 `yaml:"max_bytes"`
	// Duplicates is the window in which a second publish with the same message id is
	// dropped (PubAck.Duplicate); at most MaxAge when MaxAge is set.
	Duplicates time.Duration `yaml:"duplicates"`
	// LeaseTTL is how long a lease outlives its holder's last renewal: the lease bucket's
	// TTL. A dead leader's jobs move to another replica within about twice this.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

// EmbeddedOptions configures the nats-server embedded in the replica's process.
type EmbeddedOptions struct {
	// Listen is the client listener's host:port.
	Listen string `yaml:"listen"`
	// ClusterListen is the route listener's host:port; empty runs a single server
	// without a cluster (then Replicas must be 1).
	ClusterListen string `yaml:"cluster_listen"`
	// Routes are the peers' route URLs (nats-route://host:port); with ClusterListen the
	// servers form a Raft cluster named "nextbest".
	Routes []string `yaml:"routes"`
	// StoreDir is where JetStream keeps its files; empty means <data dir>/nats
	// (SetDataDir fills it in).
	StoreDir string `yaml:"store_dir"`
	// SyncAlways makes the embedded server fsync every message before it acknowledges
	// it (nats-server's jetstream sync: always). Off (NATS's default), a message is
	// flushed to the OS at once and fsync'd every two minutes: it survives the death of
	// any process, and a machine's power loss as long as another replica of the stream
	// holds it (R3); a single-server stream that must survive power loss needs this on.
	SyncAlways bool `yaml:"sync_always"`
}

// TLSOptions are PEM files: CA verifies the other side, Cert and Key are this side's.
type TLSOptions struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// enabled reports whether any TLS file is configured.
func (t TLSOptions) enabled() bool { return t.CA != "" || t.Cert != "" || t.Key != "" }

// DefaultOptions returns the defaults: an embedded server on 127.0.0.1:4222, stream
// NEXTBEST with 3 replicas, kept 7 days, a 10 minute duplicate window and 10 s leases.
func DefaultOptions() Options {
	return Options{
		Embedded:   EmbeddedOptions{Listen: "127.0.0.1:4222"},
		Replicas:   3,
		Stream:     "NEXTBEST",
		MaxAge:     7 * 24 * time.Hour,
		Duplicates: 10 * time.Minute,
		LeaseTTL:   10 * time.Second,
	}
}

// SetDataDir sets Embedded.StoreDir to <dataDir>/nats if it is empty.
func (o *Options) SetDataDir(dataDir string) {
	if o.Embedded.StoreDir == "" {
		o.Embedded.StoreDir = filepath.Join(dataDir, "nats")
	}
}

// names are what NATS accepts in server, stream and bucket names and what a subject
// token may hold.
var names = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Validate checks the options.
func (o *Options) Validate() error {
	if !names.MatchString(o.Name) {
		return fmt.Errorf("cluster.name: %q must be a non-empty name of letters, digits, '-' and '_' (unique per replica)", o.Name)
	}
	if !names.MatchString(o.Stream) {
		return fmt.Errorf("cluster.stream: %q must be a non-empty name of letters, digits, '-' and '_'", o.Stream)
	}
	if o.Replicas < 1 || o.Replicas > 5 {
		return fmt.Errorf("cluster.replicas: must be between 1 and 5, got %d", o.Replicas)
	}
	if o.MaxAge < 0 || o.MaxBytes < 0 {
		return fmt.Errorf("cluster.max_age and cluster.max_bytes: must not be negative (0: no limit)")
	}
	if o.Duplicates <= 0 || (o.MaxAge > 0 && o.Duplicates > o.MaxAge) {
		return fmt.Errorf("cluster.duplicates: must be positive and at most max_age (%v), got %v", o.MaxAge, o.Duplicates)
	}
	if o.LeaseTTL < 100*time.Millisecond {
		return fmt.Errorf("cluster.lease_ttl: must be at least 100ms, got %v", o.LeaseTTL)
	}
	if (o.TLS.Cert == "") != (o.TLS.Key == "") {
		return fmt.Errorf("cluster.tls: give both cert and key, or neither")
	}
	for _, u := range o.URLs {
		p, err := url.Parse(u)
		if err != nil || p.Host == "" {
			return fmt.Errorf("cluster.urls: %q is not a URL like nats://host:4222", u)
		}
	}
	if len(o.URLs) > 0 {
		return nil
	}
	e := o.Embedded
	if _, _, err := net.SplitHostPort(e.Listen); err != nil {
		return fmt.Errorf("cluster.embedded.listen: %q is not host:port", e.Listen)
	}
	if e.StoreDir == "" {
		return fmt.Errorf("cluster.embedded.store_dir: a directory is required")
	}
	if o.TLS.enabled() && o.TLS.Cert == "" {
		return fmt.Errorf("cluster.tls: an embedded server needs cert and key to serve TLS")
	}
	if e.ClusterListen == "" {
		if len(e.Routes) > 0 {
			return fmt.Errorf("cluster.embedded.routes: need cluster_listen, the route listener")
		}
		if o.Replicas > 1 {
			return fmt.Errorf("cluster.replicas: %d needs a cluster (embedded.cluster_listen and routes, or urls); a single server holds 1", o.Replicas)
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(e.ClusterListen); err != nil {
		return fmt.Errorf("cluster.embedded.cluster_listen: %q is not host:port", e.ClusterListen)
	}
	for _, r := range e.Routes {
		p, err := url.Parse(r)
		if err != nil || p.Scheme != "nats-route" || p.Host == "" {
			return fmt.Errorf("cluster.embedded.routes: %q is not nats-route://host:port", r)
		}
	}
	return nil
}

// clientURLs are the URLs Connect dials: URLs, or the embedded server's listener.
func (o *Options) clientURLs() []string {
	if len(o.URLs) > 0 {
		return o.URLs
	}
	return []string{"nats://" + o.Embedded.Listen}
}
