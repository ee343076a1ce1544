package engine

import (
	"fmt"
	"math"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// amount is a compiled Money.
type amount struct {
	field string
	c     float64
	x     *Expression // nil for a constant
}

// compileMoney validates m (a finite constant of magnitude at most maxActionValue, not
// negative unless allowNegative; or an expression of the rule language that gives a
// number) and compiles it. field names it in errors.
func compileMoney(field string, m Money, allowNegative bool) (*amount, error) {
	if m.Expr == "" {
		if !finite(m.Const) || math.Abs(m.Const) > maxActionValue {
			return nil, Invalid("invalid_number", "%s: must be a finite number with magnitude at most %g", field, maxActionValue)
		}
		if m.Const < 0 && !allowNegative {
			return nil, Invalid("invalid_field", "%s: must not be negative", field)
		}
		return &amount{field: field, c: m.Const}, nil
	}
	x, err := compileRule(field, m.Expr, expr.AsFloat64())
	if err != nil {
		return nil, err
	}
	return &amount{field: field, x: x}, nil
}

// loadMoney is compileMoney for a stored amount: an expression an older version accepted
// and this one refuses makes every evaluation fail with the reason (as loadExpression),
// and the compile error is returned for the caller to log.
func loadMoney(field string, m Money, allowNegative bool) (*amount, error) {
	a, err := compileMoney(field, m, allowNegative)
	if err != nil {
		refused := fmt.Errorf("%s no longer accepted (stored by an older version; store it again, corrected): %s", field, firstLine(err))
		return &amount{field: field, x: &Expression{src: m.Expr, refused: refused}}, err
	}
	return a, nil
}

// constant reports whether the amount needs no evaluation, and its value.
func (a *amount) constant() (float64, bool) {
	if a == nil {
		return 0, true
	}
	return a.c, a.x == nil
}

// eval evaluates the amount for env. A run-time error (a missing attribute compared with a
// number, the budget exceeded), a result that is not finite (a division by zero) or out of
// range, or a negative result where none is allowed is an error naming the field.
func (a *amount) eval(machine *vm.VM, env *Env, allowNegative bool) (float64, error) {
	if c, ok := a.constant(); ok {
		return c, nil
	}
	if a.x.refused != nil {
		return 0, a.x.refused
	}
	for _, m := range env.amounts {
		if m.src == a.x.src { // the same expression for the same customer and context
			if m.err != nil {
				return 0, fmt.Errorf("%s: %w", a.field, m.err)
			}
			return a.check(m.v, allowNegative)
		}
	}
	machine.MemoryBudget = exprBudget
	env.spent = 0
	out, err := machine.Run(a.x.prog, env)
	if err != nil {
		err = fmt.Errorf("evaluate %q: %s", truncate(a.x.src, 60), firstLine(err))
		env.amounts = append(env.amounts, memoAmount{src: a.x.src, err: err})
		return 0, fmt.Errorf("%s: %w", a.field, err)
	}
	v, ok := out.(float64)
	if !ok {
		err := fmt.Errorf("%q gave %T, not a number", truncate(a.x.src, 60), out)
		env.amounts = append(env.amounts, memoAmount{src: a.x.src, err: err})
		return 0, fmt.Errorf("%s: %w", a.field, err)
	}
	env.amounts = append(env.amounts, memoAmount{src: a.x.src, v: v})
	return a.check(v, allowNegative)
}

// check refuses a result that is not finite, out of range, or negative where that is not
// allowed, naming the field.
func (a *amount) check(v float64, allowNegative bool) (float64, error) {
	switch {
	case !finite(v):
		return 0, fmt.Errorf("%s: %q gave %v (a division by zero?)", a.field, truncate(a.x.src, 60), v)
	case math.Abs(v) > maxActionValue:
		return 0, fmt.Errorf("%s: %q gave %g, beyond %g", a.field, truncate(a.x.src, 60), v, maxActionValue)
	case v < 0 && !allowNegative:
		return 0, fmt.Errorf("%s: %q gave %g, which must not be negative", a.field, truncate(a.x.src, 60), v)
	}
	return v, nil
}
