package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/service"
	"github.com/nextbest/nextbest/offpolicy"
	"github.com/nextbest/nextbest/sim/driver"
)

// TestEvaluateCommand runs nextbest evaluate as a user would, on a small simulation: once
// against the running server (--addr: a job, followed to the end) and once on its store
// after the server has stopped (--data with the server's config). Both print the table
// and write the JSON; they evaluate the same log with the same models, so their estimates
// agree (to rounding: the job and the command run their workers differently); the logged
// policy's DR equals its observed mean. Bad input is an error that says what is wrong.
func TestEvaluateCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 400-customer, 20-day simulation")
	}
	dir := t.TempDir()
	s := startServer(t, dir, func(o *service.Options) {
		if err := service.LoadConfig(o, "demo.yaml"); err != nil {
			t.Fatal(err)
		}
		o.Data, o.Demo, o.InsecureLocal, o.LogLevel = dir, true, true, "warn"
	})
	o := driver.Options{Addr: s.base, Customers: 400, Days: 20, Seed: 3, Workers: 8, Experiment: "simulation-3", Progress: 14}
	var log bytes.Buffer
	if _, err := driver.Run(context.Background(), o, driver.NewClient(o.Addr, "", o.Workers, &log), &log); err != nil {
		t.Fatalf("simulate: %v\n%s", err, log.String())
	}
	policies := []string{"--policy", `{"type": "logged"}`, "--policy", `{"name": "threshold 15", "type": "nba", "models": "logged", "threshold": 15}`, "--progress", "0"}
	evaluate := func(args ...string) (*engine.Evaluation, string) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "result.json")
		var out, errs bytes.Buffer
		if err := run(context.Background(), append(append([]string{"evaluate"}, args...), append(policies, "--json", file)...), &out, &errs); err != nil {
			t.Fatalf("evaluate %v: %v\n%s", args, err, errs.String())
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var ev engine.Evaluation
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		return &ev, out.String()
	}
	online, table := evaluate("--addr", s.base)
	s.stop()
	offline, _ := evaluate("--data", dir, "--config", "demo.yaml")
	for _, want := range []string{"Off-policy evaluation of", "Response:", "Net value:", "threshold 15", "vs logged", "ESS", "dr", "snips"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
	if online.Evaluated == 0 || online.Evaluated != offline.Evaluated {
		t.Fatalf("evaluated %d decisions on the server and %d on the store", online.Evaluated, offline.Evaluated)
	}
	for i, p := range online.Policies {
		q := offline.Policies[i]
		if p.NetValue == nil || q.NetValue == nil {
			t.Fatalf("%s: no net value (the first days' horizons have passed)", p.Name)
		}
		for _, m := range []offpolicy.Method{offpolicy.MethodObserved, offpolicy.MethodIPS, offpolicy.MethodSNIPS, offpolicy.MethodDR} {
			for _, r := range [][2]*engine.RewardEstimate{{p.Response, q.Response}, {p.NetValue, q.NetValue}} {
				a, _ := r[0].Estimate(m)
				b, _ := r[1].Estimate(m)
				if math.Abs(float64(a.Value-b.Value)) > 1e-9*math.Max(1, math.Abs(float64(a.Value))) {
					t.Errorf("%s %s %s: %v on the server, %v on the store", p.Name, r[0].Reward, m, a.Value, b.Value)
				}
			}
		}
	}
	obs, _ := offline.Policies[0].Response.Estimate(offpolicy.MethodObserved)
	dr, _ := offline.Policies[0].Response.Estimate(offpolicy.MethodDR)
	if math.Abs(float64(obs.Value-dr.Value)) > 1e-12 {
		t.Errorf("the logged policy's DR %v is not its observed mean %v", dr.Value, obs.Value)
	}

	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--data", dir, "--policy", `{"type": "always", "action": "nope"}`}, `no action "nope"`},
		{[]string{"--data", dir, "--policy", `{"type": "logged"`}, "--policy 1"},
		{[]string{"--data", dir, "--policy", `{"type": "logged", "colour": "red"}`}, "unknown field"},
		{[]string{"--data", dir, "--since", "2030-01-01T00:00:00Z", "--policy", `{"type": "logged"}`}, "no decisions between"},
		{[]string{"--data", dir, "--since", "yesterday", "--policy", `{"type": "logged"}`}, `--since: "yesterday" is not an RFC 3339 time`},
		{[]string{"--data", t.TempDir(), "--policy", `{"type": "logged"}`}, "holds no nextbest store"},
		{[]string{"--policy", `{"type": "logged"}`}, "give --data DIR"},
		{[]string{"--data", dir}, "no policy"},
	} {
		var out, errs bytes.Buffer
		err := run(context.Background(), append([]string{"evaluate"}, tc.args...), &out, &errs)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("evaluate %v: %v, want an error saying %q", tc.args, err, tc.says)
		}
	}
}
