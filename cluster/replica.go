package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Applier is what a replica needs of its engine (engine.Engine implements it): apply the
// log in order, from the sequence its store last applied.
type Applier interface {
	Apply(ctx context.Context, seq uint64, cmd []byte) error
	AppliedSeq(ctx context.Context) (uint64, error)
	DispatchedSeq() uint64
	SetCaughtUp(ok bool)
	ResetApply()
}

// ReplicaOptions configures a Replica.
type ReplicaOptions struct {
	// Node is the replica's name, unique in the cluster.
	Node string
	// Stream is the JetStream stream holding the log.
	Stream string
	// MaxLag is how many commands a replica that has caught up once may fall behind the
	// log before it reports not ready (default 10,000).
	MaxLag uint64
	// Timeout bounds one append (default 5 s).
	Timeout time.Duration
}

// Replica feeds one engine the cluster's log, in order, and gives the engine the Log it
// appends to. Run it beside the engine.
type Replica struct {
	opts    ReplicaOptions
	eng     Applier
	js      jetstream.JetStream
	subject string
	log     *slog.Logger

	last       atomic.Uint64          // the log's last sequence, as last read
	noQuorum   atomic.Pointer[string] // why the log's leader lacks a majority, as last read; nil: it has one
	synced     atomic.Bool            // caught up with the log at least once since Run began
	held       atomic.Bool            // not ready, whatever the lag, while the service prepares (Hold)
	asyncFails atomic.Uint64          // decisions the log did not acknowledge
	restarts   atomic.Uint64          // times the applier restarted after a failure
	// target, before synced: 1 + a sequence up to which the engine had taken every
	// command of the log (0: none yet); synced once its store has committed that far.
	target atomic.Uint64
}

// LogSubject returns the subject the log of stream is published on.
func LogSubject(stream string) string { return strings.ToLower(stream) + ".log" }

// NewReplica returns a replica of the log in opts.Stream for eng, over nc.
func NewReplica(nc *nats.Conn, eng Applier, opts ReplicaOptions, log *slog.Logger) (*Replica, error) {
	if opts.Node == "" || opts.Stream == "" {
		return nil, errors.New("replica: node and stream are required")
	}
	if opts.MaxLag == 0 {
		opts.MaxLag = 10000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Replica{opts: opts, eng: eng, subject: LogSubject(opts.Stream), log: log}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			n := r.asyncFails.Add(1)
			if n == 1 || n%1000 == 0 {
				log.Warn("a decision was served but the cluster did not log it", "decision", m.Header.Get(jetstream.MsgIDHeader), "err", err, "count", n)
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("replica: %w", err)
	}
	r.js = js
	return r, nil
}

// Append appends cmd to the log (engine.Log): it returns once the stream has stored it on
// a quorum of its servers. A non-empty id is the message id JetStream de-duplicates by.
//
// While the stream's leader, as last read (every 250 ms), has not heard from a majority
// of the stream's servers within quorumWindow, Append refuses at once (ErrNoQuorum)
// without publishing: such a leader would still take the command into its own Raft log,
// unacknowledged, and commit it once the others came back, so that a change the client
// was told was refused would be made after all.
func (r *Replica) Append(ctx context.Context, id string, cmd []byte) (uint64, bool, error) {
	if why := r.noQuorum.Load(); why != nil {
		return 0, false, fmt.Errorf("%w: %s", ErrNoQuorum, *why)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(r.opts.Stream)}
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	ack, err := r.js.Publish(ctx, r.subject, cmd, opts...)
	if err != nil {
		return 0, false, err
	}
	return ack.Sequence, ack.Duplicate, nil
}

// AppendAsync appends cmd without waiting for the acknowledgement (engine.Log); a failure
// is logged and counted (Stats.UnloggedDecisions).
func (r *Replica) AppendAsync(id string, cmd []byte) error {
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(r.opts.Stream)}
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	_, err := r.js.PublishAsync(r.subject, cmd, opts...)
	return err
}

// LastSeq returns the log's last sequence (engine.Log).
func (r *Replica) LastSeq(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	s, err := r.js.Stream(ctx, r.opts.Stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	last := info.State.LastSeq
	r.last.Store(last)
	r.noQuorum.Store(quorumLost(info.Cluster))
	return last, nil
}

// quorumWindow is how long a follower of the stream may go without answering its leader
// before the leader is taken to have lost it. The leader's heartbeats go every second
// (nats-server's raft hbInterval); nats-server itself waits 10 s (lostQuorumInterval)
// before its leader steps down, and accepts proposals meanwhile.
const quorumWindow = 3 * time.Second

// quorumLost says why the stream's leader, as ci describes it, has not heard from a
// majority of the stream's servers (itself included) within quorumWindow; nil if it has,
// or if ci does not say (a stream of one server).
func quorumLost(ci *jetstream.ClusterInfo) *string {
	if ci == nil || ci.Leader == "" || len(ci.Replicas) == 0 {
		return nil
	}
	servers, live := len(ci.Replicas)+1, 1
	for _, p := range ci.Replicas {
		if !p.Offline && p.Active < quorumWindow {
			live++
		}
	}
	if live > servers/2 {
		return nil
	}
	why := fmt.Sprintf("the log's leader %s has heard from %d of its %d servers within %v, and needs a majority", ci.Leader, live, servers, quorumWindow)
	return &why
}

// Stats is a replica's position in the log.
type Stats struct {
	Node              string `json:"node"`
	Applied           uint64 `json:"applied"`   // last command taken by the engine
	Last              uint64 `json:"last"`      // the log's last sequence, as last read
	Lag               uint64 `json:"lag"`       // commands the replica has still to apply
	CaughtUp          bool   `json:"caught_up"` // ready: caught up once, and lag within MaxLag
	UnloggedDecisions uint64 `json:"unlogged_decisions"`
	Restarts          uint64 `json:"restarts"`
}

// Stats returns the replica's position in the log.
func (r *Replica) Stats() Stats {
	applied, last := r.eng.DispatchedSeq(), r.last.Load()
	s := Stats{Node: r.opts.Node, Applied: applied, Last: last, UnloggedDecisions: r.asyncFails.Load(), Restarts: r.restarts.Load()}
	if last > applied {
		s.Lag = last - applied
	}
	s.CaughtUp = r.synced.Load() && s.Lag <= r.opts.MaxLag && !r.held.Load()
	return s
}

// Synced reports whether the replica has caught up with the log since Run began.
func (r *Replica) Synced() bool { return r.synced.Load() }

// Hold keeps the replica not ready (on) or lets its lag decide again (off): the service
// holds it while it prepares what a ready replica must have, such as the demo catalog.
func (r *Replica) Hold(on bool) {
	r.held.Store(on)
	r.eng.SetCaughtUp(r.Stats().CaughtUp)
}

// Run applies the log to the engine until ctx ends. A failure to apply (the replica's own
// disk) stops the applier, which starts again, after a pause, from the last sequence the
// store holds; a log that no longer holds that sequence (its retention removed it) is
// reported, and the replica stays not ready.
func (r *Replica) Run(ctx context.Context) error {
	mon := make(chan struct{})
	go func() { defer close(mon); r.monitor(ctx) }()
	defer func() { <-mon }()
	for ctx.Err() == nil {
		err := r.consume(ctx)
		if ctx.Err() != nil {
			break
		}
		r.restarts.Add(1)
		r.eng.SetCaughtUp(false)
		r.synced.Store(false)
		r.target.Store(0)
		r.log.Error("replica: applying the log stopped; starting again from the last applied sequence", "err", err)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
		r.eng.ResetApply()
	}
	return nil
}

// consume applies the log from the store's applied sequence on.
func (r *Replica) consume(ctx context.Context) error {
	from, err := r.eng.AppliedSeq(ctx)
	if err != nil {
		return err
	}
	cons, err := r.js.OrderedConsumer(ctx, r.opts.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{r.subject},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from + 1,
	})
	if err != nil {
		return fmt.Errorf("consume the log from %d: %w", from+1, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return fmt.Errorf("consume the log from %d: %w", from+1, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	expect := from + 1
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read the log: %w", err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
		seq := md.Sequence.Stream
		if seq > expect {
			// The stream's limits removed what this replica had not applied: it can
			// only catch up from a snapshot.
			return fmt.Errorf("the log starts at %d but this replica has applied up to %d only: restore it from a snapshot", seq, expect-1)
		}
		if err := r.eng.Apply(ctx, seq, msg.Data()); err != nil {
			return err
		}
		expect = seq + 1
		if md.NumPending == 0 {
			r.reached(ctx, seq, true)
		}
	}
}

// reached notes, if taken, that the engine has taken every command of the log up to
// seq. The first time, the replica is synced only once the engine's store has committed
// them too: until then its committer may hold thousands of them that its models do not
// show yet, and a replica that joined would report ready with them missing.
func (r *Replica) reached(ctx context.Context, seq uint64, taken bool) {
	if r.synced.Load() {
		if taken {
			r.markSynced(seq)
		}
		return
	}
	if taken {
		r.target.CompareAndSwap(0, seq+1)
	}
	target := r.target.Load()
	if committed, err := r.eng.AppliedSeq(ctx); err == nil && target > 0 && committed >= target-1 {
		r.markSynced(target - 1)
	}
}

func (r *Replica) markSynced(seq uint64) {
	if r.last.Load() < seq {
		r.last.Store(seq)
	}
	if !r.synced.Swap(true) {
		r.log.Info("replica caught up with the log", "node", r.opts.Node, "seq", seq)
	}
	r.eng.SetCaughtUp(r.Stats().CaughtUp)
}

// monitor reads the log's last sequence every 250 ms, so that lag and readiness follow it.
func (r *Replica) monitor(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		last, err := r.LastSeq(ctx)
		if err != nil {
			// No leader answered: publishing finds none either, so nothing is stored
			// without a majority; Append goes back to publishing and timing out.
			r.noQuorum.Store(nil)
		}
		r.reached(ctx, last, err == nil && last <= r.eng.DispatchedSeq())
		r.eng.SetCaughtUp(r.Stats().CaughtUp)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}
