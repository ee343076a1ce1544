package service

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// clusterRead bounds how long reading the replicas' status from NATS may take for one
// request: the Cluster page and GET /v1/cluster answer, with a 503, rather than hang.
const clusterRead = 3 * time.Second

// clusterView is this replica's view of the cluster, for GET /v1/cluster and the
// dashboards' Cluster page: every replica's last published status (clusterNode.Replicas)
// with its state judged, and the scheduler lease's holder. It remembers every replica it
// has seen publish since this process started, so that one that stops publishing (its
// status expires from the lease bucket after the lease TTL) is still listed, as not
// reporting, until this process restarts. One rule judges silence, listed or not: a
// status more than wire.ReplicaSilence old; a live replica whose status expired between
// two heartbeats (a lease TTL near the 1 s heartbeat) is not taken for a silent one.
type clusterView struct {
	n *clusterNode

	mu   sync.Mutex
	seen map[string]wire.ReplicaStatus
}

func newClusterView(n *clusterNode) *clusterView {
	return &clusterView{n: n, seen: map[string]wire.ReplicaStatus{}}
}

// Cluster reads the replicas' status and the lease's holder. NATS that cannot be read is
// engine.ErrUnavailable (503 cluster_unavailable).
func (v *clusterView) Cluster(ctx context.Context) (wire.Cluster, error) {
	ctx, cancel := context.WithTimeout(ctx, clusterRead)
	defer cancel()
	reps, err := v.n.Replicas(ctx)
	if err != nil {
		return wire.Cluster{}, &engine.Error{Kind: engine.ErrUnavailable, Code: "cluster_unavailable", Message: "the replicas' status cannot be read from the cluster's NATS: " + err.Error()}
	}
	leader, err := v.n.lease.Holder(ctx)
	if err != nil {
		return wire.Cluster{}, &engine.Error{Kind: engine.ErrUnavailable, Code: "cluster_unavailable", Message: "the scheduler lease cannot be read from the cluster's NATS: " + err.Error()}
	}
	out := wire.Cluster{Clustered: true, Node: v.n.opts.Name, Leader: leader}
	listed := map[string]bool{}
	v.mu.Lock()
	for _, r := range reps {
		w := wire.ReplicaStatus{Node: r.Node, Applied: r.Applied, Last: r.Last, Lag: r.Lag, CaughtUp: r.CaughtUp, Leader: r.Leader,
			Updated: r.Updated, UnloggedDecisions: r.UnloggedDecisions, Restarts: r.Restarts}
		listed[r.Node] = true
		v.seen[r.Node] = w
		out.Replicas = append(out.Replicas, w)
	}
	for name, w := range v.seen {
		if !listed[name] {
			out.Replicas = append(out.Replicas, w)
		}
	}
	v.mu.Unlock()
	sort.Slice(out.Replicas, func(i, j int) bool { return out.Replicas[i].Node < out.Replicas[j].Node })
	now := time.Now()
	for i := range out.Replicas {
		r := &out.Replicas[i]
		switch {
		case now.Sub(r.Updated) > wire.ReplicaSilence:
			r.State = wire.ReplicaNotReporting
		case r.CaughtUp:
			r.State = wire.ReplicaCaughtUp
		default:
			r.State = wire.ReplicaCatchingUp
		}
	}
	return out, nil
}
