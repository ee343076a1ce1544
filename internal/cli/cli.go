// Package cli is what the project's binaries (nextbest, nextbest-bench) share of their
// command lines: one root command setup on spf13/cobra, one kind of usage error, and one
// way to print an error and choose the exit status. Exit status: 0 on success and for
// help, 1 for a runtime error, 2 for a usage error (an unknown command or flag, a missing
// required flag, a wrong number of arguments).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// UsageError is a mistake in the command line: exit status 2 and a hint to --help.
type UsageError struct {
	Err  error
	Path string // the command's path, e.g. "nextbest keys create"
}

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usage marks err as a usage error of c.
func Usage(c *cobra.Command, err error) error { return UsageError{err, c.CommandPath()} }

// NoArgs refuses positional arguments as a usage error that names the first.
func NoArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usage(c, fmt.Errorf("%s: unexpected argument %q", c.Name(), args[0]))
	}
	return nil
}

// Root makes root a binary's root command writing to stdout and stderr: errors are
// silenced for Execute to return (ExitStatus prints them once), a bare invocation prints
// the help, a word that is no command is "unknown command", a flag error is a
// UsageError, and --version prints "NAME VERSION".
func Root(root *cobra.Command, stdout, stderr io.Writer) *cobra.Command {
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.Args = cobra.NoArgs
	root.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(Usage)
	root.SetVersionTemplate(root.Name() + " {{.Version}}\n")
	return root
}

// VersionCmd is the "version" command: it prints what --version does.
func VersionCmd(name, version string) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Long:    "version prints the version of this binary (as " + name + " --version does).",
		Example: "  " + name + " version",
		Args:    NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(c.OutOrStdout(), name, version)
			return nil
		},
	}
}

// Execute runs root with the command line args. It returns nil, a UsageError, or the
// command's error; it prints nothing of the error (ExitStatus does).
func Execute(ctx context.Context, root *cobra.Command, args []string) error {
	root.SetArgs(args)
	c, err := root.ExecuteContextC(ctx)
	var ue UsageError
	if err != nil && !errors.As(err, &ue) && cobraUsage(err) {
		return UsageError{err, c.CommandPath()}
	}
	return err
}

// ExitStatus prints err once, after the binary's name, and returns the process's exit
// status.
func ExitStatus(name string, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", name, err, ue.Path)
		return 2
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}

// Main runs the root command that newRoot makes on the process's arguments, with a
// context that SIGINT and SIGTERM cancel, and exits with its status.
func Main(newRoot func(stdout, stderr io.Writer) *cobra.Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := newRoot(os.Stdout, os.Stderr)
	err := Execute(ctx, root, os.Args[1:])
	stop()
	os.Exit(ExitStatus(root.Name(), err, os.Stderr))
}

// cobraUsage reports whether err is one of cobra's own command-line errors that come back
// from Execute (unknown commands, argument counts, required flags); flag errors come
// through the flag error function as UsageError.
func cobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command ", "accepts ", "requires at least ", "requires at most ", "required flag(s) ", "invalid argument "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
