package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nextbest/nextbest/bandit"
)

// Delayed labels: how decisions learn from the business outcomes that follow them.
//
// While some action aims at an objective (churn), every logged decision that offered such
// an action (treated) or offered nothing (untreated) opens a label: "did the customer
// churn within the objective's horizon after this decision?". A churn outcome marks the
// open labels of the customer's decisions of the horizon before it; when a label's horizon
// has passed, a scheduled job (ResolveLabels, on the engine's clock) resolves it: a journal
// event, written in the same transaction that deletes the open label, so each label is
// learnt exactly once and survives a crash like feedback. The event updates the uplift
// model of the treated action, or, untreated, the uplift models of every action aiming at
// the objective, as their baseline.
//
// A label is learnt only at its horizon, with the outcome it then has: learning a churn at
// once and a stay only at the horizon would count, at any moment, the churns of recent
// decisions but not yet their stays, and overstate the churn rate, most of all early on
// (the bias of delayed conversions: Chapelle, "Modeling delayed feedback in display
// advertising", KDD 2014; Vernade, Cappé & Perchet, "Stochastic bandit models for delayed
// conversions", UAI 2017, who count a conversion only within a window after the action
// and treat the action as settled once its window has passed). The horizon is the price:
// a shorter one learns sooner.
//
// A decision about a customer who had already left (a churn recorded before it) teaches
// nothing about churn: its label is dropped at its horizon.

// Labels stores the open labels and when customers left.
type Labels interface {
	// CustomerLabels returns the open labels of a customer's decisions, oldest first.
	CustomerLabels(ctx context.Context, c CustomerID) ([]Label, error)
	// DueLabels calls fn for up to limit open labels whose deadline is before t, in
	// deadline order.
	DueLabels(ctx context.Context, before time.Time, limit int, fn func(Label) error) error
	// Label returns an open label, ErrNotFound once it is resolved.
	Label(ctx context.Context, k LabelKey) (Label, error)
	// LeftAt returns the time of the customer's latest recorded churn, ErrNotFound if none.
	LeftAt(ctx context.Context, c CustomerID) (time.Time, error)
}

// errLate reports an outcome older than its objective's horizon (labels.go, hit).
var errLate = errors.New("outcome after its horizon")

// labelBatch is what the committer knows, for one batch, of the objectives in use and of
// the labels the batch opens or changes.
type labelBatch struct {
	horizons map[string]time.Duration // objectives some action aims at
	aims     map[ActionID]string      // action -> its objective
	schema   string
	open     map[CustomerID][]*Label // labels opened or changed in this batch
	resolved map[LabelKey]bool
}

// newLabelBatch reads the objectives in use; nil when no action aims at one.
func (c *committer) newLabelBatch() *labelBatch {
	e := c.e
	e.mu.RLock()
	defer e.mu.RUnlock()
	var lb *labelBatch
	for _, st := range e.sorted {
		o := e.objectives[st.action.Objective]
		if st.uplift == nil || o == nil {
			continue
		}
		if lb == nil {
			lb = &labelBatch{horizons: map[string]time.Duration{}, aims: map[ActionID]string{}, schema: e.enc.SchemaHash(),
				open: map[CustomerID][]*Label{}, resolved: map[LabelKey]bool{}}
		}
		lb.horizons[st.action.Objective] = time.Duration(o.obj.Horizon)
		lb.aims[st.action.ID] = st.action.Objective
	}
	return lb
}

// open opens the labels of a logged decision: for the objective of the action it offered
// first, or, when it offered nothing, for every objective in use.
func (lb *labelBatch) openFor(d *Decision, b *Batch) {
	if lb == nil {
		return
	}
	add := func(obj string, treated ActionID) {
		l := &Label{LabelKey: LabelKey{Deadline: d.Time.Add(lb.horizons[obj]), Decision: d.ID, Objective: obj},
			Customer: d.CustomerID, Time: d.Time, Treated: treated, Schema: d.Schema, Features: d.Features}
		lb.open[d.CustomerID] = append(lb.open[d.CustomerID], l)
		b.Labels = append(b.Labels, l)
	}
	if len(d.Chosen) > 0 {
		if obj, ok := lb.aims[d.Chosen[0]]; ok {
			add(obj, d.Chosen[0])
		}
		return
	}
	for obj := range lb.horizons {
		add(obj, "")
	}
}

// hit marks the open labels that an outcome falls within: those of the customer's
// decisions up to the outcome's time whose horizon it is within. It returns how many.
func (c *committer) hit(ctx context.Context, lb *labelBatch, o *CustomerOutcome, b *Batch, at time.Time) (int, error) {
	if lb == nil || o.Type != OutcomeChurn {
		return 0, nil
	}
	h, ok := lb.horizons[o.Type]
	if !ok {
		return 0, nil
	}
	if now := c.now(at); o.Time.Add(h).Before(now) {
		return 0, errLate // every label it could mark is due: resolved, or about to be
	}
	stored, err := c.e.store.CustomerLabels(ctx, o.Customer)
	if err != nil {
		return 0, fmt.Errorf("read the labels of customer %q: %w", o.Customer, err)
	}
	n := 0
	mark := func(l *Label) bool {
		if l.Objective != o.Type || l.Hit || o.Time.Before(l.Time) || !o.Time.Before(l.Deadline) || lb.resolved[l.LabelKey] {
			return false
		}
		l.Hit = true
		n++
		return true
	}
	local := lb.open[o.Customer]
	for i := range stored {
		l := &stored[i]
		if inBatch(local, l.LabelKey) {
			continue // the batch's own copy is newer
		}
		if mark(l) {
			lb.open[o.Customer] = append(lb.open[o.Customer], l)
			b.Labels = append(b.Labels, l)
		}
	}
	for _, l := range local {
		if mark(l) {
			b.Labels = append(b.Labels, l)
		}
	}
	if t, ok := b.Left[o.Customer]; !ok || o.Time.After(t) {
		if b.Left == nil {
			b.Left = map[CustomerID]time.Time{}
		}
		b.Left[o.Customer] = o.Time
	}
	return n, nil
}

func inBatch(ls []*Label, k LabelKey) bool {
	for _, l := range ls {
		if l.LabelKey == k {
			return true
		}
	}
	return false
}

// resolve turns a due label into its journal event (nil when the label is already
// resolved, or dropped because the customer had left before the decision).
func (c *committer) resolve(ctx context.Context, lb *labelBatch, k LabelKey, seq uint64, b *Batch) (*EventWrite, error) {
	if lb != nil && lb.resolved[k] {
		return nil, nil
	}
	l, err := c.e.store.Label(ctx, k)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read label: %w", err)
	}
	if lb != nil {
		for _, o := range lb.open[l.Customer] {
			if o.LabelKey == k {
				l = *o // marked in this batch
			}
		}
		lb.resolved[k] = true
	}
	left, err := c.e.store.LeftAt(ctx, l.Customer)
	switch {
	case err == nil && left.Before(l.Time):
		b.DropLabels = append(b.DropLabels, l)
		return nil, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("read when customer %q left: %w", l.Customer, err)
	}
	out := LabelMiss
	if l.Hit {
		out = LabelHit
	}
	schema := c.e.currentSchema()
	ev := &Event{Seq: seq, Time: l.Deadline, DecisionID: l.Decision, ActionID: l.Treated, CustomerID: l.Customer, Outcome: out,
		Objective: l.Objective, Learned: l.Schema == schema, Features: l.Features}
	return &EventWrite{Event: ev, ResolveLabel: &l}, nil
}

// currentSchema is the encoding's hash.
func (e *Engine) currentSchema() string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.enc.SchemaHash()
}

// applyLabel learns a resolved label: the treated action's uplift model learns it as
// treated; an untreated label is the baseline of every uplift model of its objective.
// skip reports models that already include the event (replay after a snapshot). Callers
// hold e.mu (read) or own the engine (Open).
func (e *Engine) applyLabel(ev *Event, skip func(*modelState) bool) {
	learn := func(st *actionState, treated bool) {
		ms := st.uplift
		if ms == nil || st.action.Objective != ev.Objective || skip != nil && skip(ms) {
			return
		}
		if ev.Learned {
			m := ms.model.Load()
			dim := m.Config().Dim / 2
			x := bandit.StackTreated(bandit.Vector(ev.Features), dim, treated, effectScale(st.action.Model), bandit.Vector{})
			if x.Validate(m.Config().Dim) == nil {
				m.Update(x, ev.Outcome == LabelHit, ev.Time)
			}
		}
		ms.seq.Store(ev.Seq)
		ms.dirty.Store(true)
	}
	if ev.ActionID != "" {
		if st := e.actions[ev.ActionID]; st != nil {
			learn(st, true)
		}
		return
	}
	for _, st := range e.sorted {
		learn(st, false)
	}
}

// ResolveLabels resolves every open label whose horizon has passed by the engine's clock
// (in a few group commits), and returns how many it resolved. Run it from a scheduler.
func (e *Engine) ResolveLabels(ctx context.Context) (int, error) {
	now := e.clock.Now()
	if e.proposing(ctx) {
		return proposeCall[int](ctx, e, callLabels, jobArgs{Now: now.UTC()})
	}
	return e.resolveLabels(ctx, now)
}

func (e *Engine) resolveLabels(ctx context.Context, now time.Time) (int, error) {
	if err := e.Flush(ctx); err != nil { // decisions logged a moment ago open labels too
		return 0, fmt.Errorf("resolve labels: %w", err)
	}
	total := 0
	for {
		var keys []LabelKey
		if err := e.store.DueLabels(ctx, now, 10000, func(l Label) error {
			keys = append(keys, l.LabelKey)
			return nil
		}); err != nil {
			return total, fmt.Errorf("resolve labels: %w", err)
		}
		if len(keys) == 0 {
			return total, nil
		}
		sent := make([]*request, 0, len(keys))
		var sendErr error
		for i := range keys {
			r := &request{label: &keys[i]}
			if sendErr = e.journal.send(ctx, r); sendErr != nil {
				break
			}
			sent = append(sent, r)
		}
		for _, r := range sent {
			if res := e.journal.wait(r); res.err != nil && sendErr == nil {
				sendErr = res.err
			}
		}
		if sendErr != nil {
			return total, fmt.Errorf("resolve labels: %w", sendErr)
		}
		total += len(keys)
		if len(keys) < 10000 {
			return total, nil
		}
	}
}
