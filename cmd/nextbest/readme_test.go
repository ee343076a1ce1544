package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestREADMEExamples runs every curl example of the README, as a new user would, against a
// real server with the demo catalog and authentication on. Each block must succeed: curl
// runs with --fail-with-body, so any 4xx or 5xx fails the test.
func TestREADMEExamples(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed (.ci/run installs it): the README's examples use it")
	}
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(raw), -1) {
		if strings.Contains(m[1], "curl ") {
			blocks = append(blocks, m[1])
		}
	}
	if len(blocks) < 7 {
		t.Fatalf("found %d curl blocks in the README, expected at least 7", len(blocks))
	}

	s, adminKey := startSecure(t, func(o *Options) {
		o.Demo = true
		o.Schedule.Snapshots = "@every 1s" // so the rollback example has a version to go back to
	})
	defer s.stop()
	admin := s.as(adminKey)
	// The README's feedback example names a decision from its decide example; make a real
	// one that offered the same action.
	admin.call("PUT", "/v1/customers/c-1001", `{"attributes": {"tenure_months": 26, "months_to_contract_end": 2}}`, nil)
	var d decideResponse
	// The device upgrade's net value is positive on average for this customer (the demo
	// catalog: a 5% take-up prior, value 200, contact cost 0.1 on the web), but Thompson
	// sampling may draw it below zero, which answers "no action": ask again until offered.
	for try := 0; len(d.Actions) == 0; try++ {
		if code := admin.call("POST", "/v1/decide", `{"customer_id": "c-1001", "channel": "web", "actions": ["device-upgrade"]}`, &d); code != 200 || try == 50 {
			t.Fatalf("decide: %d %+v", code, d)
		}
	}

	dir := t.TempDir()
	prelude := "set -e\ncurl() { command curl --fail-with-body -sS \"$@\"; echo; }\n"
	for i, b := range blocks {
		b = strings.ReplaceAll(b, "18ea7042458a429ce36081e3f9e257e2", d.DecisionID)
		if strings.Contains(b, "/rollback") {
			waitForVersion(t, admin, "retention-20")
		}
		cmd := exec.Command("bash", "-c", prelude+b)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "B="+s.base, "NEXTBEST_KEY="+adminKey, "H=Authorization: Bearer "+adminKey)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README block %d failed: %v\n--- block\n%s\n--- output\n%s", i+1, err, b, out)
		}
		if strings.Contains(string(out), `"error"`) {
			t.Fatalf("README block %d printed an error:\n%s\n--- output\n%s", i+1, b, out)
		}
	}
}

func waitForVersion(t *testing.T, s *testServer, action string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var v struct {
			Versions []struct{ Version int } `json:"versions"`
		}
		s.call("GET", "/v1/models/"+action+"/versions", nil, &v)
		if len(v.Versions) > 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no stored version of %s after 15s", action)
}
