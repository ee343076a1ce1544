package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/robfig/cron/v3"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api"
	"github.com/nextbest/nextbest/cluster"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/demo"
	"github.com/nextbest/nextbest/store"
)

// A replica of a cluster (Options.Cluster set) keeps its Badger store in <data>/store and
// its embedded NATS server's files in <data>/nats (cluster.Options.SetDataDir).
const clusterStoreDir = "store"

// storeDir is where the Badger store lives.
func (o *Options) storeDir() string {
	if o.Cluster != nil {
		return filepath.Join(o.Data, clusterStoreDir)
	}
	return o.Data
}

// clusterNode is this process's part of a cluster: its embedded NATS server (if it runs
// one), its connection, the stream and buckets, its replica of the log, and the lease
// that says whether it runs the cluster's scheduled jobs.
type clusterNode struct {
	opts  cluster.Options
	log   *slog.Logger
	srv   *cluster.Server
	nc    *nats.Conn
	js    jetstream.JetStream
	res   *cluster.Resources
	rep   *cluster.Replica
	lease *cluster.Lease
	seed  uint64
	fresh bool // the stream was empty at start: a new cluster
	// resign gives up the scheduler's lease (Lease.Run deletes it), so that another
	// replica takes the cluster's jobs over at once when this one shuts down.
	resign context.CancelFunc
	keys   *replicatedKeys
	wg     sync.WaitGroup
}

// cmdPutKey is the replicated command that stores an API key (new or revoked).
const cmdPutKey = "put_key"

// replicatedKeys is a replica's API key store (api.KeyStore): reads from its own store,
// writes through the cluster's log, so that a key made or revoked on any replica is known
// to every replica (apply stores it and tells the replica's Auth).
type replicatedKeys struct {
	*store.Store
	eng  *engine.Engine
	auth atomic.Pointer[api.Auth] // set once the Auth exists; before, the store is enough
}

// PutKey appends the key to the log and returns once this replica has applied it.
func (k *replicatedKeys) PutKey(ctx context.Context, key access.Key) error {
	raw, err := json.Marshal(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	_, err = k.eng.ProposeCommand(ctx, cmdPutKey, raw)
	return err
}

// apply stores a key the log carries.
func (k *replicatedKeys) apply(ctx context.Context, payload []byte) (any, error) {
	var key access.Key
	if err := json.Unmarshal(payload, &key); err != nil || key.ID == "" {
		return nil, engine.Invalid("invalid_command", "put_key: not a key: %v", err)
	}
	if err := k.Store.PutKey(ctx, key); err != nil {
		return nil, err
	}
	if a := k.auth.Load(); a != nil {
		a.Known(key)
	}
	return nil, nil
}

// ensureWait bounds how long a replica waits at start for the cluster's JetStream: the
// other servers of a new cluster are started by hand, one after the other.
const ensureWait = 2 * time.Minute

// startCluster starts the embedded NATS server (unless the options name external URLs),
// connects, and creates or updates the stream and buckets.
func startCluster(ctx context.Context, o *Options, log *slog.Logger) (*clusterNode, error) {
	co := *o.Cluster
	co.SetDataDir(o.Data)
	n := &clusterNode{opts: co, log: log}
	if len(co.URLs) == 0 {
		srv, err := cluster.StartServer(co, log)
		if err != nil {
			return nil, err
		}
		n.srv = srv
		log.Info("embedded nats server started", "name", co.Name, "client", srv.ClientURL(), "cluster", co.Embedded.ClusterListen, "routes", strings.Join(co.Embedded.Routes, ","))
	}
	cctx, cancel := context.WithTimeout(ctx, ensureWait)
	defer cancel()
	nc, js, err := cluster.Connect(cctx, co, log)
	if err != nil {
		n.close()
		return nil, err
	}
	n.nc, n.js = nc, js
	log.Info("waiting for the cluster's JetStream (a new cluster needs a majority of its servers)", "replicas", co.Replicas)
	res, err := cluster.Ensure(cctx, js, co)
	if err != nil {
		n.close()
		return nil, err
	}
	n.res = res
	info := res.Stream.CachedInfo()
	n.fresh = info.State.Msgs == 0 && info.State.FirstSeq <= 1
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", info.Config.Name, info.Created.UnixNano())
	n.seed = h.Sum64() | 1
	return n, nil
}

// restoreIfBehind restores the newest snapshot into the replica's store directory when
// the store is new (empty) or so far behind that the log no longer holds what it has to
// apply next; a stale store is moved aside, not deleted. It reports what it did.
func (n *clusterNode) restoreIfBehind(ctx context.Context, so store.Options) error {
	applied, fresh, err := appliedOnDisk(so)
	if err != nil {
		return err
	}
	info, err := n.res.Stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("read the log's state: %w", err)
	}
	gap := info.State.FirstSeq > applied+1 && info.State.Msgs > 0
	if !fresh && !gap {
		return nil
	}
	seq, rc, err := n.latestSnapshot(ctx)
	if errors.Is(err, cluster.ErrNoSnapshot) {
		if gap {
			return fmt.Errorf("this replica has applied the log up to %d, but the log now starts at %d and the cluster has no snapshot: take one on a replica that is caught up (it is a scheduled job, schedule.cluster_snapshot)", applied, info.State.FirstSeq)
		}
		return nil // a new replica replays the whole log
	}
	if err != nil {
		return fmt.Errorf("read the newest snapshot: %w", err)
	}
	if !gap && seq == 0 {
		rc.Close()
		return nil
	}
	if !fresh {
		aside := so.Dir + ".stale-" + time.Now().UTC().Format("20060102T150405")
		if err := os.Rename(so.Dir, aside); err != nil {
			rc.Close()
			return fmt.Errorf("move the stale store aside: %w", err)
		}
		n.log.Warn("the store was behind the log's retention; moved aside, restoring the cluster's snapshot", "applied", applied, "log_first", info.State.FirstSeq, "moved_to", aside)
	}
	began := time.Now()
	n.log.Info("restoring the cluster's newest snapshot", "seq", seq)
	// RestoreDir reads and verifies the whole backup before it writes a key, so a
	// download cut short (a busy cluster) leaves nothing behind: it is tried again.
	for try := 1; ; try++ {
		err := store.RestoreDir(ctx, rc, so)
		rc.Close()
		if err == nil {
			break
		}
		if try == restoreTries || ctx.Err() != nil {
			return fmt.Errorf("restore the cluster's snapshot at %d (%d tries): %w", seq, try, err)
		}
		n.log.Warn("restoring the cluster's snapshot failed; trying again", "seq", seq, "try", try, "err", err)
		time.Sleep(time.Duration(try) * time.Second)
		if seq, rc, err = n.latestSnapshot(ctx); err != nil {
			return fmt.Errorf("read the newest snapshot: %w", err)
		}
	}
	n.log.Info("snapshot restored; the log's rest is replayed next", "seq", seq, "elapsed", time.Since(began).Round(time.Millisecond))
	return nil
}

// restoreTries is how many times a new replica tries to download and restore a snapshot.
const restoreTries = 5

// latestSnapshot opens the newest snapshot in the object store.
func (n *clusterNode) latestSnapshot(ctx context.Context) (uint64, io.ReadCloser, error) {
	return cluster.LatestSnapshot(ctx, n.res.Snapshots)
}

// appliedOnDisk reads the applied sequence of the store in so.Dir without keeping it
// open; fresh reports a directory that holds no store yet.
func appliedOnDisk(so store.Options) (applied uint64, fresh bool, err error) {
	entries, err := os.ReadDir(so.Dir)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(entries) == 0 {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	st, err := store.Open(so)
	if err != nil {
		return 0, false, err
	}
	defer st.Close()
	raw, err := st.Setting(context.Background(), "cluster_applied")
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	applied, err = strconv.ParseUint(string(raw), 10, 64)
	return applied, false, err
}

// attach makes eng a replica of the log, with the API keys of st replicated through it.
func (n *clusterNode) attach(ctx context.Context, eng *engine.Engine, st *store.Store) error {
	rep, err := cluster.NewReplica(n.nc, eng, cluster.ReplicaOptions{Node: n.opts.Name, Stream: n.opts.Stream}, n.log)
	if err != nil {
		return err
	}
	if err := eng.Replicate(ctx, rep, n.opts.Name, n.seed); err != nil {
		return err
	}
	n.rep = rep
	n.keys = &replicatedKeys{Store: st, eng: eng}
	eng.RegisterCommand(cmdPutKey, n.keys.apply)
	n.lease = cluster.NewLease(n.res.Leases, "scheduler", n.opts.Name, n.opts.LeaseTTL)
	return nil
}

// run applies the log, competes for the scheduler's lease, publishes this replica's
// position and, while it holds the lease, stores snapshots on the wall clock's schedule
// snapSpec (a cron spec; "" stores none), until ctx ends.
func (n *clusterNode) run(ctx context.Context, eng *engine.Engine, st *store.Store, snapSpec string) error {
	var snapSched cron.Schedule
	if snapSpec != "" {
		var err error
		if snapSched, err = cron.ParseStandard(snapSpec); err != nil {
			return fmt.Errorf("schedule.cluster_snapshot: %q: %w", snapSpec, err)
		}
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.snapshots(ctx, eng, st, snapSched) }()
	}
	n.wg.Add(3)
	go func() { defer n.wg.Done(); _ = n.rep.Run(ctx) }()
	leaseCtx, resign := context.WithCancel(ctx)
	n.resign = resign
	go func() {
		defer n.wg.Done()
		if err := n.lease.Run(leaseCtx); err != nil {
			n.log.Error("scheduler lease", "err", err)
		}
	}()
	go func() { defer n.wg.Done(); n.heartbeat(ctx) }()
	return nil
}

// snapshots stores a snapshot at every time of sched (on the wall clock, also under a
// manual engine clock: snapshots are about the log's growth, not simulated days) while this
// replica holds the scheduler's lease. It runs beside the applier, which goes on: a
// Badger backup reads one consistent version of the store, applied sequence included.
func (n *clusterNode) snapshots(ctx context.Context, eng *engine.Engine, st *store.Store, sched cron.Schedule) {
	for {
		next := sched.Next(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		if !n.leads() {
			continue
		}
		began := time.Now()
		seq, err := n.snapshot(ctx, eng, st)
		if err != nil {
			if ctx.Err() == nil {
				n.log.Error("store a snapshot in the cluster's object store", "err", err)
			}
			continue
		}
		n.log.Info("stored a snapshot in the cluster's object store", "seq", seq, "elapsed", time.Since(began).Round(time.Millisecond))
	}
}

// waitCaughtUp waits until the replica has applied the log, logging its progress.
func (n *clusterNode) waitCaughtUp(ctx context.Context, eng *engine.Engine) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	last := time.Now()
	for !eng.Ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if time.Since(last) > 5*time.Second {
			s := n.rep.Stats()
			n.log.Info("catching up with the cluster's log", "applied", s.Applied, "last", s.Last, "lag", s.Lag)
			last = time.Now()
		}
	}
	return nil
}

// statusKey is where a replica publishes its position in the lease bucket; the bucket's
// TTL drops a replica that stopped publishing.
func statusKey(name string) string { return "status-" + name }

// ReplicaStatus is one replica's position in the log, as it last published it.
type ReplicaStatus struct {
	cluster.Stats
	Leader  bool      `json:"leader"` // runs the cluster's scheduled jobs
	Updated time.Time `json:"updated"`
}

// heartbeat publishes this replica's position every second.
func (n *clusterNode) heartbeat(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		st := ReplicaStatus{Stats: n.rep.Stats(), Leader: n.lease.Held(), Updated: time.Now().UTC()}
		if raw, err := json.Marshal(st); err == nil {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			_, _ = n.res.Leases.Put(pctx, statusKey(n.opts.Name), raw)
			cancel()
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// Replicas returns every live replica's last published position, by name.
func (n *clusterNode) Replicas(ctx context.Context) ([]ReplicaStatus, error) {
	keys, err := n.res.Leases.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []ReplicaStatus
	for k := range keys.Keys() {
		if !strings.HasPrefix(k, "status-") {
			continue
		}
		e, err := n.res.Leases.Get(ctx, k)
		if err != nil {
			continue // expired meanwhile
		}
		var s ReplicaStatus
		if json.Unmarshal(e.Value(), &s) == nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

// leads reports whether this replica runs the cluster's scheduled jobs now.
func (n *clusterNode) leads() bool { return n.lease != nil && n.lease.Held() }

// snapshot stores a backup of this replica's store in the cluster's object store, for
// new and long-stopped replicas to start from.
func (n *clusterNode) snapshot(ctx context.Context, eng *engine.Engine, st *store.Store) (uint64, error) {
	if err := eng.Flush(ctx); err != nil {
		return 0, err
	}
	seq, err := eng.AppliedSeq(ctx)
	if err != nil {
		return 0, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(st.Backup(ctx, pw)) }()
	if err := cluster.PutSnapshot(ctx, n.res.Snapshots, seq, pr); err != nil {
		pr.CloseWithError(err)
		return 0, err
	}
	return seq, nil
}

// close stops what startCluster started, after run's goroutines have ended.
func (n *clusterNode) close() {
	n.wg.Wait()
	if n.nc != nil {
		_ = n.nc.Drain()
		n.nc.Close()
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

// loadDemo loads the demo catalog into an empty cluster, once: on the replica that holds
// the scheduler's lease, after it has caught up with the log.
// Every replica stays not ready until the catalog is there (Replica.Hold), as a single
// node serves only once it has loaded the demo.
func (n *clusterNode) loadDemo(ctx context.Context, eng *engine.Engine, demoOn bool) {
	if !demoOn {
		return
	}
	n.rep.Hold(true)
	defer n.rep.Hold(false)
	for ctx.Err() == nil && !n.rep.Synced() {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	for ctx.Err() == nil && len(eng.Actions()) == 0 {
		if holder, err := n.lease.Holder(ctx); err == nil && holder == n.opts.Name {
			k, err := demo.Load(ctx, eng)
			if err != nil {
				n.log.Error("load the demo catalog into the empty cluster", "err", err)
				return
			}
			n.log.Info("loaded the demo catalog into the empty cluster", "actions", k)
			return
		}
		select { // another replica leads: its catalog reaches this one through the log
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// addClusterMetrics publishes the replica's position in the log.
func addClusterMetrics(met *api.Metrics, n *clusterNode) {
	met.AddWriter(func(w io.Writer) {
		s := n.rep.Stats()
		api.WriteGauge(w, "nextbest_cluster_applied_seq", "Sequence of the last command of the cluster's log this replica has applied.", float64(s.Applied))
		api.WriteGauge(w, "nextbest_cluster_log_last_seq", "Sequence of the last command in the cluster's log, as this replica last read it.", float64(s.Last))
		api.WriteGauge(w, "nextbest_cluster_lag_commands", "Commands of the cluster's log this replica has still to apply.", float64(s.Lag))
		up, lead := 0.0, 0.0
		if s.CaughtUp {
			up = 1
		}
		if n.leads() {
			lead = 1
		}
		api.WriteGauge(w, "nextbest_cluster_caught_up", "1 once this replica has caught up with the log and while its lag is within bounds, else 0.", up)
		api.WriteGauge(w, "nextbest_cluster_leader", "1 while this replica holds the scheduler's lease (runs the cluster's scheduled jobs), else 0.", lead)
		api.WriteCounter(w, "nextbest_cluster_unlogged_decisions_total", "Decisions served whose record the cluster's log did not acknowledge.", float64(s.UnloggedDecisions))
		api.WriteCounter(w, "nextbest_cluster_applier_restarts_total", "Times this replica's applier restarted after failing to apply the log.", float64(s.Restarts))
	})
}
