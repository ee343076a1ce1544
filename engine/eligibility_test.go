package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/expr-lang/expr/vm"
)

func TestCompileExpression(t *testing.T) {
	env := &Env{Profile: map[string]any{"tenure": 14.0, "tags": []any{"vip", "5g"}, "plan": "small"}, Context: map[string]any{"intent": "cancel"}, Channel: "web", Customer: "c1"}
	cases := []struct {
		src     string
		want    bool
		compile string // substring of the compile error, "" if it compiles
	}{
		{"profile.tenure >= 12", true, ""},
		{`profile.plan == "small" && context.intent == "cancel"`, true, ""},
		{`channel in ["web", "app"]`, true, ""},
		{`"vip" in profile.tags`, true, ""},
		{`any(profile.tags, # == "5g")`, true, ""},
		{`(profile.missing ?? 0) > 3`, false, ""},
		{`profile.plan matches "^sm"`, true, ""},
		{"profile.tenure >", false, "invalid_expression"},
		{"1 + 2", false, "expected bool"},
		{"5 in 1..1000000000", false, "ranges"},
		{`any(profile.tags, all(profile.tags, # == "x"))`, false, "predicate inside another predicate"},
		{`repeat("x", 1000000000) == ""`, false, "repeat"},
		{strings.Repeat("profile.tenure > 1 && ", 1000) + "true", false, "longer than"},
		{strings.Repeat("(", 200) + "true" + strings.Repeat(")", 200), true, ""},
	}
	var machine vm.VM
	for _, c := range cases {
		x, err := CompileExpression("eligibility", c.src)
		if c.compile != "" {
			if err == nil || !errors.Is(err, ErrUnprocessable) && !errors.Is(err, ErrTooLarge) {
				t.Errorf("%.60q: compiled, want an error containing %q", c.src, c.compile)
			} else if !strings.Contains(err.Error(), c.compile) && ErrorCode(err) != c.compile {
				t.Errorf("%.60q: error %q, want it to contain %q", c.src, err, c.compile)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		got, _ := x.Eval(&machine, env)
		if got != c.want {
			t.Errorf("%q = %v, want %v", c.src, got, c.want)
		}
	}
	// A compile error says where: line and column.
	_, err := CompileExpression("eligibility", "profile.tenure >= )")
	if err == nil || !strings.Contains(err.Error(), "1:") {
		t.Errorf("compile error %v does not give the position", err)
	}
}

func FuzzCompileExpression(f *testing.F) {
	for _, s := range []string{"profile.tenure >= 12", `channel in ["web"]`, `any(profile.tags, # == "x")`, "1..3", `context.a.b.c ?? "x" == "y"`, "(", `"\u0000"`} {
		f.Add(s)
	}
	env := &Env{Profile: map[string]any{"tenure": 3.0, "tags": []any{"a"}}, Context: map[string]any{"a": map[string]any{"b": 1.0}}, Channel: "web"}
	f.Fuzz(func(t *testing.T, src string) {
		x, err := CompileExpression("rule", src)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("compile error without a code: %v", err)
			}
			return
		}
		var machine vm.VM
		_, _ = x.Eval(&machine, env) // must not panic
	})
}
