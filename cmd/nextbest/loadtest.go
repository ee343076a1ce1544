package main

import (
	"context"
	"errors"
	"io"
)

// cmdLoadtest is being written (see docs/benchmarks.md).
func cmdLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("loadtest: not built yet")
}
