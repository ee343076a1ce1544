package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api"
	"github.com/nextbest/nextbest/dashboards"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/demo"
	"github.com/nextbest/nextbest/store"
)

// Run runs the service on ln until ctx is cancelled, then shuts down in order: stop
// accepting and finish in-flight requests, finish running cron jobs, drain the journal and
// snapshot the models, close Badger.
func Run(ctx context.Context, o Options, ln net.Listener, log *slog.Logger, stdout io.Writer) (err error) {
	var node *clusterNode
	if o.Cluster != nil {
		if node, err = startCluster(ctx, &o, log); err != nil {
			ln.Close()
			return fmt.Errorf("cluster: %w", err)
		}
		defer node.close()
		if err := node.restoreIfBehind(ctx, o.storeOptions(log)); err != nil {
			ln.Close()
			return fmt.Errorf("cluster: %w", err)
		}
	}
	st, err := store.Open(o.storeOptions(log))
	if err != nil {
		ln.Close()
		return RefuseDamaged(err, o.Data)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	met := api.NewMetrics()
	met.AddWriter(func(w io.Writer) {
		s := st.Stats()
		api.WriteGauge(w, "nextbest_store_lsm_bytes", "Size of the store's LSM tree (Badger's SST files) on disk.", float64(s.LSMBytes))
		api.WriteGauge(w, "nextbest_store_vlog_bytes", "Size of the store's value log (Badger's vlog files) on disk.", float64(s.ValueLogBytes))
		api.WriteCounter(w, "nextbest_store_fsyncs_total", "Fsync rounds of the store, each covering every write committed before it began (0 without synced writes).", float64(s.Fsyncs))
		api.WriteCounter(w, "nextbest_store_fsync_seconds_total", "Time spent in the store's fsync rounds.", s.FsyncTime.Seconds())
		api.WriteGauge(w, "nextbest_store_disk_free_bytes", "Free space on the store's file system.", float64(max(s.DiskFree, 0)))
		api.WriteGauge(w, "nextbest_store_disk_reserve_bytes", "Free space the store keeps in reserve: writes are refused below it (store.disk_reserve_mb).", float64(s.DiskReserve))
		full := 0.0
		if s.DiskFull {
			full = 1
		}
		api.WriteGauge(w, "nextbest_store_disk_full", "1 while writes are refused because the free space is below the reserve, else 0.", full)
		api.WriteCounter(w, "nextbest_store_writes_refused_total", "Writes refused because the disk was full.", float64(s.WritesRefused))
		api.WriteCounter(w, "nextbest_store_decisions_dropped_total", "Decision records not logged because the disk was full (their decisions were answered).", float64(s.DecisionsDropped))
		api.WriteGauge(w, "nextbest_build_info{version="+strconv.Quote(o.Version)+"}", "Always 1; the version label holds the version of the running binary.", 1)
	})
	clock := o.newClock()
	schedState, err := loadSchedState(ctx, st, clock, log) // a manual clock resumes here
	if err != nil {
		ln.Close()
		return err
	}
	eng, err := engine.New(o.Engine, st, clock, log, met)
	if err != nil {
		ln.Close()
		return err
	}
	if err := eng.Open(ctx); err != nil {
		ln.Close()
		return RefuseDamaged(err, o.Data)
	}
	if node != nil {
		if err := node.attach(ctx, eng, st); err != nil {
			ln.Close()
			return fmt.Errorf("cluster: %w", err)
		}
	}
	runCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Run(runCtx) }()
	// The replica applies the log into the engine: it stops before the engine does.
	replCtx, stopReplica := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReplica()
	if node != nil {
		if err := node.run(replCtx, eng, st, o.Schedule.ClusterSnapshot); err != nil {
			stopReplica()
			stopEngine()
			<-engineDone
			ln.Close()
			return err
		}
		addClusterMetrics(met, node)
	}
	// abort stops the engine and closes the listener: a start that fails from here on.
	abort := func(err error) error {
		stopReplica()
		if node != nil {
			node.wg.Wait()
		}
		stopEngine()
		<-engineDone
		ln.Close()
		return err
	}

	if node != nil {
		// The demo catalog goes into an empty cluster once, through the log: from the
		// replica that leads, once it has caught up.
		go node.loadDemo(replCtx, eng, o.Demo)
	} else if o.Demo && len(eng.Actions()) == 0 {
		n, err := demo.Load(ctx, eng)
		if err != nil {
			return abort(fmt.Errorf("load demo catalog: %w", err))
		}
		log.Info("loaded the demo catalog into the empty store", "actions", n)
	}

	sched := newScheduler(clock, eng, st, schedState, log)
	jobs := []struct {
		name, spec string
		fn         func(context.Context, time.Time) error
	}{
		{"timeouts", o.Schedule.Timeouts, func(ctx context.Context, _ time.Time) error {
			if !o.Engine.ImplicitNegatives {
				return nil
			}
			n, err := eng.ExpireResponses(ctx)
			return logCount(log, n, "recorded implicit negatives for unanswered offers", "count", err)
		}},
		{"labels", o.Schedule.Labels, func(ctx context.Context, _ time.Time) error {
			n, err := eng.ResolveLabels(ctx)
			return logCount(log, n, "resolved the labels of decisions whose objective's horizon has passed", "count", err)
		}},
		{"snapshots", o.Schedule.Snapshots, func(ctx context.Context, _ time.Time) error {
			if _, err := eng.Snapshot(ctx, "periodic"); err != nil {
				return err
			}
			// Then the journal's retention: only events the stored snapshots cover go.
			n, err := eng.TrimJournal(ctx)
			return logCount(log, n, "journal trimmed: events past the retention that model snapshots include", "events", err)
		}},
		{"gc", o.Schedule.GC, func(ctx context.Context, _ time.Time) error {
			n, err := st.RunGC(ctx)
			return logCount(log, n, "value log garbage collection rewrote files", "files", err)
		}},
		{"outbound", o.Schedule.Outbound, func(ctx context.Context, _ time.Time) error {
			res, err := eng.RunOutbound(ctx, "")
			if err == nil {
				log.Info("nba outbound run", "channel", res.Channel, "contacted", res.Contacted, "eligible", res.Eligible, "declined", res.Declined, "capped", res.Capped, "elapsed", res.Elapsed)
			}
			return err
		}},
	}
	if node != nil {
		if sched.manual == nil {
			sched.gate, sched.keepDue = node.leads, o.Cluster.Duplicates/2
		} else {
			// A manual clock moves through the log: every replica runs every job, at the
			// same point of the log (engine.AdvanceClock).
			eng.SetClockAdvancer(func(ctx context.Context, t time.Time) ([]string, error) {
				st, err := sched.advanceLocal(ctx, t)
				return st.Ran, err
			})
		}
	}
	for _, j := range jobs {
		if err := sched.add(j.name, j.spec, j.fn); err != nil {
			return abort(err)
		}
	}
	for _, j := range sched.static {
		j.local = j.name == "snapshots" || j.name == "gc"
	}
	loopCtx, stopLoop := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoop()
	jobCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopJobs()
	schedDone := make(chan struct{})
	go func() { sched.Run(loopCtx, jobCtx); close(schedDone) }()

	var keys api.KeyStore = st
	firstKey := true
	if node != nil {
		keys, firstKey = node.keys, node.fresh
	}
	auth, err := setUpAuth(ctx, o, st, keys, firstKey, stdout)
	if err != nil {
		return abort(err)
	}
	if node != nil {
		node.keys.auth.Store(auth)
	}
	po := dashboards.Options{Currency: o.Dashboards.Currency}
	var view *clusterView
	if node != nil {
		view = newClusterView(node)
		po.Cluster = view
	}
	pages, err := dashboards.New(eng, sessions{auth}, log, po)
	if err != nil {
		return abort(err)
	}
	ao := o.apiOptions(log, met)
	ao.MaxConnections = connectionCap(o.HTTP.MaxConnections, log)
	ao.Auth, ao.Keys, ao.Backup, ao.Clock, ao.Disk = auth, st, st.Backup, sched, st
	if view != nil {
		ao.Cluster = view
	}
	ao.Extra = func(r fiber.Router, guard func(access.Permission, fiber.Handler) fiber.Handler) {
		pages.Register(r, guard)
	}
	srv := api.New(eng, ao)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	scheme := "http"
	if o.TLSCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "nextbest %s serving on %s://%s (data in %s)\n", o.Version, scheme, ln.Addr(), o.Data)
	if o.InsecureLocal {
		fmt.Fprintln(stdout, "WARNING: --insecure-local: requests without an API key act as admin (loopback only)")
	}
	log.Info("serving", "addr", ln.Addr().String(), "data", o.Data, "actions", len(eng.Actions()))

	// A stop nobody asked for is an error, so that the process exits non-zero and a
	// supervisor that restarts on failure restarts it; the rest shuts down in order.
	var unplanned error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if err == nil {
			err = errors.New("it returned without a shutdown")
		}
		unplanned = fmt.Errorf("the HTTP server stopped unasked: %w", err)
	}
	if node != nil {
		// First of all: another replica runs the cluster's jobs from now on, not after
		// this one's clients have let go of their connections.
		node.resign()
	}
	log.Info("shutting down: finishing in-flight requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), o.HTTP.ShutdownMax)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	log.Info("shutting down: waiting for running jobs")
	stopLoop() // no new jobs; the running one finishes
	select {
	case <-schedDone:
	case <-shutCtx.Done():
		log.Warn("a scheduled job outlived the shutdown timeout; cancelling it")
		stopJobs()
		<-schedDone
	}
	if node != nil {
		log.Info("shutting down: leaving the cluster (the lease goes to another replica)")
		stopReplica()
		node.wg.Wait()
	}
	log.Info("shutting down: draining the journal and snapshotting models")
	stopEngine()
	if err := <-engineDone; err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if unplanned != nil {
		return unplanned
	}
	log.Info("shut down cleanly")
	return nil
}

// RefuseDamaged says what to do about an error that a store is damaged.
func RefuseDamaged(err error, dir string) error {
	if !errors.Is(err, engine.ErrDamaged) {
		return err
	}
	return fmt.Errorf("%w\nnextbest refuses to open a damaged store rather than serve, or copy, models that lack what they learned. "+
		"`nextbest verify --data %s` reports all the damage; then restore the last backup (docs/durability.md, \"Damage\")", err, dir)
}

// logCount logs msg with n under key when a scheduled job did something (n > 0), and
// returns the job's err.
func logCount(log *slog.Logger, n int, msg, key string, err error) error {
	if n > 0 {
		log.Info(msg, key, n)
	}
	return err
}
