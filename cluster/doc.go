// Package cluster is the NATS JetStream plumbing under nextbest's scale-out: an embedded
// nats-server (one per replica, or none when the replicas connect to an external NATS
// cluster by URL), the client connection with TLS and credentials, the stream that
// carries the replicated command log, a key-value bucket of leader leases and an object
// store of snapshots, and helpers that start a cluster of embedded servers inside tests.
//
// Everything here stands on NATS's own replication; nothing is a home-made protocol:
//
//   - JetStream streams, key-value and object stores: https://docs.nats.io/nats-concepts/jetstream
//     (streams, "Message Deduplication" with Nats-Msg-Id, "Key/Value Store", "Object Store"),
//     and the clustering guide, https://docs.nats.io/running-a-nats-service/configuration/clustering/jetstream_clustering.
//   - Each replicated stream (and the meta layer that places them) is a Raft group:
//     D. Ongaro and J. Ousterhout, "In Search of an Understandable Consensus Algorithm",
//     USENIX ATC 2014. A stream of R replicas acknowledges a publish once a majority
//     (R/2+1) has stored it, so R3 survives one lost server and refuses writes, with no
//     acknowledgement, when two are lost (IsNoQuorum recognises that refusal).
//
// The leader lease (lease.go) is a key in a bucket whose revisions expire after the
// lease's TTL; see Lease for why the bucket's TTL and not a per-key TTL.
package cluster
