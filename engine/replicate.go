package engine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nextbest/nextbest/record"
)

// Replication: several engines ("replicas") learn as one when every change to their
// learning state goes through one totally ordered, replicated log (package cluster puts
// it on NATS JetStream). This is state machine replication (Schneider 1990, "Implementing
// fault-tolerant services using the state machine approach", ACM Computing Surveys 22(4)):
// every replica applies the same commands in the same order, deterministically, so that
// replicas that have applied the same prefix of the log hold the same models, bit for bit.
//
//   - A replica that takes a change (feedback, outcomes, a catalog or experiment change, a
//     decision it served) encodes it as a command and appends it to the log. The append
//     returns once a quorum of the log's servers holds it; the caller is answered only
//     after the replica's own applier has applied it, with the result the apply computed,
//     so the answer is the same on every replica and the next Decide here sees it.
//   - Decisions are served from the replica's own models; the decision is appended without
//     waiting (its record then reaches every replica's log, for reports and evaluation).
//   - The applier (Apply) hands commands to the group committer in log order; the committer
//     writes the last applied log sequence in the same atomic commit as the state it
//     produced (settingApplied), so a replica that restarts resumes right after it and
//     applies each command exactly once. Changes made outside the committer (the catalog,
//     experiments, profiles) are idempotent upserts: a crash between the change and the
//     sequence that records it applies the command once more, to the same effect.
//
// What the applier computes depends only on the command and the state (times are in the
// command, chosen by the replica that took the change); nothing is drawn at random.

// Log is the replicated log a clustered engine appends its commands to.
type Log interface {
	// Append appends cmd durably and returns its sequence; a command whose id the log
	// has seen recently is not appended again (duplicate, with the first one's sequence).
	Append(ctx context.Context, id string, cmd []byte) (seq uint64, duplicate bool, err error)
	// AppendAsync appends cmd without waiting for the log's acknowledgement.
	AppendAsync(id string, cmd []byte) error
	// LastSeq returns the sequence of the last command in the log.
	LastSeq(ctx context.Context) (uint64, error)
}

// settingApplied holds the sequence of the last replicated command whose effects the store
// holds; the committer writes it in the same commit as those effects.
const settingApplied = "cluster_applied"

// Command kinds, the first byte of an encoded command.
const (
	cmdDecision byte = 1 + iota // a decision served by a replica (record.EncodeDecision without dictionary)
	cmdFeedback                 // a response (feedbackCmd)
	cmdOutcomes                 // customer outcomes ([]CustomerOutcome, prepared by the origin)
	cmdEnroll                   // an enrollment without a contact
	cmdCall                     // a change made by an engine method (callCmd)
)

// Method names of cmdCall.
const (
	callPutAction       = "put_action"
	callDisableAction   = "disable_action"
	callPutSchema       = "put_schema"
	callPutCustomer     = "put_customer"
	callPutExperiment   = "put_experiment"
	callPutCampaign     = "put_campaign"
	callPutObjective    = "put_objective"
	callDeleteObjective = "delete_objective"
	callRollback        = "rollback"
	callExpire          = "expire_responses"
	callLabels          = "resolve_labels"
	callRunCampaign     = "run_campaign"
	callRunOutbound     = "run_outbound"
	callAdvanceClock    = "advance_clock"
)

type feedbackCmd struct {
	Decision DecisionID `json:"d"`
	Action   ActionID   `json:"a"`
	Outcome  Outcome    `json:"o"`
	Reward   *float64   `json:"r,omitempty"`
	Time     time.Time  `json:"t"`
}

type callCmd struct {
	Method string          `json:"m"`
	Args   json.RawMessage `json:"a"`
}

// replication is a clustered engine's side of the log; nil on a single node.
type replication struct {
	log  Log
	node string
	// proposals numbers this replica's commands; waiters holds a channel for each command
	// appended here whose result a caller waits for.
	proposals atomic.Uint64
	waiters   sync.Map // uint64 -> chan applied
	// dispatched is the sequence of the last command handed to the committer or applied;
	// durable the last one whose effects are committed. Apply's goroutine writes
	// dispatched; the committer writes durable.
	dispatched atomic.Uint64
	durable    atomic.Uint64
	mu         sync.Mutex
	moved      chan struct{} // closed and replaced when dispatched moves
	// inflight carries the committer requests of replicated commands, in log order, to
	// the goroutine that answers their origins (deliver).
	inflight chan inflight
	failure  atomic.Pointer[error]
	caughtUp atomic.Bool
	advancer ClockAdvancer // moves the manual clock (SetClockAdvancer); nil on the system clock
	// extensions are the adapters' replicated commands (RegisterCommand), by method name.
	extensions map[string]CommandFunc
	// served holds the decisions this replica served whose records it has not applied
	// from the log yet. Only a client's feedback reads it; the applier never does, so
	// that a decision whose record never reached the log (its append timed out) is
	// unknown to every replica alike, this one included.
	served *recentDecisions
}

type inflight struct {
	r        *request
	seq      uint64
	proposal uint64 // 0: not this replica's
}

// applied is what applying a command gave its origin.
type applied struct {
	res   result // committer result (feedback, outcomes)
	value any    // a call's return value
	err   error
}

// ErrReplicaFailed marks a replica that could not apply a command of the log to its own
// store (a disk error): its applier stops, and resumes from the last sequence it committed.
var ErrReplicaFailed = errors.New("replica could not apply the log")

// Replicate makes the engine a replica of log under the name node (unique in the
// cluster). Call it after Open and before Run; from then on every state change is
// appended to log and takes effect through Apply. seed is the cluster's random seed,
// the same on every replica: it stands for Options.Seed when that is 0, so that the
// campaign and outbound runs every replica applies draw alike (seed.go).
func (e *Engine) Replicate(ctx context.Context, log Log, node string, seed uint64) error {
	if seed == 0 && e.opts.Seed == 0 {
		return errors.New("replicate: a cluster needs a seed")
	}
	if e.opts.Seed == 0 {
		e.opts.Seed = seed
	}
	applied, err := e.AppliedSeq(ctx)
	if err != nil {
		return err
	}
	r := &replication{log: log, node: node, moved: make(chan struct{}), inflight: make(chan inflight, 8192), extensions: map[string]CommandFunc{}, served: newRecentDecisions(1 << 14)}
	r.durable.Store(applied)
	r.dispatched.Store(applied)
	e.repl = r
	return nil
}

// SetCaughtUp tells a replica whether it has caught up with the log (what Ready reports
// depends on it); the applier decides.
func (e *Engine) SetCaughtUp(ok bool) {
	if e.repl != nil {
		e.repl.caughtUp.Store(ok)
	}
}

// Clustered reports whether the engine is a replica of a replicated log.
func (e *Engine) Clustered() bool { return e.repl != nil }

// AppliedSeq returns the sequence of the last replicated command the store holds the
// effects of (0 if none): the applier resumes after it.
func (e *Engine) AppliedSeq(ctx context.Context) (uint64, error) {
	if e.repl != nil {
		return e.repl.durable.Load(), nil
	}
	raw, err := e.store.Setting(ctx, settingApplied)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the applied log sequence: %w", err)
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: applied log sequence %q: %v", ErrDamaged, raw, err)
	}
	return n, nil
}

// DispatchedSeq returns the sequence of the last command Apply has taken.
func (e *Engine) DispatchedSeq() uint64 {
	if e.repl == nil {
		return 0
	}
	return e.repl.dispatched.Load()
}

// applying marks the context of a method run by Apply: it changes the local state only.
type applyingKey struct{}

func (e *Engine) proposing(ctx context.Context) bool {
	return e.repl != nil && ctx.Value(applyingKey{}) == nil
}

// applyInfo is the value of applyingKey: the command's log sequence and its time (the
// origin's clock when it was proposed), which stands for the clock while it is applied.
type applyInfo struct {
	seq uint64
	at  time.Time
}

// now returns the engine's time for a change: while a replicated command is applied, the
// command's time, so that every replica stamps it alike; else the clock.
func (e *Engine) now(ctx context.Context) time.Time {
	if a, ok := ctx.Value(applyingKey{}).(applyInfo); ok && !a.at.IsZero() {
		return a.at
	}
	return e.clock.Now()
}

// now returns at, or the clock if at is zero (a local request).
func (c *committer) now(at time.Time) time.Time {
	if !at.IsZero() {
		return at
	}
	return c.e.clock.Now()
}

// encodeCommand returns kind, the origin replica, the proposal number, the origin's
// clock (Unix nanoseconds) and payload.
func (r *replication) encodeCommand(kind byte, proposal uint64, at time.Time, payload []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64*3+len(r.node)+len(payload))
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(r.node)))
	b = append(b, r.node...)
	b = binary.AppendUvarint(b, proposal)
	b = binary.AppendVarint(b, at.UnixNano())
	return append(b, payload...)
}

func decodeCommand(b []byte) (kind byte, origin string, proposal uint64, at time.Time, payload []byte, err error) {
	if len(b) < 2 {
		return 0, "", 0, at, nil, fmt.Errorf("command of %d bytes", len(b))
	}
	kind = b[0]
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || uint64(len(b)-1-k) < n {
		return 0, "", 0, at, nil, errors.New("command: bad origin")
	}
	i := 1 + k
	origin = string(b[i : i+int(n)])
	i += int(n)
	proposal, k = binary.Uvarint(b[i:])
	if k <= 0 {
		return 0, "", 0, at, nil, errors.New("command: bad proposal")
	}
	i += k
	ns, k := binary.Varint(b[i:])
	if k <= 0 {
		return 0, "", 0, at, nil, errors.New("command: bad time")
	}
	return kind, origin, proposal, time.Unix(0, ns).UTC(), b[i+k:], nil
}

// propose appends a command and waits until this replica has applied it.
func (e *Engine) propose(ctx context.Context, kind byte, id string, payload []byte) (applied, error) {
	r := e.repl
	if err := r.failed(); err != nil {
		return applied{}, err
	}
	p := r.proposals.Add(1)
	ch := make(chan applied, 1)
	r.waiters.Store(p, ch)
	defer r.waiters.Delete(p)
	seq, dup, err := r.log.Append(ctx, id, r.encodeCommand(kind, p, e.clock.Now(), payload))
	if err != nil {
		if ctx.Err() != nil {
			return applied{}, ctx.Err()
		}
		return applied{}, errorf(ErrUnavailable, "cluster_unavailable", "the cluster did not acknowledge the change: %v; it was not made, unless the cluster stored it before failing (then it takes effect once the cluster recovers); retry", err)
	}
	if dup {
		// The log holds an earlier append of the same command (a retry): wait until it is
		// applied here and answer as a duplicate.
		if err := e.waitApplied(ctx, seq); err != nil {
			return applied{}, err
		}
		return applied{res: result{duplicate: true}}, nil
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case a := <-ch:
			return a, nil
		case <-tick.C:
			if err := r.failed(); err != nil { // the applier stopped: the answer may never come
				return applied{}, err
			}
		case <-ctx.Done():
			return applied{}, errorf(ErrUnavailable, "cluster_lagging", "the change is in the cluster's log (sequence %d) but this replica had not applied it when the request ended: %v", seq, ctx.Err())
		}
	}
}

// failed returns the error that stopped the applier, if any.
func (r *replication) failed() error {
	if p := r.failure.Load(); p != nil {
		return errorf(ErrUnavailable, "replica_failed", "this replica cannot apply the cluster's log: %v", *p)
	}
	return nil
}

func (r *replication) fail(err error) {
	r.failure.CompareAndSwap(nil, &err)
}

// ResetApply clears a failure after the applier has been restarted from AppliedSeq.
func (e *Engine) ResetApply() {
	if e.repl != nil {
		e.repl.dispatched.Store(e.repl.durable.Load())
		e.repl.failure.Store(nil)
	}
}

// waitApplied waits until this replica has taken the command at seq.
func (e *Engine) waitApplied(ctx context.Context, seq uint64) error {
	r := e.repl
	for {
		r.mu.Lock()
		moved := r.moved
		r.mu.Unlock()
		if r.dispatched.Load() >= seq {
			return nil
		}
		if err := r.failed(); err != nil {
			return err
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return errorf(ErrUnavailable, "cluster_lagging", "this replica has not yet applied the cluster's log up to sequence %d (it is at %d)", seq, r.dispatched.Load())
		}
	}
}

// barrier waits until this replica has taken every command the log held when it was
// called, so that what any replica acknowledged before is visible here.
func (e *Engine) barrier(ctx context.Context) error {
	last, err := e.repl.log.LastSeq(ctx)
	if err != nil {
		return errorf(ErrUnavailable, "cluster_unavailable", "the cluster's log cannot be read: %v", err)
	}
	return e.waitApplied(ctx, last)
}

func (r *replication) advance(seq uint64) {
	r.dispatched.Store(seq)
	r.mu.Lock()
	close(r.moved)
	r.moved = make(chan struct{})
	r.mu.Unlock()
}

// Apply applies the command at seq of the replicated log. Call it from one goroutine, in
// log order, starting after AppliedSeq. It returns before the command's effects are
// committed (they are committed in log order); an error means this replica cannot go on
// (ErrReplicaFailed): stop, and start again after AppliedSeq.
func (e *Engine) Apply(ctx context.Context, seq uint64, cmd []byte) error {
	r := e.repl
	if err := r.failed(); err != nil {
		return err
	}
	if seq <= r.dispatched.Load() {
		return nil // applied before (a redelivery)
	}
	kind, origin, proposal, at, payload, err := decodeCommand(cmd)
	if err != nil {
		// Nothing that this engine appends decodes so; skip it, loudly, rather than stop
		// every replica on the same entry.
		e.log.Error("replicated log entry skipped: not a command", "seq", seq, "err", err)
		return e.applyDone(ctx, seq)
	}
	if origin != r.node {
		proposal = 0
	}
	actx := context.WithValue(ctx, applyingKey{}, applyInfo{seq: seq, at: at})
	switch kind {
	case cmdDecision:
		d, err := decodeWireDecision(payload)
		if err != nil {
			e.log.Error("replicated decision skipped", "seq", seq, "err", err)
			return e.applyDone(ctx, seq)
		}
		d.Encoded = record.EncodeDecision(nil, d, e.store.DecisionStrings())
		e.recent.put(d)
		r.served.forget(d.ID)
		return e.applySend(ctx, seq, &request{decision: d, stream: seq}, 0)
	case cmdEnroll:
		var en Enrollment
		if err := json.Unmarshal(payload, &en); err != nil {
			e.log.Error("replicated enrollment skipped", "seq", seq, "err", err)
			return e.applyDone(ctx, seq)
		}
		return e.applySend(ctx, seq, &request{enroll: &en, stream: seq}, 0)
	case cmdFeedback:
		var f feedbackCmd
		if err := json.Unmarshal(payload, &f); err != nil {
			return e.applyAnswer(ctx, seq, proposal, applied{err: Invalid("invalid_command", "feedback command: %v", err)})
		}
		d, err := e.decision(actx, f.Decision)
		if err == nil && !slices.Contains(d.Chosen, f.Action) {
			err = errorf(ErrUnprocessable, "action_not_offered", "action %q was not offered in decision %q (offered: %v)", truncate(string(f.Action), 64), d.ID, d.Chosen)
		}
		if err != nil {
			if !deterministic(err) {
				return e.applyFail(err)
			}
			return e.applyAnswer(ctx, seq, proposal, applied{err: err})
		}
		return e.applySend(ctx, seq, &request{feedback: &feedbackReq{d: d, action: f.Action, outcome: f.Outcome, reward: f.Reward, time: f.Time.UTC()}, stream: seq}, proposal)
	case cmdOutcomes:
		var os []CustomerOutcome
		if err := json.Unmarshal(payload, &os); err != nil {
			return e.applyAnswer(ctx, seq, proposal, applied{err: Invalid("invalid_command", "outcomes command: %v", err)})
		}
		return e.applySend(ctx, seq, &request{outcomes: os, stream: seq, at: at}, proposal)
	case cmdCall:
		var c callCmd
		if err := json.Unmarshal(payload, &c); err != nil {
			return e.applyAnswer(ctx, seq, proposal, applied{err: Invalid("invalid_command", "call command: %v", err)})
		}
		// Everything before the call is committed first: calls read the store.
		if err := e.Flush(ctx); err != nil {
			return e.applyFail(err)
		}
		if err := r.failed(); err != nil {
			return err
		}
		v, err := e.call(actx, c)
		if err != nil && !deterministic(err) {
			ferr := e.applyFail(err)
			e.deliver(proposal, applied{err: r.failed()})
			return ferr
		}
		if err := e.store.PutSetting(ctx, settingApplied, strconv.AppendUint(nil, seq, 10)); err != nil {
			return e.applyFail(err)
		}
		r.durable.Store(seq)
		return e.applyAnswer(ctx, seq, proposal, applied{value: v, err: err})
	default:
		e.log.Error("replicated log entry skipped: unknown command kind", "seq", seq, "kind", kind)
		return e.applyDone(ctx, seq)
	}
}

// deterministic reports whether err is an answer every replica gives to the same command
// in the same state (a validation error), rather than a local failure.
func deterministic(err error) bool {
	var ee *Error
	return errors.As(err, &ee) && !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrInsufficientStorage)
}

func (e *Engine) applyFail(err error) error {
	err = fmt.Errorf("%w: %w", ErrReplicaFailed, err)
	e.repl.fail(err)
	return err
}

// applyDone records seq as taken (a command with nothing for the committer).
func (e *Engine) applyDone(ctx context.Context, seq uint64) error {
	e.repl.advance(seq)
	return nil
}

// applyAnswer records seq as taken, then answers its origin: in that order, so that the
// origin's answer carries a log position (DispatchedSeq) that includes the command.
func (e *Engine) applyAnswer(ctx context.Context, seq, proposal uint64, a applied) error {
	err := e.applyDone(ctx, seq)
	e.deliver(proposal, a)
	return err
}

// applySend queues r for the committer; its result reaches its origin through deliver.
func (e *Engine) applySend(ctx context.Context, seq uint64, r *request, proposal uint64) error {
	if r.decision != nil || r.enroll != nil {
		if err := e.journal.enqueue(r); err != nil {
			return e.applyFail(err)
		}
	} else {
		if err := e.journal.send(ctx, r); err != nil {
			return e.applyFail(err)
		}
		select {
		case e.repl.inflight <- inflight{r: r, seq: seq, proposal: proposal}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.repl.advance(seq)
	return nil
}

// deliverLoop answers the origins of replicated commands, in log order, as the committer
// commits them. It runs beside the committer while the engine is clustered.
func (e *Engine) deliverLoop(ctx context.Context) {
	r := e.repl
	for {
		select {
		case f := <-r.inflight:
			res := e.journal.wait(f.r)
			if res.err != nil {
				e.applyFail(res.err)
			}
			e.deliver(f.proposal, applied{res: res, err: res.err})
		case <-ctx.Done():
			return
		}
	}
}

func (e *Engine) deliver(proposal uint64, a applied) {
	if proposal == 0 {
		return
	}
	if ch, ok := e.repl.waiters.Load(proposal); ok {
		ch.(chan applied) <- a
	}
}

type idemKey struct{}

// WithIdempotencyKey returns ctx with key: on a replica, the change made under ctx is
// appended to the log with key as its message id, so that the log takes it once within its
// duplicate window, whichever replica makes it (a scheduled job's run, say). The caller of
// a duplicate gets the zero result.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idemKey{}, key)
}

// ClockAdvancer moves a manual clock to a time, running the scheduled jobs due on the
// way; it returns what it ran.
type ClockAdvancer func(ctx context.Context, t time.Time) ([]string, error)

// SetClockAdvancer gives a replica the function that advances its manual clock (the
// service's scheduler). Call it before Run.
func (e *Engine) SetClockAdvancer(f ClockAdvancer) {
	if e.repl != nil {
		e.repl.advancer = f
	}
}

// AdvanceClock moves the manual clocks of a cluster to t: every replica moves its clock
// and runs the jobs due on the way at the same point of the log, so that each applies
// the same runs to the same state (a simulation's days, on every replica alike).
func (e *Engine) AdvanceClock(ctx context.Context, t time.Time) ([]string, error) {
	if e.repl == nil || e.repl.advancer == nil {
		return nil, Invalid("not_clustered", "the clock of a single node is advanced by its scheduler")
	}
	if e.proposing(ctx) {
		return proposeCall[[]string](ctx, e, callAdvanceClock, jobArgs{Now: t.UTC()})
	}
	return e.repl.advancer(ctx, t)
}

// proposeCall appends a call of method with args and returns what applying it returned.
func proposeCall[T any](ctx context.Context, e *Engine, method string, args any) (T, error) {
	var zero T
	raw, err := json.Marshal(args)
	if err != nil {
		return zero, fmt.Errorf("encode %s: %w", method, err)
	}
	payload, err := json.Marshal(callCmd{Method: method, Args: raw})
	if err != nil {
		return zero, fmt.Errorf("encode %s: %w", method, err)
	}
	id, _ := ctx.Value(idemKey{}).(string)
	a, err := e.propose(ctx, cmdCall, id, payload)
	if err != nil {
		return zero, err
	}
	if a.err != nil {
		return zero, a.err
	}
	if a.res.duplicate {
		return zero, nil
	}
	v, _ := a.value.(T)
	return v, nil
}

type customerArgs struct {
	ID    CustomerID     `json:"id"`
	Attrs map[string]any `json:"attrs"`
}

type rollbackArgs struct {
	Action   ActionID  `json:"action"`
	Version  uint64    `json:"version"`
	Snapshot *Snapshot `json:"snapshot,omitempty"` // the version as the origin stores it
	Model    []byte    `json:"model,omitempty"`    // its model bytes (Snapshot's JSON leaves them out)
}

type jobArgs struct {
	Now time.Time `json:"now"`
}

type runArgs struct {
	Campaign CampaignID `json:"campaign,omitempty"`
	Channel  string     `json:"channel,omitempty"`
	Now      time.Time  `json:"now"`
}

// call runs a replicated method on this replica.
func (e *Engine) call(ctx context.Context, c callCmd) (any, error) {
	bad := func(err error) (any, error) {
		return nil, Invalid("invalid_command", "%s command: %v", c.Method, err)
	}
	switch c.Method {
	case callPutAction:
		var a Action
		if err := json.Unmarshal(c.Args, &a); err != nil {
			return bad(err)
		}
		return e.PutAction(ctx, a)
	case callDisableAction:
		var id ActionID
		if err := json.Unmarshal(c.Args, &id); err != nil {
			return bad(err)
		}
		return e.DisableAction(ctx, id)
	case callPutSchema:
		var raw []byte
		if err := json.Unmarshal(c.Args, &raw); err != nil {
			return bad(err)
		}
		return e.PutSchema(ctx, raw)
	case callPutCustomer:
		var a customerArgs
		if err := json.Unmarshal(c.Args, &a); err != nil {
			return bad(err)
		}
		return e.PutCustomer(ctx, a.ID, a.Attrs)
	case callPutExperiment:
		var x Experiment
		if err := json.Unmarshal(c.Args, &x); err != nil {
			return bad(err)
		}
		return e.PutExperiment(ctx, x)
	case callPutCampaign:
		var x Campaign
		if err := json.Unmarshal(c.Args, &x); err != nil {
			return bad(err)
		}
		return e.PutCampaign(ctx, x)
	case callPutObjective:
		var o Objective
		if err := json.Unmarshal(c.Args, &o); err != nil {
			return bad(err)
		}
		return e.PutObjective(ctx, o)
	case callDeleteObjective:
		var outcome string
		if err := json.Unmarshal(c.Args, &outcome); err != nil {
			return bad(err)
		}
		return nil, e.DeleteObjective(ctx, outcome)
	case callRollback:
		var a rollbackArgs
		if err := json.Unmarshal(c.Args, &a); err != nil {
			return bad(err)
		}
		return e.rollback(ctx, a)
	case callExpire:
		var a jobArgs
		if err := json.Unmarshal(c.Args, &a); err != nil {
			return bad(err)
		}
		return e.expireResponses(ctx, a.Now)
	case callLabels:
		var a jobArgs
		if err := json.Unmarshal(c.Args, &a); err != nil {
			return bad(err)
		}
		return e.resolveLabels(ctx, a.Now)
	case callAdvanceClock:
		var a jobArgs
		if err := json.Unmarshal(c.Args, &a); err != nil {
			return bad(err)
		}
		// The jobs due on the way run at their due times, which the advancer sets on the
		// manual clock (the same on every replica): not at the command's time.
		ctx = context.WithValue(ctx, applyingKey{}, applyInfo{seq: ctx.Value(applyingKey{}).(applyInfo).seq})
		return e.AdvanceClock(ctx, a.Now)
	case callRunCampaign, callRunOutbound:
		var a runArgs
		if err := json.Unmarshal(c.Args, &a); err != nil {
			return bad(err)
		}
		ctx = context.WithValue(ctx, applyingKey{}, applyInfo{seq: ctx.Value(applyingKey{}).(applyInfo).seq, at: a.Now})
		if c.Method == callRunCampaign {
			return e.RunCampaign(ctx, a.Campaign)
		}
		return e.RunOutbound(ctx, a.Channel)
	}
	if fn := e.repl.extensions[c.Method]; fn != nil {
		return fn(ctx, c.Args)
	}
	return nil, Invalid("invalid_command", "unknown method %q", c.Method)
}

// CommandFunc applies a replicated command of an adapter (RegisterCommand) to this
// replica's state; payload is what ProposeCommand was given.
type CommandFunc func(ctx context.Context, payload []byte) (any, error)

// RegisterCommand makes name a replicated command whose effects fn applies on every
// replica, for state the engine does not hold (the service's API keys). Call it before
// Run. An error fn returns that is not an *Error stops the replica's applier.
func (e *Engine) RegisterCommand(name string, fn CommandFunc) {
	if e.repl != nil {
		e.repl.extensions["ext:"+name] = fn
	}
}

// ProposeCommand appends the command name (RegisterCommand) with payload, and returns
// what applying it on this replica returned. On a single node it is an error.
func (e *Engine) ProposeCommand(ctx context.Context, name string, payload []byte) (any, error) {
	if e.repl == nil {
		return nil, errors.New("propose " + name + ": not a replica")
	}
	return proposeCall[any](ctx, e, "ext:"+name, json.RawMessage(payload))
}

// encodeWireDecision returns d in the form the log carries: its id, then its record
// without the store's dictionary (every name spelt out), so that any replica reads it.
func encodeWireDecision(d *Decision) []byte {
	b := binary.AppendUvarint(nil, uint64(len(d.ID)))
	b = append(b, d.ID...)
	return record.EncodeDecision(b, d, nil)
}

func decodeWireDecision(b []byte) (*Decision, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, errors.New("decision: bad id")
	}
	id := DecisionID(b[k : k+int(n)])
	d := new(Decision)
	if err := record.DecodeDecision(b[k+int(n):], id, nil, d); err != nil {
		return nil, fmt.Errorf("decision %q: %w", id, err)
	}
	return d, nil
}

// outcomesID is the log's idempotency key of an outcomes request whose outcomes all carry
// a client id (their idempotency keys), "" otherwise.
func outcomesID(os []CustomerOutcome) string {
	h := sha256.New()
	for _, o := range os {
		if o.ID == "" {
			return ""
		}
		h.Write([]byte(o.ID))
		h.Write([]byte{0})
	}
	return "outcomes:" + hex.EncodeToString(h.Sum(nil))
}

// decisionWait is how long feedback for a decision this replica does not know waits for
// it: another replica logs the decisions it serves without waiting for the log, so a
// decision answered there a moment ago may not be in the log yet.
const decisionWait = 2 * time.Second

// decisionPending is how recent a decision unknown after decisionWait must be for
// feedback on it to be told to retry (503 decision_pending) rather than that it does not
// exist (404): a leader election holds the log up for up to about ten seconds.
const decisionPending = time.Minute

// awaitDecision finds a decision another replica may have served a moment ago: it waits
// until this replica has applied everything the log holds, looks again, and so on until
// decisionWait has passed.
func (e *Engine) awaitDecision(ctx context.Context, id DecisionID) (*Decision, error) {
	deadline := time.Now().Add(decisionWait)
	for {
		if err := e.barrier(ctx); err != nil {
			return nil, err
		}
		d, err := e.decision(ctx, id)
		if !errors.Is(err, ErrNotFound) {
			return d, err
		}
		if time.Now().After(deadline) {
			if t, ok := record.DecisionIDTime(id); ok && e.clock.Now().Sub(t).Abs() < decisionPending {
				// Served a moment ago: its record may be held up by the log (a leader
				// election takes seconds). Not "unknown": try again.
				return nil, errorf(ErrUnavailable, "decision_pending", "decision %q was made %s ago and its record has not reached this replica yet; retry in a few seconds", id, e.clock.Now().Sub(t).Round(time.Millisecond))
			}
			return d, err
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return nil, err
		}
	}
}

// WaitApplied waits until this replica's store holds the effects of the log up to seq:
// a client that wrote through one replica and reads through another sends the sequence
// the first answered with (the API's Nextbest-Log-Seq header), and reads its own writes.
// It returns ErrUnavailable (cluster_lagging) if ctx ends first; on a single node, nil.
func (e *Engine) WaitApplied(ctx context.Context, seq uint64) error {
	if e.repl == nil || e.repl.durable.Load() >= seq {
		return nil
	}
	if err := e.waitApplied(ctx, seq); err != nil {
		return err
	}
	return e.Flush(ctx) // commits what the applier has queued
}
