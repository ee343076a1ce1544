package cluster

import (
	"context"
	"errors"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoQuorum is a write a replica refused without sending it to the log: the log's
// leader has not heard from a majority of its servers lately (Replica.Append).
var ErrNoQuorum = errors.New("not sent to the cluster's log")

// IsNoQuorum reports whether err is JetStream not answering or refusing for want of a
// quorum: no server responds for the stream (no leader), the acknowledgement did not
// come before the deadline (a leader that cannot reach a majority never acknowledges),
// or the server answered 503 (JetStream or the stream temporarily unavailable). The
// write was not acknowledged, so the API answers 503; it may still be applied later if
// a majority did store it, which message-id deduplication makes safe to retry.
func IsNoQuorum(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNoQuorum) || errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == http.StatusServiceUnavailable
}
