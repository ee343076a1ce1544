package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/nextbest/nextbest/internal/testserver"
)

// runBinary runs the binary with args and returns its stdout, stderr and exit status.
func runBinary(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return out.String(), errOut.String(), code
}

// TestHelpAndUsage runs the real binary as a new user would: nextbest help, every
// command's --help (the same text as help CMD, exit 0), a bad flag, a bad subcommand, a
// missing required flag and a stray argument (one error line and a hint, exit 2),
// completion and version.
func TestHelpAndUsage(t *testing.T) {
	bin := testserver.BuildNextbest(t)
	out, _, code := runBinary(t, bin, "help")
	if code != 0 {
		t.Fatalf("nextbest help: exit %d", code)
	}
	commands := [][]string{{"serve"}, {"backup"}, {"restore"}, {"du"}, {"verify"}, {"analyze"}, {"config"},
		{"keys"}, {"keys", "create"}, {"keys", "list"}, {"keys", "revoke"}, {"import"}, {"import", "outcomes"},
		{"simulate"}, {"export"}, {"evaluate"}, {"version"}, {"completion"}}
	for _, c := range commands {
		if len(c) == 1 && !strings.Contains(out, "\n  "+c[0]+" ") {
			t.Errorf("nextbest help does not list %s:\n%s", c[0], out)
		}
		flagHelp, flagErr, code1 := runBinary(t, bin, append(c, "--help")...)
		helpCmd, _, code2 := runBinary(t, bin, append([]string{"help"}, c...)...)
		name := strings.Join(c, " ")
		if code1 != 0 || code2 != 0 || flagErr != "" {
			t.Errorf("%s --help: exit %d (stderr %q); help %s: exit %d; want 0", name, code1, flagErr, name, code2)
		}
		if flagHelp != helpCmd || !strings.Contains(flagHelp, "Usage:") || !strings.Contains(flagHelp, "Examples:") && c[0] != "completion" {
			t.Errorf("%s --help and help %s differ or lack Usage/Examples:\n%s\n---\n%s", name, name, flagHelp, helpCmd)
		}
	}
	for _, tc := range []struct {
		args []string
		want string // the error line
	}{
		{[]string{"serve", "--bogus"}, "nextbest: unknown flag: --bogus"},
		{[]string{"bogus"}, `nextbest: unknown command "bogus" for "nextbest"`},
		{[]string{"keys", "bogus"}, `nextbest: unknown command "bogus" for "nextbest keys"`},
		{[]string{"backup", "--data", t.TempDir()}, `nextbest: required flag(s) "out" not set`},
		{[]string{"verify", "extra"}, `nextbest: verify: unexpected argument "extra"`},
		{[]string{"keys", "revoke"}, "nextbest: accepts 1 arg(s), received 0"},
		{[]string{"du", "--data"}, "nextbest: flag needs an argument: --data"},
	} {
		stdout, stderr, code := runBinary(t, bin, tc.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 2 || stdout != "" || len(lines) != 2 || lines[0] != tc.want || !strings.Contains(lines[1], "--help' for usage.") {
			t.Errorf("nextbest %v: exit %d, stdout %q, stderr %q; want exit 2, the error %q once and a hint to --help", tc.args, code, stdout, stderr, tc.want)
		}
	}
	// A runtime error: printed once, exit 1.
	_, stderr, code := runBinary(t, bin, "du", "--data", t.TempDir())
	if code != 1 || strings.Count(stderr, "holds no nextbest store") != 1 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("du on an empty directory: exit %d, stderr %q; want exit 1 and one line", code, stderr)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		script, _, code := runBinary(t, bin, "completion", shell)
		if code != 0 || !strings.Contains(script, "nextbest") || len(script) < 1000 {
			t.Errorf("completion %s: exit %d, %d bytes", shell, code, len(script))
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if v, _, code := runBinary(t, bin, args...); code != 0 || v != "nextbest dev\n" {
			t.Errorf("nextbest %v: exit %d, %q", args, code, v)
		}
	}
}
