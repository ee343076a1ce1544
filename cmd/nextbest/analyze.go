package main

import (
	"context"
	"errors"
	"io"
)

// cmdAnalyze is being written.
func cmdAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("analyze: not built yet")
}
