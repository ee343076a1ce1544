package service

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a YAML config file into a temp dir and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nextbest.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadValid loads yaml over the defaults and validates it. With wantErr set it checks
// that loading or validation failed with an error containing it and returns false.
func loadValid(t *testing.T, yaml, wantErr string) (Options, bool) {
	t.Helper()
	o := DefaultOptions()
	err := LoadConfig(&o, writeConfig(t, yaml))
	if err == nil {
		err = o.Validate()
	}
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one containing %q", err, wantErr)
		}
		return o, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return o, true
}

// TestConfigMemoryLimit checks memory_limit_mb from the YAML file through validation.
func TestConfigMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       int64
		err        string // a substring of the load or validation error; empty: valid
	}{
		{"default", "log_level: info\n", 384, ""},
		{"set", "memory_limit_mb: 512\n", 512, ""},
		{"zero is no limit", "memory_limit_mb: 0\n", 0, ""},
		{"negative", "memory_limit_mb: -1\n", 0, "memory_limit_mb: must not be negative"},
		// The defaults' memtables and caches take 8 x 2 + 64 + 32 = 112 MB (store.DefaultOptions).
		{"at Badger's share", "memory_limit_mb: 112\n", 0, "Badger's memtables and caches alone take 112"},
		{"just above Badger's share", "memory_limit_mb: 113\n", 113, ""},
		{"above smaller caches", "memory_limit_mb: 100\nstore:\n  block_cache_mb: 16\n  index_cache_mb: 8\n", 100, ""},
		{"not a number", "memory_limit_mb: lots\n", 0, "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, ok := loadValid(t, tc.yaml, tc.err)
			if !ok {
				return
			}
			if o.MemoryLimitMB != tc.want {
				t.Errorf("memory_limit_mb = %d, want %d", o.MemoryLimitMB, tc.want)
			}
		})
	}
}

func TestMemoryLimitDecision(t *testing.T) {
	for _, tc := range []struct {
		mb         int64
		gomemlimit string
		wantBytes  int64
		wantSource string
	}{
		{384, "", 384 << 20, LimitFromConfig},
		{1, "", 1 << 20, LimitFromConfig},
		{0, "", 0, LimitNone},
		{384, "1GiB", 0, LimitFromEnv}, // the environment wins; the runtime already applied it
		{0, "1GiB", 0, LimitFromEnv},
		{384, "off", 0, LimitFromEnv}, // GOMEMLIMIT=off: no limit, and it still wins
	} {
		b, src := MemoryLimit(tc.mb, tc.gomemlimit)
		if b != tc.wantBytes || src != tc.wantSource {
			t.Errorf("MemoryLimit(%d, %q) = %d, %q; want %d, %q", tc.mb, tc.gomemlimit, b, src, tc.wantBytes, tc.wantSource)
		}
	}
}

// TestMemoryLimitApplied checks what ApplyMemoryLimit leaves in the runtime and logs. The
// runtime reads GOMEMLIMIT only at start, so each case sets the limit the runtime would
// have started with (from GOMEMLIMIT, or none) before setting the variable.
func TestMemoryLimitApplied(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	for _, tc := range []struct {
		name       string
		mb         int64
		gomemlimit string
		before     int64 // the runtime's limit at start, in bytes
		want       int64 // after ApplyMemoryLimit
		log        string
	}{
		{"config", 384, "", math.MaxInt64, 384 << 20, `"go memory limit" limit_mb=384 source=memory_limit_mb`},
		{"GOMEMLIMIT wins", 384, "777MiB", 777 << 20, 777 << 20, `"go memory limit" limit_mb=777 source=GOMEMLIMIT`},
		{"GOMEMLIMIT=off wins", 384, "off", math.MaxInt64, math.MaxInt64, `"go memory limit: none" source=GOMEMLIMIT`},
		{"zero is none", 0, "", math.MaxInt64, math.MaxInt64, `"go memory limit: none" source=none`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(tc.before)
			t.Setenv("GOMEMLIMIT", tc.gomemlimit)
			var buf bytes.Buffer
			ApplyMemoryLimit(tc.mb, slog.New(slog.NewTextHandler(&buf, nil)))
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Errorf("memory limit after ApplyMemoryLimit(%d) with GOMEMLIMIT=%q: %d, want %d", tc.mb, tc.gomemlimit, got, tc.want)
			}
			if !strings.Contains(buf.String(), tc.log) {
				t.Errorf("log %q does not contain %q", buf.String(), tc.log)
			}
		})
	}
}

func TestProcsDecision(t *testing.T) {
	for _, tc := range []struct {
		option     int
		env        string
		def        int
		want       int
		wantSource string
	}{
		{0, "", 2, 2 * procsPerCPU, "default"},
		{0, "", 1, procsPerCPU, "default"},
		{6, "", 2, 6, "gomaxprocs"},
		{6, "3", 2, 0, "GOMAXPROCS"}, // the environment wins; the runtime already applied it
		{0, "3", 2, 0, "GOMAXPROCS"},
	} {
		n, src := procs(tc.option, tc.env, tc.def)
		if n != tc.want || src != tc.wantSource {
			t.Errorf("procs(%d, %q, %d) = %d, %q; want %d, %q", tc.option, tc.env, tc.def, n, src, tc.want, tc.wantSource)
		}
	}
}

// TestProcsApplied checks what ApplyProcs leaves in the runtime and logs.
func TestProcsApplied(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	t.Setenv("GOMAXPROCS", "")
	var buf bytes.Buffer
	ApplyProcs(5, slog.New(slog.NewTextHandler(&buf, nil)))
	if got := runtime.GOMAXPROCS(0); got != 5 {
		t.Errorf("GOMAXPROCS after ApplyProcs(5) = %d, want 5", got)
	}
	if !strings.Contains(buf.String(), "procs=5") || !strings.Contains(buf.String(), "source=gomaxprocs") {
		t.Errorf("log %q does not give procs=5 source=gomaxprocs", buf.String())
	}
	for _, bad := range []string{"gomaxprocs: -1\n", "gomaxprocs: 5000\n"} {
		o := DefaultOptions()
		if err := LoadConfig(&o, writeConfig(t, bad)); err != nil {
			t.Fatalf("%q: %v", bad, err)
		}
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "gomaxprocs: must be in [0, 1024]") {
			t.Errorf("%q: validate error %v, want the gomaxprocs range", bad, err)
		}
	}
}

// TestConfigLazySync checks store.lazy_sync from the YAML file through validation to the
// store's options.
func TestConfigLazySync(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       time.Duration
		err        string
	}{
		{"default", "log_level: info\n", 100 * time.Millisecond, ""},
		{"set", "store:\n  lazy_sync: 1s\n", time.Second, ""},
		{"zero", "store:\n  lazy_sync: 0s\n", 0, "store.lazy_sync: must be between 1ms and 1m"},
		{"too long", "store:\n  lazy_sync: 2m\n", 0, "store.lazy_sync: must be between 1ms and 1m"},
		{"not a duration", "store:\n  lazy_sync: soon\n", 0, "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, ok := loadValid(t, tc.yaml, tc.err)
			if !ok {
				return
			}
			if got := o.storeOptions(nil).LazySync; got != tc.want {
				t.Errorf("store lazy sync = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConfigCurrency(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       string
		err        string
	}{
		{"default: bare amounts", "log_level: info\n", "", ""},
		{"a code", "dashboards:\n  currency: EUR\n", "EUR", ""},
		{"a sign", "dashboards:\n  currency: US$\n", "US$", ""},
		{"markup", "dashboards:\n  currency: <b>\n", "", "dashboards.currency"},
		{"too long", "dashboards:\n  currency: EUROSEUROS\n", "", "dashboards.currency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, ok := loadValid(t, tc.yaml, tc.err)
			if ok && o.Dashboards.Currency != tc.want {
				t.Errorf("currency %q, want %q", o.Dashboards.Currency, tc.want)
			}
		})
	}
}
