package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

// TestConfigServeRefusesNegativeMemoryLimit checks that serve stops at the validation error
// before it opens anything.
func TestConfigServeRefusesNegativeMemoryLimit(t *testing.T) {
	path := writeConfig(t, "memory_limit_mb: -64\n")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"serve", "--config", path, "--addr", "127.0.0.1:0", "--data", t.TempDir()}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "memory_limit_mb: must not be negative") {
		t.Fatalf("serve with memory_limit_mb: -64: error %v, want the validation error", err)
	}
}

// TestConfigCommandShowsMemoryLimit checks that `nextbest config` prints the option, and
// says when GOMEMLIMIT overrides it.
func TestConfigCommandShowsMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, env string
		want, notWant   []string
	}{
		{"default", "", "", []string{"\nmemory_limit_mb: 384\n"}, []string{"GOMEMLIMIT"}},
		{"from the file", "memory_limit_mb: 0\n", "", []string{"\nmemory_limit_mb: 0\n"}, []string{"GOMEMLIMIT"}},
		{"GOMEMLIMIT set", "", "1GiB", []string{"# GOMEMLIMIT=1GiB is set: serve uses it instead of memory_limit_mb", "\nmemory_limit_mb: 384\n"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", tc.env)
			var args []string
			if tc.yaml != "" {
				args = []string{"--config", writeConfig(t, tc.yaml)}
			}
			var out, errOut bytes.Buffer
			if err := run(context.Background(), append([]string{"config"}, args...), &out, &errOut); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("nextbest config does not print %q; it printed:\n%s", w, out.String())
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("nextbest config prints %q; it printed:\n%s", w, out.String())
				}
			}
		})
	}
}
