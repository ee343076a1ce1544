package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// FeedbackRequest reports a customer's response to an offered action.
type FeedbackRequest struct {
	DecisionID DecisionID
	ActionID   ActionID
	Outcome    Outcome
	Reward     *float64  // optional continuous reward, e.g. revenue
	Time       time.Time // event time; zero means the engine's clock
}

// FeedbackResult says what became of a feedback event.
type FeedbackResult struct {
	Seq       uint64 `json:"seq"`       // journal sequence of the event (of the original, for a duplicate)
	Duplicate bool   `json:"duplicate"` // the same feedback was already recorded; it counts once
	Learned   bool   `json:"learned"`   // the event updated the model
}

// Feedback records a response durably and learns from it; it returns once the event is in
// the journal (fsync'd) and applied to the model, so the next Decide sees it.
func (e *Engine) Feedback(ctx context.Context, req FeedbackRequest) (FeedbackResult, error) {
	if !ValidID(string(req.DecisionID)) {
		return FeedbackResult{}, Invalid("invalid_field", "decision_id: missing or malformed")
	}
	if !ValidID(string(req.ActionID)) {
		return FeedbackResult{}, Invalid("invalid_field", "action_id: missing or malformed")
	}
	if _, ok := req.Outcome.Positive(); !ok || req.Outcome == Timeout {
		return FeedbackResult{}, Invalid("invalid_field", "outcome: %q is not one of accepted, rejected, clicked, ignored, converted", truncate(string(req.Outcome), 32))
	}
	if err := checkTime("time", req.Time); err != nil {
		return FeedbackResult{}, err
	}
	if req.Reward != nil && (!finite(*req.Reward) || *req.Reward > maxActionValue || *req.Reward < -maxActionValue) {
		return FeedbackResult{}, Invalid("invalid_number", "reward: must be a finite number with magnitude at most %g", maxActionValue)
	}
	d, err := e.decision(ctx, req.DecisionID)
	if errors.Is(err, ErrNotFound) && e.proposing(ctx) {
		// A decision served here a moment ago: its record goes into the log before the
		// feedback does (one connection, in order), and every replica, this one too,
		// applies the feedback against the record as the log holds it.
		if sd := e.repl.served.get(req.DecisionID); sd != nil {
			d, err = sd, nil
		} else {
			d, err = e.awaitDecision(ctx, req.DecisionID)
		}
	}
	if err != nil {
		return FeedbackResult{}, err
	}
	if !slices.Contains(d.Chosen, req.ActionID) {
		return FeedbackResult{}, errorf(ErrUnprocessable, "action_not_offered", "action %q was not offered in decision %q (offered: %v)", truncate(string(req.ActionID), 64), d.ID, d.Chosen)
	}
	t := req.Time
	if t.IsZero() {
		t = e.clock.Now()
	}
	if e.proposing(ctx) {
		raw, err := json.Marshal(feedbackCmd{Decision: d.ID, Action: req.ActionID, Outcome: req.Outcome, Reward: req.Reward, Time: t.UTC()})
		if err != nil {
			return FeedbackResult{}, fmt.Errorf("encode feedback: %w", err)
		}
		a, err := e.propose(ctx, cmdFeedback, "", raw)
		if err == nil {
			err = a.err
		}
		if err != nil {
			return FeedbackResult{}, err
		}
		return FeedbackResult{Seq: a.res.seq, Duplicate: a.res.duplicate, Learned: a.res.learned}, nil
	}
	res := e.journal.submit(ctx, &request{feedback: &feedbackReq{d: d, action: req.ActionID, outcome: req.Outcome, reward: req.Reward, time: t.UTC()}})
	if res.err != nil {
		return FeedbackResult{}, res.err
	}
	return FeedbackResult{Seq: res.seq, Duplicate: res.duplicate, Learned: res.learned}, nil
}

// decision finds a decision, without its outcomes, in the recent cache or the log.
func (e *Engine) decision(ctx context.Context, id DecisionID) (*Decision, error) {
	if d := e.recent.get(id); d != nil {
		return d, nil
	}
	d, err := e.store.DecisionRecord(ctx, id) // feedback does not read the outcomes
	if errors.Is(err, ErrNotFound) {
		return nil, errorf(ErrNotFound, "unknown_decision", "no decision %q (unknown, or older than the log's retention)", truncate(string(id), 64))
	}
	if err != nil {
		return nil, fmt.Errorf("load decision: %w", err)
	}
	return d, nil
}

// Decision returns one logged decision with its outcomes.
func (e *Engine) Decision(ctx context.Context, id DecisionID) (*Decision, error) {
	d, err := e.store.Decision(ctx, id)
	if errors.Is(err, ErrNotFound) {
		if r := e.recent.get(id); r != nil {
			if r.Encoded != nil {
				return r, nil // logged, not yet committed
			}
			// Committed since the read above: the cache keeps only a slim copy.
			if d, err = e.store.Decision(ctx, id); !errors.Is(err, ErrNotFound) {
				return d, err
			}
		}
		return nil, errorf(ErrNotFound, "unknown_decision", "no decision %q", truncate(string(id), 64))
	}
	return d, err
}

// Decisions streams the decision log from since on, oldest first, with every decision
// answered before the call: those still waiting for their group commit are committed
// first, so that an export or a stream taken right after a decide holds it (before Run
// has started, as for an evaluation of a stopped store, and once it has returned, nothing
// waits: the log is read as it is).
func (e *Engine) Decisions(ctx context.Context, since time.Time, fn func(*Decision) error) error {
	if !e.journal.running.Load() {
		return e.store.Decisions(ctx, since, fn)
	}
	if err := e.Flush(ctx); err != nil && !errors.Is(err, errStopped) {
		return fmt.Errorf("decisions: %w", err)
	}
	return e.store.Decisions(ctx, since, fn)
}

// ExpireResponses turns offers whose response timeout has passed into implicit negatives
// (outcome "timeout"), through the journal like any other feedback. It returns how many
// it recorded. Run it from a scheduler; the engine's clock says what "now" is.
func (e *Engine) ExpireResponses(ctx context.Context) (int, error) {
	now := e.clock.Now()
	if e.proposing(ctx) {
		// Every replica runs the job at the same point of the log, on the same state, so
		// each records the same implicit negatives: once each.
		return proposeCall[int](ctx, e, callExpire, jobArgs{Now: now.UTC()})
	}
	return e.expireResponses(ctx, now)
}

func (e *Engine) expireResponses(ctx context.Context, now time.Time) (int, error) {
	if err := e.Flush(ctx); err != nil { // offers logged but not yet committed are pending too
		return 0, fmt.Errorf("expire responses: %w", err)
	}
	var keys []PendingKey
	if err := e.store.Expired(ctx, now, 10000, func(p PendingKey) error {
		keys = append(keys, p)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("expire responses: %w", err)
	}
	// Queue them all, then wait: the committer writes them in order, in a few group
	// commits rather than one each.
	sent := make([]*request, 0, len(keys))
	var sendErr error
	for _, p := range keys {
		d, err := e.decision(ctx, p.Decision)
		if errors.Is(err, ErrNotFound) {
			continue // the decision expired from the log; its pending key will expire too
		}
		if err != nil {
			sendErr = err
			break
		}
		r := &request{feedback: &feedbackReq{d: d, action: p.Action, outcome: Timeout, time: p.Deadline, implicit: true}}
		if sendErr = e.journal.send(ctx, r); sendErr != nil {
			break
		}
		sent = append(sent, r)
	}
	n := 0
	for _, r := range sent {
		res := e.journal.wait(r)
		if res.err != nil && sendErr == nil {
			sendErr = res.err
		}
		if res.err == nil && !res.duplicate {
			n++
		}
	}
	return n, sendErr
}

// Recent returns up to n logged decisions, newest first.
func (e *Engine) Recent(ctx context.Context, n int) ([]*Decision, error) {
	if n < 1 || n > 10000 {
		return nil, Invalid("invalid_query", "limit: must be in [1, 10000]")
	}
	return e.store.Recent(ctx, n)
}
