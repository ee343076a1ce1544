package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
)

func TestImportOutcomes(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.stop()
	c := s.client()
	if _, err := c.PutExperiment(t.Context(), "x", wire.ExperimentRequest{Arms: []experiments.Arm{{Name: "nba", Policy: "nba", Weight: 0.5}, {Name: "legacy", Policy: "legacy", Weight: 0.5}}, Control: "legacy", State: engine.Running}); err != nil {
		t.Fatal(err)
	}
	// Enroll two customers through inbound decisions.
	for _, cust := range []engine.CustomerID{"a1", "a2"} {
		if _, err := c.Decide(t.Context(), wire.DecideRequest{CustomerID: cust, Channel: "web"}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "outcomes.csv")
	csv := "customer_id,type,value,time,id\n" +
		"a1,churn,,,a1-churn\n" +
		"a2,nps,9,,\n" +
		"a2,retention_discount,25.5,,\n" +
		"zz-not-enrolled,churn,,,\n" +
		"a1,churn,,,a1-churn\n"
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(s.base, "http://")
	var out strings.Builder
	if err := run(t.Context(), []string{"import", "outcomes", file, "--addr", addr, "--batch", "2"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	// 5 rows: the repeated id counts once; the customer outside the experiment is not attributed.
	if want := "imported 5 outcomes from " + file + ": 3 counted in an experiment, 1 duplicates"; !strings.Contains(out.String(), want) {
		t.Fatalf("import printed %q, want %q", out.String(), want)
	}
	rep, err := c.Report(t.Context(), "x")
	if err != nil {
		t.Fatal(err)
	}
	churned, disc, nps := int64(0), 0.0, 0
	for _, a := range rep.Arms {
		churned, disc, nps = churned+a.Churned, disc+a.Discount, nps+a.NPSAnswers
	}
	if churned != 1 || disc != 25.5 || nps != 1 {
		t.Fatalf("report after import: churned %d discount %v nps %d; want 1, 25.5, 1", churned, disc, nps)
	}

	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("customer_id,type,value\na1,nps,eleven\n"), 0o600)
	err = run(t.Context(), []string{"import", "outcomes", bad, "--addr", addr}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "line 2, column value") {
		t.Fatalf("bad value: %v, want an error naming line 2 and the value column", err)
	}
	os.WriteFile(bad, []byte("customer_id,type,value\na1,nps,12\n"), 0o600)
	err = run(t.Context(), []string{"import", "outcomes", bad, "--addr", addr}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "0 to 10") {
		t.Fatalf("NPS 12: %v, want the server's 400 saying 0 to 10", err)
	}
	os.WriteFile(bad, []byte("who,what\n"), 0o600)
	if err := run(t.Context(), []string{"import", "outcomes", bad, "--addr", addr}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "customer_id") {
		t.Fatalf("missing column: %v", err)
	}
}
