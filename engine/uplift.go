package engine

import (
	"fmt"
	"math"
	"strings"

	"github.com/nextbest/nextbest/bandit"
)

// An action with an objective has an uplift model beside its response model: a
// bandit.Model over the stacked design of bandit.StackTreated, which learns the
// probability of the objective's outcome (churn) within its horizon after a decision, with
// and without the action, from every logged decision that offered the action (treated)
// or offered nothing (untreated): see bandit/uplift.go for the maths and the reasons for
// this design, and docs/value.md for the whole flow.

// upliftSep separates an action id from its objective in an uplift model's key. Ids never
// contain it (ValidID), so the key is never an action's own.
const upliftSep = "~"

// upliftKey is the name an action's uplift model is stored under: "retention-20~churn".
func upliftKey(id ActionID, objective string) ActionID {
	return id + upliftSep + ActionID(objective)
}

// splitUpliftKey reports whether key names an uplift model, and its action and objective.
func splitUpliftKey(key ActionID) (ActionID, string, bool) {
	id, obj, ok := strings.Cut(string(key), upliftSep)
	return ActionID(id), obj, ok
}

// upliftPriorSD is the prior standard deviation of an uplift model's baseline weights: the
// weakly informative prior of Gelman, Jakulin, Pittau & Su ("A weakly informative default
// prior distribution for logistic and other regression models", Annals of Applied
// Statistics 2(4), 2008, Section 2: a scale of 2.5 for a coefficient), wide enough for a
// context that makes an outcome near certain (a customer calling to cancel) to be learnt
// from a few dozen labels. The effect weights have s times this (ModelSpec.EffectScale).
const upliftPriorSD = 2.5

// upliftConfig is the bandit configuration of an action's uplift model over an encoding
// of dim dimensions: twice the dimensions (the baseline and the effect), the prior of
// upliftPriorSD, the action's form (the diagonal form where the full one would be over
// maxFullDim), no forgetting and no value model.
func (e *Engine) upliftConfig(s ModelSpec, dim int) bandit.Config {
	cfg := e.modelConfig(ModelSpec{Form: s.Form, PriorPrecision: 1 / (upliftPriorSD * upliftPriorSD)}, 2*dim)
	if cfg.Form == bandit.Full && 2*dim > maxFullDim {
		cfg.Form = bandit.Diagonal
	}
	return cfg
}

// freshUplift returns a new uplift model state for action a at its prior.
func (e *Engine) freshUplift(a Action, dim int) (*modelState, error) {
	m, err := bandit.New(e.upliftConfig(a.Model, dim))
	if err != nil {
		return nil, errorf(ErrInvalid, "invalid_field", "model: %v", err)
	}
	rate := DefaultBaseRate
	if o := e.objectives[a.Objective]; o != nil {
		rate = o.obj.BaseRate
	}
	// The intercept (index 0, features' convention) starts at the base rate's logit.
	if err := m.CenterWeight(0, math.Log(rate/(1-rate))); err != nil {
		return nil, fmt.Errorf("uplift model of %q: %w", a.ID, err)
	}
	ms := &modelState{key: upliftKey(a.ID, a.Objective)}
	ms.model.Store(m)
	ms.dirty.Store(true)
	return ms, nil
}

// compileAmounts compiles an action's value, cost and contact cost into st. Each is a 422
// that names the field when it does not compile.
func compileAmounts(st *actionState) error {
	a := &st.action
	var err error
	if st.value, err = compileMoney("value", Money{Const: a.Value, Expr: a.ValueExpr}, false); err != nil {
		return err
	}
	if st.cost, err = compileMoney("cost", a.Cost, false); err != nil {
		return err
	}
	st.contact, err = compileMoney("contact_cost", a.ContactCost, false)
	return err
}

// loadAmounts is compileAmounts for a stored action: an amount that no longer compiles
// fails each evaluation with the reason (the action is then filtered), and the first
// error is returned for the caller to log.
func loadAmounts(st *actionState) error {
	a := &st.action
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	var err error
	if st.value, err = loadMoney("value", Money{Const: a.Value, Expr: a.ValueExpr}, false); err != nil {
		keep(err)
	}
	if st.cost, err = loadMoney("cost", a.Cost, false); err != nil {
		keep(err)
	}
	if st.contact, err = loadMoney("contact_cost", a.ContactCost, false); err != nil {
		keep(err)
	}
	return first
}

// priced reports whether the action is judged by its net value rather than by its
// response value alone: it has a cost, a contact cost or an objective.
func (st *actionState) priced() bool {
	return !st.action.Cost.IsZero() || !st.action.ContactCost.IsZero() || st.action.Objective != ""
}

// eachModel calls fn for every live model in key order of its action: each action's
// response model, then its uplift model if it has one. Callers hold e.mu.
func (e *Engine) eachModel(fn func(ms *modelState, st *actionState)) {
	for _, st := range e.sorted {
		fn(&st.modelState, st)
		if st.uplift != nil {
			fn(st.uplift, st)
		}
	}
}

// modelByKey returns the live model stored under key (an action id, or an uplift key)
// and its action, or nil. Callers hold e.mu.
func (e *Engine) modelByKey(key ActionID) (*modelState, *actionState) {
	if id, obj, ok := splitUpliftKey(key); ok {
		st := e.actions[id]
		if st == nil || st.uplift == nil || st.action.Objective != obj {
			return nil, nil
		}
		return st.uplift, st
	}
	st := e.actions[key]
	if st == nil {
		return nil, nil
	}
	return &st.modelState, st
}
