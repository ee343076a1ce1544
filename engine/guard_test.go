package engine_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/engine"
)

// guardEnv names the test a child process runs under guarded.
const guardEnv = "NEXTBEST_GUARDED_TEST"

// guardAllocLimit is what a guarded test may allocate (bytes, cumulative) before the child
// stops itself: far above what a bounded rule needs (docs/security.md: about 1 MiB per
// evaluation) and far below what the machine has, so that a runaway rule on old code
// fails the test instead of being killed by the kernel with the machine short of memory.
// A string that doubles reaches at most about twice this before the watchdog sees it.
const guardAllocLimit = 256 << 20

// guardTimeout bounds a guarded test's child: a bounded rule evaluates in milliseconds.
const guardTimeout = 2 * time.Minute

// guarded runs fn in a child process (this test binary, running only t's test) watched
// by a memory watchdog, and fails t if the child allocates more than guardAllocLimit,
// runs longer than guardTimeout, or fails. In the child, it runs fn itself.
func guarded(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	if os.Getenv(guardEnv) == t.Name() {
		stop := engine.WatchAllocations(guardAllocLimit, func(got uint64) {
			fmt.Fprintf(os.Stderr, "\nGUARD: allocated %d MB, over the %d MB limit: stopping the process\n", got>>20, guardAllocLimit>>20)
			os.Exit(3)
		})
		defer stop()
		fn(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), guardTimeout)
	defer cancel()
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), guardEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	switch {
	case ctx.Err() != nil:
		t.Fatalf("the guarded test ran longer than %v (killed):\n%s", guardTimeout, tail(out, 40))
	case err != nil:
		t.Fatalf("the guarded test failed in its child process (%v):\n%s", err, tail(out, 40))
	case !strings.Contains(string(out), "--- PASS: "+t.Name()):
		t.Fatalf("the guarded test's child did not run %s:\n%s", t.Name(), tail(out, 40))
	}
	t.Logf("child process:\n%s", tail(out, 20))
}

// tail returns the last n lines of out.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
