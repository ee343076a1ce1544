package client_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// testServer is the real HTTP API (api.New) over a real engine and Badger in a temporary
// directory, serving on 127.0.0.1:0, with keys on and an admin key.
type testServer struct {
	url   string
	admin string // the admin key's secret
	srv   *api.Server
}

// t0 is the manual clock's start: a Monday.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// startServer starts a server; configure, if not nil, changes its options first. It
// stops when the test ends.
func startServer(tb testing.TB, configure func(*api.Options)) *testServer {
	tb.Helper()
	s, stop, err := serve(tb.TempDir(), configure)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := stop(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// serve starts a server over a store in dir and returns it with the function that stops
// it.
func serve(dir string, configure func(*api.Options)) (_ *testServer, stop func() error, err error) {
	so := store.DefaultOptions(dir)
	so.SyncWrites = false // durability is not under test here
	so.MemTableSize, so.BlockCacheSize, so.IndexCacheSize = 8<<20, 8<<20, 4<<20
	st, err := store.Open(so)
	if err != nil {
		return nil, nil, err
	}
	// stop undoes what has been started, last first.
	var undo []func() error
	stop = func() error {
		var errs []error
		for i := len(undo) - 1; i >= 0; i-- {
			errs = append(errs, undo[i]())
		}
		return errors.Join(errs...)
	}
	undo = append(undo, st.Close)
	defer func() {
		if err != nil {
			stop()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	undo = append(undo, func() error { cancel(); return nil })
	clock := &manualClock{c: engine.NewManualClock(t0)}
	eng, err := engine.New(engine.DefaultOptions(), st, clock.c, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := eng.Open(ctx); err != nil {
		return nil, nil, err
	}
	ran := make(chan error, 1)
	go func() { ran <- eng.Run(ctx) }()
	undo = append(undo, func() error { cancel(); return <-ran })
	admin, secret, err := access.NewKey(access.Admin, "test admin", time.Now())
	if err != nil {
		return nil, nil, err
	}
	if err := st.PutKey(ctx, admin); err != nil {
		return nil, nil, err
	}
	sessionSecret, err := api.NewSessionSecret()
	if err != nil {
		return nil, nil, err
	}
	auth, err := api.NewAuth(ctx, api.AuthOptions{Keys: st, Sessions: st, SessionSecret: sessionSecret})
	if err != nil {
		return nil, nil, err
	}
	opts := api.DefaultOptions()
	opts.Auth, opts.Keys, opts.Metrics, opts.Backup, opts.Clock = auth, st, api.NewMetrics(), st.Backup, clock
	if configure != nil {
		configure(&opts)
	}
	srv := api.New(eng, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	undo = append(undo, func() error { return errors.Join(srv.Shutdown(context.Background()), <-served) })
	return &testServer{url: "http://" + ln.Addr().String(), admin: secret, srv: srv}, stop, nil
}

// manualClock drives the engine's manual clock for POST /v1/clock. The binary's scheduler
// (cmd/nextbest) also runs the jobs that fall due; this one only moves the time, which is
// what the client's methods need of it.
type manualClock struct{ c *engine.ManualClock }

func (m *manualClock) Advance(_ context.Context, t time.Time) (wire.ClockState, error) {
	m.c.Set(t)
	return wire.ClockState{Mode: "manual", Now: m.c.Now(), Ran: []string{"test advance"}}, nil
}

func (m *manualClock) State() wire.ClockState {
	return wire.ClockState{Mode: "manual", Now: m.c.Now()}
}
