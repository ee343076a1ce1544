package engine

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/parser"
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
	spent    int            // budget units the current evaluation has spent (rulelang.go)
	// amounts remembers the amounts evaluated for this env (money.go): a catalog whose
	// actions share an expression (a contact cost by channel, an objective's value) has
	// it evaluated once per decision.
	amounts []memoAmount
}

// memoAmount is one evaluated amount expression and its result.
type memoAmount struct {
	src string
	v   float64
	err error
}

// Expression is a compiled boolean expression. Compile once, evaluate many times.
type Expression struct {
	src  string
	prog *vm.Program
	// refused is set on a stored expression that no longer compiles (loadExpression):
	// every evaluation returns it.
	refused error
}

// CompileExpression compiles a boolean expression over Env in the rule language
// (rulelang.go): expr-lang/expr restricted to an allow-list of names, operators and
// builtins, and metered so that each evaluation stays within exprBudget. The language has
// no access to the file system, the network, the clock or the process. An expression the
// language does not allow, or that does not compile, is an ErrUnprocessable error whose
// message gives the line and column.
func CompileExpression(field, src string) (*Expression, error) {
	return compileRule(field, src, expr.AsBool())
}

// compileRule compiles src in the rule language with the given result type.
func compileRule(field, src string, result expr.Option) (*Expression, error) {
	if src == "" {
		return nil, nil
	}
	if len(src) > maxExprLength {
		return nil, errorf(ErrTooLarge, "expression_too_long", "%s: longer than %d characters", field, maxExprLength)
	}
	// Check the parse tree before compiling: the compiler folds constants, and folding
	// a huge range would itself take long.
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, errorf(ErrUnprocessable, "invalid_expression", "%s: %v", field, err)
	}
	if msg := checkRule(src, &tree.Node); msg != "" {
		return nil, errorf(ErrUnprocessable, "invalid_expression", "%s: %s", field, msg)
	}
	prog, err := expr.Compile(src, exprOptions(result)...)
	if err != nil {
		return nil, errorf(ErrUnprocessable, "invalid_expression", "%s: %v", field, err)
	}
	return &Expression{src: src, prog: prog}, nil
}

// loadExpression compiles a stored expression. One that an older version accepted and
// this one refuses does not stop the engine from starting: it returns an expression that
// every evaluation refuses (so the action is never eligible, the segment or population
// never matches, each time with the reason), and the compile error for the caller to log.
func loadExpression(field, src string) (*Expression, error) {
	x, err := CompileExpression(field, src)
	if err != nil {
		return &Expression{src: src, refused: fmt.Errorf("%s no longer accepted (stored by an older version; store it again, corrected): %s", field, firstLine(err))}, err
	}
	return x, nil
}

// Eval evaluates the expression; a nil expression is true. A run-time error (for example
// comparing a missing attribute with a number, or going over the budget) is returned, and
// callers treat it as false.
func (x *Expression) Eval(machine *vm.VM, env *Env) (bool, error) {
	if x == nil {
		return true, nil
	}
	if x.refused != nil {
		return false, x.refused
	}
	machine.MemoryBudget = exprBudget
	env.spent = 0
	out, err := machine.Run(x.prog, env)
	if err != nil {
		return false, fmt.Errorf("evaluate %q: %s", truncate(x.src, 60), firstLine(err))
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

// firstLine is the first line of err's message, at most 300 bytes: expr's errors go on with
// the rule's source line, which the decision log need not hold for every decision.
func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return truncate(msg, 300)
}
