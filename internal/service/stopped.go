package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// OpenEngine opens an engine over a stopped server's store with the server's options: its
// engine options (the logged policy's) and its clock, a manual clock resuming where the
// server left it. The engine is opened, not run: nothing is written, and what it reads
// is the store as the server left it (nextbest evaluate --data).
func OpenEngine(ctx context.Context, o Options, st *store.Store, dir string) (*engine.Engine, error) {
	clock := o.newClock()
	if _, err := loadSchedState(ctx, st, clock, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	eng, err := engine.New(o.Engine, st, clock, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := eng.Open(ctx); err != nil {
		return nil, fmt.Errorf("open the engine: %w", RefuseDamaged(err, dir))
	}
	return eng, nil
}
