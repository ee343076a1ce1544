package engine

import (
	"errors"
	"fmt"
	"reflect"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm/runtime"
)

// The rule language: what an eligibility rule, a campaign segment or an experiment
// population may say (an allow-list over expr-lang/expr; anything not listed is refused
// when the rule is stored), and what one evaluation may spend (its budget, charged as it
// runs). docs/security.md states both for users.
//
// expr's virtual machine has no step counter and no cancellation, so the time bound is
// built from three facts. The only loops are predicates (all, any, filter, ...), and a
// predicate may not contain another one, so each node of the rule runs at most once per
// element of one predicate's collection. Every operation whose cost grows with the data
// it touches is charged that cost to the budget before it runs (a predicate: its
// collection's length times its body's size; a scan such as `in`, `contains`, `matches`,
// `lower` or a comparison of two values from the request: the size of what it scans; a
// string built with +: its length). Every other operation costs a constant, or at most
// the size of a literal of the rule. An evaluation that would go over the budget stops
// with an error, which the caller treats as "not eligible" and explains.
const (
	// maxExprNodes bounds a rule's parse tree (expr.MaxNodes); maxExprLength (action.go)
	// its characters.
	maxExprNodes = 2000
	// exprBudget is what one evaluation may spend, in units of about 16 bytes of data
	// read or built, one element of a collection, or one node of a predicate's body run
	// once. expr's own memory budget (vm.VM.MemoryBudget, counted in elements of arrays
	// the rule builds) is set to the same number. 65,536 units are about 1 MiB of data
	// and, on the CI machine, at most about 2 ms of work (FuzzRuleBudget measures it).
	exprBudget = 1 << 16
	// exprUnitBytes is how many bytes of a string one unit pays for.
	exprUnitBytes = 16
	// maxExprString is the longest string a rule may build: four times the default
	// limit of a string in a request (limits.max_string_length).
	maxExprString = 16 << 10
	// maxRegexpInsts bounds a `matches` pattern's compiled program. Go's RE2 matches in
	// time linear in the input times the program: up to about 100 ns per byte and
	// instruction (an unanchored pattern that restarts at every byte), which regexpWeight
	// charges.
	maxRegexpInsts = 200
)

// ruleNames are the names a rule may read, besides those it declares with let.
var ruleNames = []string{"profile", "context", "channel", "customer_id"}

// ruleOperators are the binary operators a rule may use. Ranges (a..b) are not among
// them: 1..1000000000 is a billion-element array.
var ruleOperators = []string{
	"==", "!=", "<", "<=", ">", ">=", "&&", "||", "and", "or", "??",
	"+", "-", "*", "/", "%", "**", "^",
	"in", "contains", "startsWith", "endsWith", "matches",
}

// How a builtin's cost is charged.
type builtinCost int

const (
	costConstant builtinCost = iota // O(1): nothing to charge
	costLoop                        // a predicate: length of its collection x size of its body
	costScanArgs                    // scans its arguments: their size
	costScanKey                     // get(x, key): the key's size (x is indexed, not scanned)
)

// ruleBuiltins are the builtins a rule may call, with how each is charged. Refused, among
// others: the clock (now, date, duration, timezone: rules see no time but the request's),
// everything that builds a string or a collection from others (string, repeat, join,
// replace, split, toJSON, concat, flatten, map, reduce, groupBy, sortBy, sort, keys,
// values, ...), and conversions whose errors print their argument (int, float).
var ruleBuiltins = map[string]builtinCost{
	"all": costLoop, "any": costLoop, "none": costLoop, "one": costLoop, "filter": costLoop,
	"count": costLoop, "sum": costLoop, "find": costLoop, "findIndex": costLoop,
	"findLast": costLoop, "findLastIndex": costLoop,
	"len": costConstant, "type": costConstant, "abs": costConstant, "ceil": costConstant,
	"floor": costConstant, "round": costConstant, "first": costConstant, "last": costConstant,
	"get": costScanKey,
	"max": costScanArgs, "min": costScanArgs,
	"lower": costScanArgs, "upper": costScanArgs, "trim": costScanArgs, "trimPrefix": costScanArgs,
	"trimSuffix": costScanArgs, "hasPrefix": costScanArgs, "hasSuffix": costScanArgs,
	"indexOf": costScanArgs, "lastIndexOf": costScanArgs,
}

// ruleBuiltinNames returns the names of the builtin functions rules may call, sorted.
func ruleBuiltinNames() []string {
	names := make([]string, 0, len(ruleBuiltins))
	for n := range ruleBuiltins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// The functions the metering patcher (meter) puts into a compiled rule. Rules cannot
// call them: the allow-list refuses every call that is not a listed builtin.
const (
	fnLoop = "_loop" // _loop(collection, $env, weight): charge len x weight, return collection
	fnScan = "_scan" // _scan(value, $env, weight): charge size x weight, return value
	fnAdd  = "_add"  // _add(a, b, $env): a + b, a string charged by its length
)

// exprOptions returns the compile options that make the rule language: Env, the result
// type (a boolean for rules, a number for amounts), expr's node limit, only the allowed
// builtins, and the metering functions and patcher.
func exprOptions(result expr.Option) []expr.Option {
	opts := []expr.Option{expr.Env(Env{}), result, expr.MaxNodes(maxExprNodes), expr.DisableAllBuiltins()}
	for name := range ruleBuiltins {
		opts = append(opts, expr.EnableBuiltin(name))
	}
	same := func(args []reflect.Type) (reflect.Type, error) { return args[0], nil }
	opts = append(opts,
		function(&builtin.Function{Name: fnLoop, Func: chargeLoop, Validate: same}),
		function(&builtin.Function{Name: fnScan, Func: chargeScan, Validate: same}),
		function(&builtin.Function{Name: fnAdd, Func: add, Validate: addType}),
		expr.Patch(meter{}),
	)
	return opts
}

// function registers f as it is: expr.Function cannot take a Validate.
func function(f *builtin.Function) expr.Option {
	return func(c *conf.Config) { c.Functions[f.Name] = f }
}

// checkRule refuses, before compiling, whatever the rule language does not allow: it
// returns "" or the reason, at the offending node.
func checkRule(src string, tree *ast.Node) string {
	c := ruleCheck{src: src, lets: map[string]bool{}}
	ast.Find(*tree, func(n ast.Node) bool {
		if v, ok := n.(*ast.VariableDeclaratorNode); ok {
			c.lets[v.Name] = true
		}
		return false
	})
	ast.Walk(tree, &c)
	return c.err
}

type ruleCheck struct {
	src  string
	lets map[string]bool
	err  string
}

func (c *ruleCheck) fail(n ast.Node, format string, args ...any) {
	if c.err != "" {
		return
	}
	e := &file.Error{Location: n.Location(), Message: fmt.Sprintf(format, args...)}
	c.err = e.Bind(file.NewSource(c.src)).Error()
}

func (c *ruleCheck) Visit(node *ast.Node) {
	if c.err != "" {
		return
	}
	switch n := (*node).(type) {
	case *ast.NilNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.StringNode,
		*ast.ChainNode, *ast.ConditionalNode, *ast.VariableDeclaratorNode, *ast.SequenceNode:
	case *ast.IdentifierNode:
		if !slices.Contains(ruleNames, n.Value) && !c.lets[n.Value] {
			c.fail(n, "unknown name %s: rules read profile, context, channel, customer_id and names declared with let", truncate(n.Value, 40))
		}
	case *ast.UnaryNode:
		switch n.Operator {
		case "!", "not", "-", "+":
		default:
			c.fail(n, "operator %s is not allowed in rules", n.Operator)
		}
	case *ast.BinaryNode:
		switch {
		case n.Operator == "..":
			c.fail(n, "ranges (a..b) are not allowed in rules")
		case !slices.Contains(ruleOperators, n.Operator):
			c.fail(n, "operator %s is not allowed in rules", n.Operator)
		case n.Operator == "matches":
			c.checkPattern(n)
		}
	case *ast.MemberNode:
		if n.Method {
			c.fail(n, "method calls are not allowed in rules")
		}
	case *ast.BuiltinNode:
		if _, ok := ruleBuiltins[n.Name]; !ok {
			c.fail(n, "function %s is not allowed in rules (allowed: %s)", n.Name, strings.Join(ruleBuiltinNames(), ", "))
		}
	case *ast.PredicateNode:
		if ast.Find(n.Node, func(m ast.Node) bool { _, ok := m.(*ast.PredicateNode); return ok }) != nil {
			c.fail(n, "a predicate inside another predicate (such as any(a, all(b, ...))) is not allowed in rules")
		}
	case *ast.PointerNode:
		switch n.Name {
		case "", "index":
		case "acc":
			c.fail(n, "#acc is not allowed in rules: reduce is not (sum and count are)")
		default:
			c.fail(n, "#%s is not allowed in rules (# and #index are)", n.Name)
		}
	case *ast.ArrayNode:
		for _, e := range n.Nodes {
			if !literal(e) {
				c.fail(e, "the elements of an array in a rule must be literals, such as [\"web\", \"app\"]")
			}
		}
	case *ast.CallNode:
		c.fail(n, "function calls other than the allowed builtins are not allowed in rules (allowed: %s)", strings.Join(ruleBuiltinNames(), ", "))
	case *ast.SliceNode:
		c.fail(n, "slices (a[i:j]) are not allowed in rules")
	case *ast.MapNode, *ast.PairNode:
		c.fail(n, "map literals are not allowed in rules")
	default:
		c.fail(n, "this construct is not allowed in rules")
	}
}

// checkPattern allows `matches` only with a literal pattern of a bounded size, so that
// each match is compiled once, with the rule, and runs in time linear in its input.
func (c *ruleCheck) checkPattern(n *ast.BinaryNode) {
	s, ok := n.Right.(*ast.StringNode)
	if !ok {
		c.fail(n, "the pattern of matches must be a string literal")
		return
	}
	re, err := syntax.Parse(s.Value, syntax.Perl)
	if err != nil {
		return // the compiler reports it
	}
	prog, err := syntax.Compile(re.Simplify())
	if err == nil && len(prog.Inst) > maxRegexpInsts {
		c.fail(n, "the pattern of matches is too complex: %d instructions, at most %d", len(prog.Inst), maxRegexpInsts)
	}
}

// regexpWeight is what matching one unit of input (exprUnitBytes) against pattern costs
// at worst, in units of about 25 ns: 16 bytes x 100 ns per byte and instruction / 25 ns =
// 64 units per instruction. Most patterns run much faster (a literal prefix, an anchor, a
// one-pass program); the budget counts the worst.
func regexpWeight(pattern string) int {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 1
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 1
	}
	return 64 * len(prog.Inst)
}

// literal reports whether n is a literal: its cost is a constant of the rule.
func literal(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.NilNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.StringNode:
		return true
	case *ast.UnaryNode:
		return (n.Operator == "-" || n.Operator == "+") && literal(n.Node)
	case *ast.ArrayNode:
		for _, e := range n.Nodes {
			if !literal(e) {
				return false
			}
		}
		return true
	}
	return false
}

// meter is the patcher that makes evaluation pay for what it does: it runs after the
// type check and before compiling (expr.Patch), visiting each node after its children.
type meter struct{}

func (meter) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "+":
			if mayBeString(n.Left) || mayBeString(n.Right) {
				ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: fnAdd}, Arguments: []ast.Node{n.Left, n.Right, envNode()}})
			}
		case "==", "!=", "<", "<=", ">", ">=":
			// With a literal or a number on either side the comparison costs at most the
			// literal; two values from the request may be long strings or deep collections.
			if !cheap(n.Left) && !cheap(n.Right) {
				n.Left = charged(fnScan, n.Left, 1)
			}
		case "in":
			if !literal(n.Right) {
				n.Right = charged(fnScan, n.Right, 1)
			}
		case "contains", "startsWith", "endsWith":
			if !literal(n.Left) {
				n.Left = charged(fnScan, n.Left, 1)
			}
			if !literal(n.Right) {
				n.Right = charged(fnScan, n.Right, 1)
			}
		case "matches":
			if s, ok := n.Right.(*ast.StringNode); ok && !literal(n.Left) {
				n.Left = charged(fnScan, n.Left, regexpWeight(s.Value))
			}
		}
	case *ast.BuiltinNode:
		switch ruleBuiltins[n.Name] {
		case costLoop:
			weight := 1
			if len(n.Arguments) > 1 {
				weight = nodes(n.Arguments[1])
			}
			n.Arguments[0] = charged(fnLoop, n.Arguments[0], weight)
		case costScanArgs:
			for i, a := range n.Arguments {
				if !literal(a) {
					n.Arguments[i] = charged(fnScan, a, 1)
				}
			}
		case costScanKey:
			if len(n.Arguments) == 2 && !literal(n.Arguments[1]) {
				n.Arguments[1] = charged(fnScan, n.Arguments[1], 1)
			}
		}
	case *ast.MemberNode:
		if !literal(n.Property) {
			n.Property = charged(fnScan, n.Property, 1)
		}
	}
}

// envNode is $env: the *Env being evaluated, where the budget is counted.
func envNode() ast.Node { return &ast.IdentifierNode{Value: "$env"} }

// charged returns fn(n, $env, weight), at n's place in the source.
func charged(fn string, n ast.Node, weight int) ast.Node {
	call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn}, Arguments: []ast.Node{n, envNode(), &ast.IntegerNode{Value: weight}}}
	call.SetLocation(n.Location())
	return call
}

// nodes counts the nodes of a tree.
func nodes(n ast.Node) int {
	count := 0
	ast.Find(n, func(ast.Node) bool { count++; return false })
	return count
}

// mayBeString reports whether n's type, as the checker found it, is a string or unknown.
func mayBeString(n ast.Node) bool {
	k := n.Type().Kind()
	return k == reflect.String || k == reflect.Interface
}

// cheap reports whether comparing with n costs at most a constant of the rule: n is a
// literal, or a number or a boolean.
func cheap(n ast.Node) bool {
	if literal(n) {
		return true
	}
	switch n.Type().Kind() {
	case reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return true
	}
	return false
}

// errBudget is the error of an evaluation that went over its budget.
var errBudget = errors.New("over the expression budget (docs/security.md)")

// charge spends units of env's budget.
func (env *Env) charge(units int) error {
	env.spent += units
	if env.spent > exprBudget {
		return fmt.Errorf("%w: %d units, at most %d", errBudget, env.spent, exprBudget)
	}
	return nil
}

// chargeLoop is _loop(collection, $env, weight): a predicate over collection runs its
// body (weight nodes) once per element.
func chargeLoop(args ...any) (any, error) {
	env, weight := args[1].(*Env), args[2].(int)
	n := 1
	if v := reflect.ValueOf(args[0]); v.Kind() == reflect.Slice || v.Kind() == reflect.Array || v.Kind() == reflect.Map || v.Kind() == reflect.String {
		n += v.Len()
	}
	return args[0], env.charge(n * weight)
}

// chargeScan is _scan(value, $env, weight): an operation reads value, all of it at worst.
func chargeScan(args ...any) (any, error) {
	env, weight := args[1].(*Env), args[2].(int)
	left := (exprBudget - env.spent) / weight
	return args[0], env.charge(weight * size(args[0], left+1))
}

// add is _add(a, b, $env): a + b, where a string result is charged by its length and may
// not be longer than maxExprString.
func add(args ...any) (any, error) {
	a, b, env := args[0], args[1], args[2].(*Env)
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			n := len(x) + len(y)
			if n > maxExprString {
				return nil, fmt.Errorf("%w: a string of %d bytes, at most %d", errBudget, n, maxExprString)
			}
			if err := env.charge(1 + n/exprUnitBytes); err != nil {
				return nil, err
			}
			return x + y, nil
		}
	}
	return runtime.Add(a, b), nil
}

// addType is _add's type: that of + on the two operands, a string if both are strings;
// a string and a known other type do not add up, as without the patch.
func addType(args []reflect.Type) (reflect.Type, error) {
	a, b := args[0].Kind(), args[1].Kind()
	switch {
	case a == reflect.String && b == reflect.String:
		return args[0], nil
	case a == reflect.String && b != reflect.Interface, b == reflect.String && a != reflect.Interface:
		return nil, fmt.Errorf("invalid operation: + (mismatched types %s and %s)", args[0], args[1])
	}
	return reflect.TypeFor[any](), nil
}

// size is what reading v costs, in units: 1 per value, plus 1 per exprUnitBytes of a
// string, through arrays and maps. It stops counting past limit (the caller's budget).
func size(v any, limit int) int {
	switch v := v.(type) {
	case string:
		return 1 + len(v)/exprUnitBytes
	case []any:
		n := 1
		for _, e := range v {
			if n > limit {
				break
			}
			n += size(e, limit-n)
		}
		return n
	case map[string]any:
		n := 1
		for k, e := range v {
			if n > limit {
				break
			}
			n += 1 + len(k)/exprUnitBytes + size(e, limit-n)
		}
		return n
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		n := 1
		for i := 0; i < rv.Len() && n <= limit; i++ {
			n += size(rv.Index(i).Interface(), limit-n)
		}
		return n
	case reflect.Map:
		n := 1
		for it := rv.MapRange(); it.Next() && n <= limit; {
			n += size(it.Key().Interface(), limit-n) + size(it.Value().Interface(), limit-n)
		}
		return n
	}
	return 1
}
