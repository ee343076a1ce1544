package engine

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
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
	// Check the parse tree before compiling: the compiler folds constants, and folding
	// a huge range would itself take long.
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, errorf(ErrUnprocessable, "invalid_expression", "%s: %v", field, err)
	}
	var b bounded
	ast.Walk(&tree.Node, &b)
	if b.err != "" {
		return nil, errorf(ErrUnprocessable, "invalid_expression", "%s: %s", field, b.err)
	}
	prog, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool(), expr.MaxNodes(maxExprNodes), expr.DisableBuiltin("repeat"))
	if err != nil {
		return nil, errorf(ErrUnprocessable, "invalid_expression", "%s: %v", field, err)
	}
	return &Expression{src: src, prog: prog}, nil
}

// maxExprNodes bounds an expression's size.
const maxExprNodes = 2000

// bounded rejects what could make an evaluation run long: ranges (1..1000000000) and a
// predicate (all, any, filter, map, ...) inside another predicate. What remains costs at
// most the number of nodes times the longest input array, both bounded (maxExprNodes and
// Limits.MaxStringLength), so every evaluation finishes in bounded time.
type bounded struct{ err string }

func (b *bounded) Visit(n *ast.Node) {
	if b.err != "" {
		return
	}
	switch t := (*n).(type) {
	case *ast.BinaryNode:
		if t.Operator == ".." {
			b.err = fmt.Sprintf("ranges (a..b) are not allowed in rules (at %v)", t.Location())
		}
	case *ast.PredicateNode:
		var inner hasPredicate
		ast.Walk(&t.Node, &inner)
		if inner {
			b.err = fmt.Sprintf("a predicate inside another predicate (such as any(a, all(b, ...))) is not allowed in rules (at %v)", t.Location())
		}
	}
}

type hasPredicate bool

func (h *hasPredicate) Visit(n *ast.Node) {
	if _, ok := (*n).(*ast.PredicateNode); ok {
		*h = true
	}
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
