package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpAndUsage runs the real binary: help, every command's --help (the same text as
// help CMD, exit 0), a bad flag and a bad subcommand (one error line and a hint, exit 2),
// a refused option (a runtime error, exit 1), and completion.
func TestHelpAndUsage(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the binary with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "nextbest-bench")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	runBin := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out.String(), errOut.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), 0
	}
	out, _, code := runBin("help")
	if code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, c := range []string{"loadtest", "soak", "memory", "version"} {
		if !strings.Contains(out, "\n  "+c+" ") {
			t.Errorf("help does not list %s:\n%s", c, out)
		}
		a, _, c1 := runBin(c, "--help")
		b, _, c2 := runBin("help", c)
		if c1 != 0 || c2 != 0 || a != b || !strings.Contains(a, "Usage:") {
			t.Errorf("%s --help (exit %d) and help %s (exit %d) differ or lack Usage:\n%s\n---\n%s", c, c1, c, c2, a, b)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"soak", "--bogus"}, "nextbest-bench: unknown flag: --bogus"},
		{[]string{"bogus"}, `nextbest-bench: unknown command "bogus" for "nextbest-bench"`},
		{[]string{"loadtest", "extra"}, `nextbest-bench: loadtest: unexpected argument "extra"`},
	} {
		stdout, stderr, code := runBin(tc.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 2 || stdout != "" || len(lines) != 2 || lines[0] != tc.want || !strings.Contains(lines[1], "--help' for usage.") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q once with a hint", tc.args, code, stdout, stderr, tc.want)
		}
	}
	_, stderr, code := runBin("loadtest", "--addr", "10.0.0.1:80")
	if code != 1 || strings.Count(stderr, "loopback") != 1 {
		t.Errorf("loadtest at a remote address: exit %d, stderr %q; want exit 1 and one refusal", code, stderr)
	}
	if script, _, code := runBin("completion", "bash"); code != 0 || !strings.Contains(script, "nextbest-bench") {
		t.Errorf("completion bash: exit %d", code)
	}
}
