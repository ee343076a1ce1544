package engine

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Env is what an eligibility or segment expression sees: the customer's profile
// attributes, the request context, the channel and the customer id. For example:
//
//	profile.tenure_months >= 12 && context.intent == "cancel"
//	channel in ["web", "app"] && !profile.has_device_plan
type Env struct {
	Profile  map[string]any `expr:"profile"`
	Context  map[string]any `expr:"context"`
	Channel  string         `expr:"channel"`
	Customer string         `expr:"customer_id"`
}

// Expression is a compiled boolean expression. Compile once, evaluate many times.
type Expression struct {
	src  string
	prog *vm.Program
}

// CompileExpression compiles a boolean expression over Env with expr-lang/expr. The
// language has no access to the file system, the network or the process: only the
// fields of Env and expr's pure builtins. An invalid expression is an ErrUnprocessable
// error whose message gives the line and column.
func CompileExpression(field, src string) (*Expression, error) {
	if src == "" {
		return nil, nil
	}
	if len(src) > maxExprLength {
		return nil, errorf(ErrTooLarge, "expression_too_long", "%s: longer than %d characters", field, maxExprLength)
	}
	prog, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool(), expr.MaxNodes(2000))
	if err != nil {
		return nil, errorf(ErrUnprocessable, "invalid_expression", "%s: %v", field, err)
	}
	return &Expression{src: src, prog: prog}, nil
}

// Eval evaluates the expression; a nil expression is true. A run-time error (for example
// comparing a missing attribute with a number) is returned, and callers treat it as false.
func (x *Expression) Eval(machine *vm.VM, env *Env) (bool, error) {
	if x == nil {
		return true, nil
	}
	out, err := machine.Run(x.prog, env)
	if err != nil {
		return false, fmt.Errorf("evaluate %q: %w", truncate(x.src, 60), err)
	}
	b, _ := out.(bool)
	return b, nil
}

// String returns the expression's source.
func (x *Expression) String() string {
	if x == nil {
		return ""
	}
	return x.src
}
