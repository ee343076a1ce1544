package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ensureAttempt bounds one attempt of a JetStream API call in Ensure; ensureRetry is the
// pause between attempts while the cluster has no JetStream leader yet.
const (
	ensureAttempt = 2 * time.Second
	ensureRetry   = 200 * time.Millisecond
)

// Resources are the JetStream objects a replica uses.
type Resources struct {
	// Stream is the replicated command log: subjects "<stream>.>", file storage.
	Stream jetstream.Stream
	// Leases is the key-value bucket of leader leases; its TTL is Options.LeaseTTL.
	Leases jetstream.KeyValue
	// Snapshots is the object store of materialised-state snapshots.
	Snapshots jetstream.ObjectStore
}

// Subjects returns the stream's subject prefix: the stream's name in lower case
// ("nextbest" for NEXTBEST); messages go to "<prefix>.<kind>".
func (o *Options) Subjects() string { return strings.ToLower(o.Stream) }

// LeaseBucket is the name of the lease bucket: "<stream>_leases".
func (o *Options) LeaseBucket() string { return o.Stream + "_leases" }

// SnapshotBucket is the name of the snapshot object store: "<stream>_snapshots".
func (o *Options) SnapshotBucket() string { return o.Stream + "_snapshots" }

// StreamConfig is the stream Ensure creates: subjects "<stream>.>", file storage,
// o.Replicas, limits retention by MaxAge and MaxBytes discarding the oldest, the
// Duplicates window, and no deleting or purging of messages (the log is the source of
// truth; only the limits trim it).
func (o *Options) StreamConfig() jetstream.StreamConfig {
	maxBytes := o.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Name:        o.Stream,
		Description: "nextbest replicated command log",
		Subjects:    []string{o.Subjects() + ".>"},
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      o.MaxAge,
		MaxBytes:    maxBytes,
		MaxMsgs:     -1,
		Duplicates:  o.Duplicates,
		DenyDelete:  true,
		DenyPurge:   true,
	}
}

// Ensure creates the stream, the lease bucket and the snapshot store, or updates them to
// the options (for example a new Replicas or MaxAge), and returns them. A fresh cluster
// answers JetStream requests only once its servers have elected a meta leader (a few
// seconds), so Ensure retries while JetStream is unavailable, until ctx ends.
func Ensure(ctx context.Context, js jetstream.JetStream, o Options) (*Resources, error) {
	var r Resources
	err := retry(ctx, "create stream "+o.Stream, func(ctx context.Context) (err error) {
		r.Stream, err = js.CreateOrUpdateStream(ctx, o.StreamConfig())
		return err
	})
	if err != nil {
		return nil, err
	}
	err = retry(ctx, "create lease bucket "+o.LeaseBucket(), func(ctx context.Context) (err error) {
		r.Leases, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      o.LeaseBucket(),
			Description: "nextbest leader leases",
			History:     1,
			TTL:         o.LeaseTTL,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	err = retry(ctx, "create snapshot store "+o.SnapshotBucket(), func(ctx context.Context) (err error) {
		r.Snapshots, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      o.SnapshotBucket(),
			Description: "nextbest snapshots of the materialised state",
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// retry calls f, each call bounded by ensureAttempt, until it succeeds, fails with an
// error that waiting will not cure, or ctx ends.
func retry(ctx context.Context, what string, f func(context.Context) error) error {
	for {
		actx, cancel := context.WithTimeout(ctx, ensureAttempt)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		if !unavailable(err) || ctx.Err() != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: no JetStream leader answered before the deadline: %w", what, err)
			}
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no JetStream leader answered before the deadline: %w", what, err)
		case <-time.After(ensureRetry):
		}
	}
}

// unavailable reports whether err says JetStream is not (yet) there: no meta leader, no
// responders, a timeout, or a 503.
func unavailable(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jsNoPeers {
		return true // fewer servers have joined than the stream has replicas: yet
	}
	return IsNoQuorum(err) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount)
}

// jsNoPeers is JetStream's error code for "no suitable peers for placement"
// (JSClusterNoPeersErrF in nats-server's errors.json): the cluster has fewer servers than
// the replicas asked for, as while a new cluster's servers start one after the other.
const jsNoPeers jetstream.ErrorCode = 10005
