package store

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStoreDoesNotImportEngine holds the layering of docs/architecture.md: the store
// speaks record's types and never needs the decision engine, directly or through another
// package, to encode or decode what it keeps.
func TestStoreDoesNotImportEngine(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const engine = "github.com/nextbest/nextbest/engine"
	for _, p := range strings.Fields(string(out)) {
		if p == engine || strings.HasPrefix(p, engine+"/") {
			t.Errorf("store depends on %s; the store must need only record (docs/architecture.md)", p)
		}
	}
}
