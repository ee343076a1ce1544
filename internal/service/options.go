package service

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api"
	"github.com/nextbest/nextbest/cluster"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// Options is the whole configuration of `nextbest serve`: defaults, overridden by the YAML
// config file, overridden by flags. docs/configuration.md documents every field.
type Options struct {
	Addr     string `yaml:"addr"`
	Data     string `yaml:"data"`
	LogLevel string `yaml:"log_level"` // debug, info, warn, error
	Demo     bool   `yaml:"demo"`      // load the demo catalog on first start with an empty store

	// InsecureLocal allows requests without a key (they act as admin); only on a loopback address.
	InsecureLocal bool   `yaml:"insecure_local"`
	TLSCert       string `yaml:"tls_cert"` // PEM certificate file; with TLSKey, serve HTTPS
	TLSKey        string `yaml:"tls_key"`
	// Clock is "system" (wall time) or "manual": a replay or simulation moves it with
	// POST /v1/clock, and scheduled work runs as the clock passes its due times.
	Clock string `yaml:"clock"`
	// ClockStart is where a manual clock starts (RFC 3339); empty means the wall time at start.
	ClockStart string `yaml:"clock_start"`
	// RateLimits caps requests per second per key, by role name; 0 means unlimited.
	RateLimits map[string]int `yaml:"rate_limits"`
	// MemoryLimitMB is the Go runtime's soft memory limit in MiB, set at start with
	// runtime/debug.SetMemoryLimit; a GOMEMLIMIT environment variable wins over it, and 0
	// means no limit. It keeps the heap near what is live instead of twice that.
	MemoryLimitMB int64 `yaml:"memory_limit_mb"`
	// GoMaxProcs is how many goroutines run Go code at once (runtime.GOMAXPROCS); 0 means
	// procsPerCPU times the runtime's default (the CPUs the process may use), and a
	// GOMAXPROCS environment variable wins over it. See ApplyProcs for why more than the
	// CPUs.
	GoMaxProcs int `yaml:"gomaxprocs"`

	Store      StoreOptions     `yaml:"store"`
	Engine     engine.Options   `yaml:"engine"`
	HTTP       HTTPOptions      `yaml:"http"`
	Schedule   Schedule         `yaml:"schedule"`
	Dashboards DashboardOptions `yaml:"dashboards"`
	// Cluster, when set, makes the service a replica of a cluster that shares one brain
	// through a replicated log on NATS JetStream (docs/scale-out.md); nil (the default)
	// is a single node on its own Badger store.
	Cluster *cluster.Options `yaml:"cluster"`

	// Version is the running binary's version, shown at start and in /metrics; the
	// binary sets it, not the config file.
	Version string `yaml:"-"`
}

// DashboardOptions configures the web pages.
type DashboardOptions struct {
	// Currency is written before the amounts of money in the uplift page's sentences
	// ("EUR"); empty writes bare amounts. The engine keeps amounts in whatever unit the
	// catalog's values and the recorded outcomes are in.
	Currency string `yaml:"currency"`
}

// StoreOptions sizes Badger. Its share of the Go heap is roughly memtable_mb x
// num_memtables + block_cache_mb + index_cache_mb, plus table builders during flushes and
// compactions (docs/configuration.md adds it up with the rest of memory_limit_mb).
type StoreOptions struct {
	SyncWrites bool `yaml:"sync_writes"`
	// LazySync: how long a logged decision (which no request waits for) may wait for its
	// fsync; any acknowledged write fsyncs it sooner.
	LazySync     time.Duration `yaml:"lazy_sync"`
	Retention    time.Duration `yaml:"retention"`
	MemTableMB   int64         `yaml:"memtable_mb"`
	NumMemtables int           `yaml:"num_memtables"`
	BlockCacheMB int64         `yaml:"block_cache_mb"`
	IndexCacheMB int64         `yaml:"index_cache_mb"`
	// ValueThresholdBytes: values larger than this (decision records) go to Badger's value
	// log, with a pointer in the LSM tree.
	ValueThresholdBytes int64 `yaml:"value_threshold_bytes"`
	// CustomerCache is how many decoded customer profiles are kept in memory; 0 = none.
	CustomerCache int `yaml:"customer_cache"`
	// DiskReserveMB is the free space kept on the data directory's file system: below it
	// writes are refused with 507. 0 sizes it from the memtables (106 MB with the defaults).
	DiskReserveMB int64 `yaml:"disk_reserve_mb"`
}

// badgerMB is what Badger's memtables and caches hold at most, in MB.
func (s StoreOptions) badgerMB() int64 {
	return s.MemTableMB*int64(s.NumMemtables) + s.BlockCacheMB + s.IndexCacheMB
}

// HTTPOptions configures the HTTP server.
type HTTPOptions struct {
	BodyLimitKB int           `yaml:"body_limit_kb"`
	ReadTimeout time.Duration `yaml:"read_timeout"`
	ShutdownMax time.Duration `yaml:"shutdown_timeout"`
	// AuthFailureBurst failed authentications (bad keys) per client address are answered
	// 401, then AuthFailuresPerMinute; the ones over that get 429. 0 turns the limit off.
	AuthFailureBurst      int `yaml:"auth_failure_burst"`
	AuthFailuresPerMinute int `yaml:"auth_failures_per_minute"`
	// MaxConnections caps the connections served at once; one more is answered 503 and
	// closed. 0 derives the cap from the open-file limit (connectionCap).
	MaxConnections int `yaml:"max_connections"`
	// MaxConnsPerIP caps the connections from one address; one more is answered 429
	// and closed. 0 means no cap (behind a proxy every client has the proxy's address).
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
}

// Schedule holds the cron specs (robfig/cron syntax, e.g. "@every 1m" or "*/5 * * * *") of
// the service's scheduled work. An empty spec switches the job off.
type Schedule struct {
	Timeouts  string `yaml:"timeouts"`  // turn unanswered offers into implicit negatives
	Labels    string `yaml:"labels"`    // resolve the labels of decisions whose objective's horizon has passed
	Outbound  string `yaml:"outbound"`  // the NBA outbound pass on engine.outbound_channel
	Snapshots string `yaml:"snapshots"` // store new model versions
	GC        string `yaml:"gc"`        // Badger value-log garbage collection
	// ClusterSnapshot (a cron spec on the wall clock, also under a manual clock) stores a
	// snapshot of the store in the cluster's object store, for new and long-stopped
	// replicas to start from; the replica that holds the scheduler's lease takes it.
	ClusterSnapshot string `yaml:"cluster_snapshot"`
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	so := store.DefaultOptions("")
	return Options{
		Addr:     "127.0.0.1:8080",
		Data:     "./data",
		LogLevel: "info",
		Demo:     true,
		// With 1,000 full-covariance d = 64 models and a million logged decisions, anonymous
		// memory peaked at 339 MB under this limit and at 624 MB without one; the rest of
		// the 512 MB the service is sized for is page cache (docs/configuration.md, "Memory").
		MemoryLimitMB: 384,
		Store: StoreOptions{
			SyncWrites:   so.SyncWrites,
			LazySync:     so.LazySync,
			Retention:    so.Retention,
			MemTableMB:   so.MemTableSize >> 20,
			NumMemtables: so.NumMemtables,
			BlockCacheMB: so.BlockCacheSize >> 20,
			IndexCacheMB: so.IndexCacheSize >> 20,

			ValueThresholdBytes: so.ValueThreshold,
			CustomerCache:       so.CustomerCache,
		},
		Engine: engine.DefaultOptions(),
		RateLimits: map[string]int{
			"decide":  100000,
			"analyst": 1000,
			"viewer":  200,
			"admin":   1000,
		},
		HTTP:     HTTPOptions{BodyLimitKB: 1024, ReadTimeout: 30 * time.Second, ShutdownMax: 30 * time.Second, AuthFailureBurst: 20, AuthFailuresPerMinute: 60},
		Schedule: Schedule{Timeouts: "@every 1m", Labels: "@every 10m", Snapshots: "@every 1m", GC: "@every 10m", Outbound: "0 9 * * *", ClusterSnapshot: "@every 1h"},
		Clock:    "system",
	}
}

// LoadConfig overlays a YAML file on o. Unknown keys are an error that names them.
func LoadConfig(o *Options, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(o); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if o.Cluster != nil {
		clusterDefaults(o.Cluster)
	}
	return nil
}

// clusterDefaults fills in what a config file's cluster block leaves out.
func clusterDefaults(c *cluster.Options) {
	d := cluster.DefaultOptions()
	if c.Embedded.Listen == "" {
		c.Embedded.Listen = d.Embedded.Listen
	}
	if c.Replicas == 0 {
		c.Replicas = d.Replicas
	}
	if c.Stream == "" {
		c.Stream = d.Stream
	}
	if c.MaxAge == 0 {
		c.MaxAge = d.MaxAge
	}
	if c.Duplicates == 0 {
		c.Duplicates = d.Duplicates
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = d.LeaseTTL
	}
}

func (o *Options) storeOptions(log *slog.Logger) store.Options {
	so := store.DefaultOptions(o.storeDir())
	so.SyncWrites = o.Store.SyncWrites
	so.LazySync = o.Store.LazySync
	so.Retention = o.Store.Retention
	so.MemTableSize = o.Store.MemTableMB << 20
	so.NumMemtables = o.Store.NumMemtables
	so.BlockCacheSize = o.Store.BlockCacheMB << 20
	so.IndexCacheSize = o.Store.IndexCacheMB << 20
	so.ValueThreshold = o.Store.ValueThresholdBytes
	so.CustomerCache = o.Store.CustomerCache
	so.DiskReserve = o.Store.DiskReserveMB << 20
	so.Logger = log
	return so
}

// newClock returns the clock the options ask for.
func (o *Options) newClock() engine.Clock {
	if o.Clock != "manual" {
		return engine.SystemClock{}
	}
	start := time.Now().UTC()
	if o.ClockStart != "" {
		start, _ = time.Parse(time.RFC3339, o.ClockStart)
	}
	return engine.NewManualClock(start)
}

// loopback reports whether a listen address is on the loopback interface only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (o *Options) apiOptions(log *slog.Logger, m *api.Metrics) api.Options {
	ao := api.DefaultOptions()
	ao.RateLimits = map[access.Role]int{}
	for role, n := range o.RateLimits {
		ao.RateLimits[access.Role(role)] = n
	}
	ao.BodyLimit = o.HTTP.BodyLimitKB << 10
	ao.ReadTimeout = o.HTTP.ReadTimeout
	ao.MaxConnsPerIP = o.HTTP.MaxConnsPerIP
	ao.Logger = log
	ao.Metrics = m
	return ao
}

// Validate checks the options as serve would use them.
func (o *Options) Validate() error {
	if o.Data == "" {
		return fmt.Errorf("data: a directory is required")
	}
	if o.InsecureLocal && !loopback(o.Addr) {
		return fmt.Errorf("insecure_local: keyless access is only allowed on a loopback address (127.0.0.1, ::1, localhost), not %q", o.Addr)
	}
	switch o.Clock {
	case "system":
		if o.ClockStart != "" {
			return fmt.Errorf("clock_start: only with clock: manual")
		}
	case "manual":
		if o.ClockStart != "" {
			if _, err := time.Parse(time.RFC3339, o.ClockStart); err != nil {
				return fmt.Errorf("clock_start: %q is not an RFC 3339 time", o.ClockStart)
			}
		}
	default:
		return fmt.Errorf("clock: %q is not system or manual", o.Clock)
	}
	if c := o.Dashboards.Currency; utf8.RuneCountInString(c) > 8 || strings.IndexFunc(c, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.Is(unicode.Sc, r) }) >= 0 {
		return fmt.Errorf("dashboards.currency: %q is not a currency code or symbol of at most 8 letters or currency signs (EUR, €, US$)", c)
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return fmt.Errorf("tls: give both tls_cert and tls_key, or neither")
	}
	for role, n := range o.RateLimits {
		if _, err := access.ParseRole(role); err != nil {
			return fmt.Errorf("rate_limits: %w", err)
		}
		if n < 0 {
			return fmt.Errorf("rate_limits.%s: must not be negative", role)
		}
	}
	if o.Store.MemTableMB < 1 || o.Store.NumMemtables < 1 || o.Store.BlockCacheMB < 0 || o.Store.IndexCacheMB < 0 {
		return fmt.Errorf("store: memtable_mb and num_memtables must be at least 1; caches must not be negative")
	}
	if v := o.Store.ValueThresholdBytes; v < 0 || v > 1<<20 || v > o.Store.MemTableMB<<20*15/100 {
		return fmt.Errorf("store.value_threshold_bytes: must be in [0, 1048576] and at most 15%% of memtable_mb, got %d (0: Badger's default, 1 MB)", v)
	}
	if o.Store.LazySync < time.Millisecond || o.Store.LazySync > time.Minute {
		return fmt.Errorf("store.lazy_sync: must be between 1ms and 1m, got %v", o.Store.LazySync)
	}
	if o.Store.CustomerCache < 0 {
		return fmt.Errorf("store.customer_cache: must not be negative (0 turns the cache off)")
	}
	if o.Store.DiskReserveMB < 0 {
		return fmt.Errorf("store.disk_reserve_mb: must not be negative (0 sizes it from the memtables)")
	}
	if o.GoMaxProcs < 0 || o.GoMaxProcs > 1024 {
		return fmt.Errorf("gomaxprocs: must be in [0, 1024] (0: %d per CPU)", procsPerCPU)
	}
	if o.MemoryLimitMB < 0 {
		return fmt.Errorf("memory_limit_mb: must not be negative (0 means no limit)")
	}
	if badger := o.Store.badgerMB(); o.MemoryLimitMB > 0 && o.MemoryLimitMB <= badger {
		return fmt.Errorf("memory_limit_mb: %d leaves nothing for the rest of the heap: Badger's memtables and caches alone take %d (store.memtable_mb x num_memtables + block_cache_mb + index_cache_mb)", o.MemoryLimitMB, badger)
	}
	if o.HTTP.BodyLimitKB < 1 {
		return fmt.Errorf("http.body_limit_kb: must be at least 1")
	}
	if o.HTTP.AuthFailureBurst < 0 || (o.HTTP.AuthFailureBurst > 0 && o.HTTP.AuthFailuresPerMinute < 1) {
		return fmt.Errorf("http.auth_failure_burst must not be negative (0 turns the limit off), and auth_failures_per_minute must then be at least 1")
	}
	if o.HTTP.MaxConnections < 0 || o.HTTP.MaxConnsPerIP < 0 {
		return fmt.Errorf("http.max_connections and http.max_conns_per_ip: must not be negative (0: derived from the open-file limit; no per-address cap)")
	}
	if o.Cluster != nil {
		o.Cluster.SetDataDir(o.Data) // the embedded server's files: <data>/nats
		if err := o.Cluster.Validate(); err != nil {
			return err
		}
	}
	return o.Engine.Validate()
}

// NewLogger returns a text logger to w at level (debug, info, warn or error).
func NewLogger(level string, w *os.File) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log_level: %q is not debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
