package wire

import (
	"encoding/json"
	"time"
)

// Cluster is one replica's view of the cluster it belongs to: the answer of
// GET /v1/cluster. A single node (no cluster configured) answers {"clustered": false} and
// nothing else.
type Cluster struct {
	Clustered bool `json:"clustered"`
	// Node is the name of the replica that answered.
	Node string `json:"node"`
	// Leader is the replica that holds the scheduler's lease, and so runs the cluster's
	// scheduled jobs; "" while no replica holds it (it is being taken over).
	Leader string `json:"leader"`
	// Replicas is every replica that publishes its position, and every replica the
	// answering one has seen publish since it started and that has stopped since, by
	// name.
	Replicas []ReplicaStatus `json:"replicas"`
}

// MarshalJSON writes a single node as {"clustered": false}, and a cluster with every
// field (an empty leader and replica list included).
func (c Cluster) MarshalJSON() ([]byte, error) {
	if !c.Clustered {
		return []byte(`{"clustered":false}`), nil
	}
	type plain Cluster
	if c.Replicas == nil {
		c.Replicas = []ReplicaStatus{}
	}
	return json.Marshal(plain(c))
}

// ReplicaState is how a replica is doing, as the replica that answers GET /v1/cluster
// judges it.
type ReplicaState string

// The replica states.
const (
	// ReplicaCaughtUp: the replica has caught up with the log and its lag is within the
	// readiness bound (it reports ready on /readyz).
	ReplicaCaughtUp ReplicaState = "caught_up"
	// ReplicaCatchingUp: the replica is applying the log and has not caught up yet, or
	// has fallen further behind than the readiness bound.
	ReplicaCatchingUp ReplicaState = "catching_up"
	// ReplicaNotReporting: the replica's last published status is older than
	// ReplicaSilence: it is stopped, cut off from NATS, or hung. Its other fields are
	// what it last published.
	ReplicaNotReporting ReplicaState = "not_reporting"
)

// ReplicaSilence is how old a replica's status may be before it counts as not
// reporting: five of the one-second heartbeats in which replicas publish it.
const ReplicaSilence = 5 * time.Second

// ReplicaStatus is one replica's position in the cluster's log, as it last published it
// (every second), and the state judged from it.
type ReplicaStatus struct {
	Node     string `json:"node"`
	Applied  uint64 `json:"applied"`   // sequence of the last command of the log it applied
	Last     uint64 `json:"last"`      // the log's last sequence, as it last read it
	Lag      uint64 `json:"lag"`       // commands it has still to apply: last - applied
	CaughtUp bool   `json:"caught_up"` // ready: caught up once, and lag within the bound
	Leader   bool   `json:"leader"`    // it held the scheduler's lease when it published
	// Updated is when the replica published this status, by its own clock.
	Updated time.Time `json:"updated"`
	// UnloggedDecisions counts the decisions it served whose record the log did not
	// acknowledge; Restarts, the times its applier restarted after failing to apply.
	UnloggedDecisions uint64       `json:"unlogged_decisions"`
	Restarts          uint64       `json:"restarts"`
	State             ReplicaState `json:"state"`
}
