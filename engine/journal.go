package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// settingCheckpoint holds the journal sequence up to which every model's newest snapshot
// includes every event; recovery replays only after it.
const settingCheckpoint = "checkpoint"

// committer is the single writer of the journal. Requests queue on a channel; the
// committer takes as many as are waiting (up to Options.MaxBatch), writes them in one
// durable commit, applies the events to the models in sequence order, and only then
// answers. One fsync thus acknowledges many events (group commit).
type committer struct {
	e       *Engine
	reqs    chan *request
	done    chan struct{} // closed when run has returned
	running atomic.Bool
	nextSeq uint64 // next event sequence number; committer goroutine only (and Open)
	// replayed: Open rebuilt models from the journal; run stores them first.
	replayed bool
	// rollups caches each experiment's stored daily rollups (committer goroutine only).
	rollups map[rollKey]*Rollup
	loaded  map[ExperimentID]bool
}

type request struct {
	decision *Decision    // logged without waiting
	feedback *feedbackReq // waits for the commit
	snapshot string       // reason: snapshot every changed model
	rollback *rollbackReq
	schema   *schemaReq        // a schema change (catalog.go)
	outcomes []CustomerOutcome // waits for the commit
	enroll   *Enrollment       // a customer assigned but not contacted; no wait
	flush    bool              // nothing: answered once everything queued before it is committed
	label    *LabelKey         // resolve a due label (labels.go); waits for the commit
	stream   uint64            // the replicated log's sequence of the command (replicate.go); 0 if local
	at       time.Time         // a replicated command's time (its origin's clock); zero: the clock
	reply    chan result
}

type feedbackReq struct {
	d        *Decision
	action   ActionID
	outcome  Outcome
	reward   *float64
	time     time.Time
	implicit bool
}

type rollbackReq struct {
	action  ActionID
	version uint64
	snap    *Snapshot // the version to make live, as another replica stored it; nil: read it here
}

type result struct {
	seq       uint64
	version   uint64
	duplicate bool
	learned   bool
	outcomes  OutcomesResult
	err       error
	// set by event(): what the committed event means for experiments and contact policy
	responded bool // the offer's decision got its first positive response
	negative  bool // an explicit negative response
}

func newCommitter(e *Engine) *committer {
	return &committer{e: e, reqs: make(chan *request, 8192), done: make(chan struct{}), rollups: map[rollKey]*Rollup{}, loaded: map[ExperimentID]bool{}}
}

// enqueueDecision queues a decision for the log without waiting for the commit.
func (c *committer) enqueueDecision(d *Decision) error {
	return c.enqueue(&request{decision: d})
}

// enqueue queues a request that nobody waits for.
func (c *committer) enqueue(r *request) error {
	select {
	case c.reqs <- r:
		return nil
	case <-c.done:
		return errStopped
	}
}

// submit queues a request and waits for its result.
func (c *committer) submit(ctx context.Context, r *request) result {
	if err := c.send(ctx, r); err != nil {
		return result{err: err}
	}
	return c.wait(r)
}

// send queues a request whose result wait returns; requests are committed in the order
// they are sent, so a caller may send many and then wait for each.
func (c *committer) send(ctx context.Context, r *request) error {
	r.reply = make(chan result, 1)
	select {
	case c.reqs <- r:
		return nil
	case <-c.done:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait returns the result of a request queued with send.
func (c *committer) wait(r *request) result {
	select {
	case res := <-r.reply:
		return res
	case <-c.done:
		// The committer answers every request it takes before it closes done.
		select {
		case res := <-r.reply:
			return res
		default:
			return result{err: errStopped}
		}
	}
}

func (c *committer) run(ctx context.Context) error {
	c.running.Store(true)
	defer close(c.done)
	defer c.running.Store(false)
	batch := make([]*request, 0, c.e.opts.MaxBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	// Models that Open rebuilt from the journal are stored at once, before the journal
	// entries they came from can expire: entries written by earlier versions carry a
	// Badger TTL. A failure is retried by the next snapshot.
	if c.replayed {
		if _, err := c.snapshot(ctx, "recovery"); err != nil {
			c.e.log.Error("snapshot of the models rebuilt from the journal", "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			// Drain what is queued, then snapshot every changed model.
			for {
				batch = c.take(batch[:0])
				if len(batch) == 0 {
					break
				}
				c.process(context.WithoutCancel(ctx), batch)
			}
			if _, err := c.snapshot(context.WithoutCancel(ctx), "shutdown"); err != nil {
				if errors.Is(err, ErrInsufficientStorage) {
					// Nothing acknowledged is lost: the journal holds every event, and the
					// next start replays what no snapshot covers.
					c.e.log.Warn("final snapshot not stored: the disk is full; the next start rebuilds the models from the journal", "err", err)
					return nil
				}
				return fmt.Errorf("final snapshot: %w", err)
			}
			return nil
		case r := <-c.reqs:
			batch = append(batch[:0], r)
			batch = c.take(batch)
			batch = c.linger(ctx, batch, linger)
			// A batch taken from the queue is committed even when shutdown begins
			// meanwhile: decisions in it have no one waiting who would learn of a loss.
			c.process(context.WithoutCancel(ctx), batch)
		}
	}
}

// maxBatchBytes bounds one group commit, so that the store can write it in a single
// transaction (Badger refuses transactions over 15% of its memtable; see store.Options):
// a batch is then atomic as a whole, bookkeeping included.
const maxBatchBytes = 512 << 10 // half of the store's budget at its default 8 MB memtable

// take appends queued requests to batch without blocking, up to MaxBatch requests and
// about maxBatchBytes.
func (c *committer) take(batch []*request) []*request {
	size := 0
	for _, r := range batch {
		size += r.size()
	}
	for len(batch) < c.e.opts.MaxBatch && size < maxBatchBytes {
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
			size += r.size()
		default:
			return batch
		}
	}
	return batch
}

// linger waits up to Options.CommitLinger for more requests while batch holds only
// requests nobody waits for (decisions), so that their fsync is shared. A request someone
// waits for, a full batch, or shutdown ends the wait. timer is stopped on return.
func (c *committer) linger(ctx context.Context, batch []*request, timer *time.Timer) []*request {
	d := c.e.opts.CommitLinger
	if d <= 0 || !unwaited(batch) {
		return batch
	}
	size := 0
	for _, r := range batch {
		size += r.size()
	}
	timer.Reset(d)
	defer timer.Stop() // since Go 1.23 a stopped timer's channel holds no stale value
	for len(batch) < c.e.opts.MaxBatch && size < maxBatchBytes {
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
			size += r.size()
			if r.reply != nil {
				return c.take(batch)
			}
		case <-timer.C:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// unwaited reports whether nobody waits for any request of batch.
func unwaited(batch []*request) bool {
	for _, r := range batch {
		if r.reply != nil {
			return false
		}
	}
	return true
}

// size estimates what a request adds to a commit, in bytes.
func (r *request) size() int {
	switch {
	case r.decision != nil:
		return len(r.decision.Encoded) + 256
	case r.feedback != nil:
		return 512 + 12*len(r.feedback.d.Features.Index)
	case r.outcomes != nil:
		return 256 * len(r.outcomes)
	}
	return 256
}

type pendingReply struct {
	r   *request
	res result
	ev  *Event
}

// process commits one batch: decisions and feedback first, in one group commit, then any
// snapshot or rollback requests, each in its own commit after the events are applied.
func (c *committer) process(ctx context.Context, batch []*request) {
	start := time.Now()
	e := c.e
	var b Batch
	local := map[OutcomeKey]OutcomeState{}
	replies := make([]pendingReply, 0, len(batch))
	var later []*request
	seq := c.nextSeq
	tr := c.newTracker(ctx)
	lb := c.newLabelBatch()
	var exps []Experiment
	seenIDs := map[string]bool{}
	var stream uint64 // the last replicated command in the batch
	for _, r := range batch {
		stream = max(stream, r.stream)
		switch {
		case r.decision != nil:
			d := r.decision
			b.Decisions = append(b.Decisions, d)
			tr.decision(d)
			lb.openFor(d, &b)
			if len(d.Chosen) > 0 {
				b.Contacts = append(b.Contacts, ContactEvent{Customer: d.CustomerID, Time: d.Time, Channel: d.Channel})
			}
		case r.feedback != nil:
			ew, res := c.event(ctx, r.feedback, local, seq)
			if ew != nil {
				b.Events = append(b.Events, *ew)
				seq++
				if res.responded {
					tr.response(r.feedback.d, r.feedback.action, ew.Event.Time)
				}
				if res.negative {
					b.Contacts = append(b.Contacts, ContactEvent{Customer: r.feedback.d.CustomerID, Time: ew.Event.Time, Negative: true})
				}
			}
			replies = append(replies, pendingReply{r: r, res: res, ev: evOf(ew)})
		case r.enroll != nil:
			tr.enrollOnly(r.enroll)
		case r.outcomes != nil:
			if exps == nil {
				exps = e.Experiments()
			}
			var res result
			for i := range r.outcomes {
				o := r.outcomes[i]
				if o.ID != "" {
					dup := seenIDs[o.ID]
					if !dup {
						var err error
						if dup, err = e.store.OutcomeSeen(ctx, o.ID); err != nil {
							res.err = fmt.Errorf("read outcome %q: %w", o.ID, err)
							break
						}
					}
					if dup {
						res.outcomes.Duplicates++
						continue
					}
					seenIDs[o.ID] = true
				}
				res.outcomes.Accepted++
				if tr.outcome(&o, exps) {
					res.outcomes.Attributed++
				}
				n, err := c.hit(ctx, lb, &o, &b, r.at)
				switch {
				case errors.Is(err, errLate):
					res.outcomes.Late++
				case err != nil:
					res.err = err
				}
				if res.err != nil {
					break
				}
				res.outcomes.Labelled += n
				b.Outcomes = append(b.Outcomes, o)
			}
			replies = append(replies, pendingReply{r: r, res: res})
		case r.label != nil:
			var res result
			ew, err := c.resolve(ctx, lb, *r.label, seq, &b)
			switch {
			case err != nil:
				res.err = err
			case ew != nil:
				b.Events = append(b.Events, *ew)
				res.seq, res.learned = seq, ew.Event.Learned
				seq++
			}
			replies = append(replies, pendingReply{r: r, res: res})
		default:
			later = append(later, r)
		}
	}
	if err := tr.flush(&b); err != nil {
		c.fail(&b, replies, fmt.Errorf("experiment bookkeeping: %w", err))
		replies = nil
	} else if len(b.Decisions) > 0 || len(b.Events) > 0 || len(b.Outcomes) > 0 || len(b.Enrollments) > 0 || len(b.DropLabels) > 0 || stream > 0 {
		b.Lazy = len(replies) == 0 && len(b.Events) == 0
		if len(b.Events) > 0 || stream > 0 {
			b.Settings = map[string][]byte{}
		}
		if len(b.Events) > 0 {
			b.Settings[settingHead] = strconv.AppendUint(nil, seq-1, 10)
		}
		if stream > 0 {
			// The replicated log's position, in the same commit as its effects.
			b.Settings[settingApplied] = strconv.AppendUint(nil, stream, 10)
		}
		if err := e.store.Commit(ctx, &b); err != nil {
			c.nextSeq = c.resume(ctx, seq)
			c.fail(&b, replies, err)
			replies = nil
			if stream > 0 && e.repl != nil {
				e.repl.fail(fmt.Errorf("%w: %w", ErrReplicaFailed, err))
			}
		} else {
			c.nextSeq = seq
			if stream > 0 && e.repl != nil {
				e.repl.durable.Store(stream)
			}
			for _, d := range b.Decisions {
				e.recent.slim(d) // the store has the record now; keep what feedback needs
			}
			e.mu.RLock()
			for _, ew := range b.Events {
				if ew.Event.Objective != "" {
					e.applyLabel(ew.Event, nil)
					continue
				}
				if st := e.actions[ew.Event.ActionID]; st != nil {
					e.apply(st, ew.Event)
					st.dirty.Store(true)
				}
			}
			e.mu.RUnlock()
			for i := range b.Rollups {
				r := b.Rollups[i]
				c.rollups[rollKey{r.Experiment, r.Day, r.Arm}] = &r
			}
			for _, ce := range b.Contacts {
				if ce.Negative {
					e.noteNegative(ce.Customer, ce.Time)
				}
			}
			if e.obs != nil {
				e.obs.Committed(len(b.Events), len(b.Decisions), time.Since(start))
			}
		}
	}
	for _, p := range replies {
		if e.obs != nil && p.res.err == nil && p.r.feedback != nil {
			if p.ev != nil {
				e.obs.Responded(p.ev, false)
			} else {
				e.obs.Responded(&Event{Outcome: p.r.feedback.outcome, ActionID: p.r.feedback.action}, true)
			}
		}
		p.r.reply <- p.res
	}
	for _, r := range later {
		var res result
		switch {
		case r.flush:
		case r.rollback != nil:
			res.version, res.err = c.rollback(ctx, r.rollback)
		case r.schema != nil:
			res.err = c.changeSchema(ctx, r.schema)
		default:
			res.version, res.err = c.snapshot(ctx, r.snapshot)
		}
		r.reply <- res
	}
}

// resume returns the sequence to continue with after a failed commit that took the
// numbers up to end (excluded). The store may have written part of the batch (whole
// groups, in order) before failing: the journal continues right after what it holds, so
// that it has no gap, which start-up reads as damage (verifyJournal), and no number is
// reused, which would overwrite an event. If the store cannot say what it holds, the
// numbers are skipped.
func (c *committer) resume(ctx context.Context, end uint64) uint64 {
	last, err := c.e.store.LastSeq(ctx)
	if err != nil {
		c.e.log.Error("after a failed commit, the journal's last event cannot be read; its sequence numbers are skipped, and the next start will report the gap", "from", c.nextSeq, "to", end-1, "err", err)
		return end
	}
	return max(last+1, c.nextSeq)
}

// fail answers every waiting request of a batch that could not be committed: nothing in
// it was acknowledged.
func (c *committer) fail(b *Batch, replies []pendingReply, err error) {
	// A full disk refuses every commit until space is freed; the store logs when that
	// starts and ends, and counts what it refused.
	if !errors.Is(err, ErrInsufficientStorage) {
		c.e.log.Error("group commit failed; nothing in it was acknowledged", "decisions", len(b.Decisions), "events", len(b.Events), "outcomes", len(b.Outcomes), "err", err)
	}
	for _, d := range b.Decisions {
		c.e.recent.forget(d.ID)
	}
	for _, p := range replies {
		if p.res.err == nil {
			p.res = result{err: fmt.Errorf("commit: %w", err)}
		}
		p.r.reply <- p.res
	}
}

// rollup returns the stored rollup for k (zero if none), loading the experiment's
// rollups on first use.
func (c *committer) rollup(ctx context.Context, k rollKey) (*Rollup, error) {
	if !c.loaded[k.exp] {
		rs, err := c.e.store.Rollups(ctx, k.exp)
		if err != nil {
			return nil, fmt.Errorf("load rollups of %q: %w", k.exp, err)
		}
		for i := range rs {
			r := rs[i]
			c.rollups[rollKey{r.Experiment, r.Day, r.Arm}] = &r
		}
		c.loaded[k.exp] = true
	}
	if r := c.rollups[k]; r != nil {
		return r, nil
	}
	return &Rollup{Experiment: k.exp, Day: k.day, Arm: k.arm}, nil
}

func evOf(ew *EventWrite) *Event {
	if ew == nil {
		return nil
	}
	return ew.Event
}

// event turns one feedback request into a journal write, or reports a duplicate. The rules
// (documented in the README under "Feedback semantics"):
//   - the first response to an offered action is learned;
//   - a response already logged for the pair (the learned one or a later one) is a
//     duplicate: nothing is written, and it counts once;
//   - a different explicit response later (clicked, then converted) is logged, not learned;
//   - a positive response after an implicit timeout negative is learned (late feedback is
//     honoured), and the pair's state becomes explicit;
//   - a reward is learned once per pair, by the first feedback that carries one.
func (c *committer) event(ctx context.Context, f *feedbackReq, local map[OutcomeKey]OutcomeState, seq uint64) (*EventWrite, result) {
	e := c.e
	key := OutcomeKey{Decision: f.d.ID, Action: f.action}
	prev, seen := local[key]
	if !seen {
		var err error
		prev, err = e.store.Outcome(ctx, key)
		switch {
		case err == nil:
			seen = true
		case errors.Is(err, ErrNotFound):
		default:
			return nil, result{err: fmt.Errorf("read outcome state: %w", err)}
		}
	}
	positive, _ := f.outcome.Positive()
	ev := &Event{
		Seq:        seq,
		Time:       f.time,
		DecisionID: f.d.ID,
		ActionID:   f.action,
		CustomerID: f.d.CustomerID,
		Outcome:    f.outcome,
		Reward:     f.reward,
		Features:   f.d.Features,
	}
	state := OutcomeState{Seq: seq, Outcome: f.outcome, Implicit: f.implicit, Also: prev.Also}
	e.mu.RLock()
	schemaOK := f.d.Schema == e.enc.SchemaHash()
	e.mu.RUnlock()
	loggedSeq, logged := outcomeLogged(prev, f.outcome) // only meaningful when seen
	switch {
	case !seen:
		ev.Learned = schemaOK
	case f.implicit:
		return nil, result{duplicate: true, seq: prev.Seq} // answered before the timeout ran
	case logged && (f.reward == nil || prev.Rewarded):
		return nil, result{duplicate: true, seq: loggedSeq}
	case prev.Implicit && positive:
		ev.Learned = schemaOK // late positive after the timeout negative
	default:
		// Keep the learned label; remember that this outcome is logged too.
		state.Seq, state.Outcome, state.Implicit = prev.Seq, prev.Outcome, prev.Implicit
		if !logged {
			state.Also = append(slices.Clip(prev.Also), LoggedOutcome{Outcome: f.outcome, Seq: seq})
		}
	}
	state.Rewarded = prev.Rewarded
	if f.reward != nil && !prev.Rewarded && schemaOK {
		ev.RewardLearned = true
		state.Rewarded = true
	}
	if seen && !ev.Learned && !ev.RewardLearned && logged {
		return nil, result{duplicate: true, seq: loggedSeq}
	}
	// For experiments and the contact policy: did the pair just become positive (first
	// explicit positive, or a late positive after a timeout), and was the decision not
	// already responded to through another of its offers?
	responded := false
	if positive && (!seen || prev.Implicit) {
		responded = true
		for _, other := range f.d.Chosen {
			if other == f.action {
				continue
			}
			ok := OutcomeKey{Decision: f.d.ID, Action: other}
			st, had := local[ok]
			if !had {
				var err error
				if st, err = e.store.Outcome(ctx, ok); err != nil && !errors.Is(err, ErrNotFound) {
					return nil, result{err: fmt.Errorf("read outcome state: %w", err)}
				}
			}
			if p, _ := st.Outcome.Positive(); p && !st.Implicit {
				responded = false
			}
		}
	}
	negative := !seen && !positive && !f.implicit
	local[key] = state
	ew := &EventWrite{Event: ev, Outcome: state}
	if !f.d.Deadline.IsZero() {
		ew.Resolve = &PendingKey{Deadline: f.d.Deadline, Decision: f.d.ID, Action: f.action}
	}
	return ew, result{seq: seq, learned: ev.Learned || ev.RewardLearned, responded: responded, negative: negative}
}

// snapshot stores a new version of every model changed since its last snapshot, and the
// checkpoint up to which all models are covered.
func (c *committer) snapshot(ctx context.Context, reason string) (uint64, error) {
	e := c.e
	last := c.nextSeq - 1
	now := e.clock.Now().UTC()
	var b Batch
	type bump struct {
		ms      *modelState
		version uint64
	}
	var bumps []bump
	var encodeErr error
	e.mu.RLock()
	hash := e.enc.SchemaHash()
	e.eachModel(func(ms *modelState, st *actionState) {
		if !ms.dirty.Load() || encodeErr != nil {
			return
		}
		m := ms.model.Load()
		raw, err := m.MarshalBinary()
		if err != nil {
			encodeErr = fmt.Errorf("encode model %q: %w", ms.key, err)
			return
		}
		h := m.Health()
		v := ms.version.Load() + 1
		sn := Snapshot{Action: ms.key, Version: v, Seq: last, ModelSeq: ms.seq.Load(), Time: now, Responses: h.Responses, Positives: h.Positives, Reason: reason, Schema: hash, Model: raw,
			AUC: finitePtr(h.AUC), LogLoss: finitePtr(h.LogLoss)}
		if ms == &st.modelState {
			sn.Chosen, sn.Explored = st.chosen.Load(), st.explored.Load()
		}
		b.Snapshots = append(b.Snapshots, sn)
		if keep := uint64(e.opts.KeepVersions); v > keep {
			b.Prune = append(b.Prune, VersionKey{Action: ms.key, Version: v - keep})
		}
		bumps = append(bumps, bump{ms, v})
	})
	if encodeErr != nil {
		e.mu.RUnlock()
		return 0, encodeErr
	}
	var encState, versions []byte
	if len(bumps) > 0 {
		var err error
		if encState, err = e.enc.MarshalBinary(); err != nil {
			e.mu.RUnlock()
			return 0, fmt.Errorf("encode feature encoder state: %w", err)
		}
		if versions, err = e.modelVersions(b.Snapshots); err != nil {
			e.mu.RUnlock()
			return 0, fmt.Errorf("encode model versions: %w", err)
		}
	}
	e.mu.RUnlock()
	if len(bumps) == 0 {
		return 0, nil
	}
	// Settings are written after the snapshots, so a checkpoint never claims more than
	// what is stored.
	b.Settings = map[string][]byte{settingCheckpoint: []byte(strconv.FormatUint(last, 10)), settingEncoder: encState, settingModels: versions}
	if err := e.store.Commit(ctx, &b); err != nil {
		return 0, fmt.Errorf("store model snapshots: %w", err)
	}
	var newest uint64
	for _, bu := range bumps {
		bu.ms.version.Store(bu.version)
		bu.ms.snapSeq = last
		bu.ms.dirty.Store(false)
		newest = max(newest, bu.version)
	}
	e.log.Debug("models snapshotted", "reason", reason, "models", len(bumps), "seq", last)
	return newest, nil
}

// rollback makes a stored version the live model again, stored as a new version. It is
// all or nothing: the version is checked and stored first, and the live model swapped
// only once the store has it. It holds e.mu throughout, so that a concurrent PUT of the
// action cannot copy the model being replaced.
func (c *committer) rollback(ctx context.Context, r *rollbackReq) (uint64, error) {
	e := c.e
	var sn Snapshot
	var err error
	if r.snap != nil {
		sn = *r.snap
	} else {
		sn, err = e.store.Snapshot(ctx, VersionKey{Action: r.action, Version: r.version})
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return 0, errorf(ErrNotFound, "unknown_version", "model %q has no version %d", r.action, r.version)
		}
		return 0, err
	}
	m, err := decodeModel(sn.Model)
	if err != nil {
		return 0, fmt.Errorf("decode model %q version %d: %w", r.action, r.version, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.actions[r.action]
	if st == nil {
		return 0, errorf(ErrNotFound, "unknown_action", "no action %q", r.action)
	}
	if hash := e.enc.SchemaHash(); sn.Schema != hash {
		return 0, errorf(ErrUnprocessable, "schema_mismatch", "version %d of %q was trained on another feature schema (%s); the current one is %s", r.version, r.action, sn.Schema, hash)
	}
	if !sameModelConfig(m.Config(), st.model.Load().Config()) {
		return 0, errorf(ErrUnprocessable, "model_mismatch", "version %d of %q has another model spec than the action's (form, prior, half-life or value model); PUT the action with that spec first", r.version, r.action)
	}
	raw, err := m.MarshalBinary()
	if err != nil {
		return 0, fmt.Errorf("encode model %q: %w", r.action, err)
	}
	last := c.nextSeq - 1
	v := st.version.Load() + 1
	h := m.Health()
	b := Batch{Snapshots: []Snapshot{{Action: r.action, Version: v, Seq: last, ModelSeq: st.seq.Load(), Time: e.clock.Now().UTC(),
		Responses: h.Responses, Positives: h.Positives, Reason: "rollback to version " + strconv.FormatUint(r.version, 10), Schema: sn.Schema, Model: raw,
		AUC: finitePtr(h.AUC), LogLoss: finitePtr(h.LogLoss), Chosen: st.chosen.Load(), Explored: st.explored.Load()}}}
	if keep := uint64(e.opts.KeepVersions); v > keep {
		b.Prune = append(b.Prune, VersionKey{Action: r.action, Version: v - keep})
	}
	if err := e.store.Commit(ctx, &b); err != nil {
		return 0, fmt.Errorf("store rollback of %q: %w", r.action, err)
	}
	st.model.Store(m)
	st.version.Store(v)
	st.snapSeq = last
	st.dirty.Store(false)
	return v, nil
}
