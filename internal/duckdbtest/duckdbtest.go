// Package duckdbtest runs DuckDB over files in tests: a reader of Parquet other than the
// one nextbest writes with. DuckDB comes from npm (@duckdb/node-api, platform binaries as
// npm packages; Debian has no duckdb), run by node.
package duckdbtest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

//go:embed duckdb.mjs
var script []byte

// Version is the @duckdb/node-api release .ci/run installs.
const Version = "1.5.6-r.1"

// Query runs SQL queries in DuckDB, FILE in each standing for file (quoted), and returns
// each query's rows as DuckDB writes them in JSON (numbers as json.Number; DuckDB writes
// 64-bit integers as strings). The module is found in $NEXTBEST_DUCKDB, a directory where
// `npm install @duckdb/node-api` ran, as .ci/run does; without it (or without node) the
// test is skipped, except in CI ($NEXTBEST_CI set), where it fails.
func Query(t testing.TB, file string, queries ...string) [][]map[string]any {
	t.Helper()
	dir := os.Getenv("NEXTBEST_DUCKDB")
	node, err := exec.LookPath("node")
	if dir == "" || err != nil {
		msg := "DuckDB is not installed: npm install --prefix DIR @duckdb/node-api@" + Version + ", then set NEXTBEST_DUCKDB=DIR (node is needed too)"
		if os.Getenv("NEXTBEST_CI") != "" {
			t.Fatal(msg + "; CI installs it (.ci/run)")
		}
		t.Skip(msg)
	}
	// The script beside the module, so that node finds it.
	run := t.TempDir()
	if err := os.WriteFile(filepath.Join(run, "duckdb.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "node_modules"), filepath.Join(run, "node_modules")); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(queries)
	cmd := exec.Command(node, filepath.Join(run, "duckdb.mjs"), file)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, stderr.String())
	}
	var res [][]map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("duckdb output %q: %v", out, err)
	}
	return res
}
