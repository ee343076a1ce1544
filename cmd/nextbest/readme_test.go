package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/nextbest/nextbest/internal/service"
)

// readmeBlock is a shell example of the README that runs curl.
type readmeBlock struct {
	script string // what bash runs
	curls  int    // the curl commands in it, each one request
	manual bool   // a console block of the manual clock ("With clock: manual in the config")
}

// readmeBlocks returns the README's curl examples in order: every ```sh block that runs
// curl, and the commands ("$ curl ...", without the output below them) of every
// ```console block that does. The README's setup block (export NEXTBEST_KEY, B=, H=)
// runs no curl: the test sets those three variables itself.
func readmeBlocks(t *testing.T, readme string) []readmeBlock {
	t.Helper()
	curl := regexp.MustCompile(`(?m)^\s*(\$ )?curl `)
	var out []readmeBlock
	for _, m := range regexp.MustCompile("(?s)```(sh|console)\n(.*?)```").FindAllStringSubmatch(readme, -1) {
		body := m[2]
		if m[1] == "console" {
			var cmds []string
			for _, line := range strings.Split(body, "\n") {
				if cmd, ok := strings.CutPrefix(line, "$ "); ok {
					cmds = append(cmds, cmd)
				}
			}
			body = strings.Join(cmds, "\n") + "\n"
		}
		if n := len(curl.FindAllString(body, -1)); n > 0 {
			out = append(out, readmeBlock{script: body, curls: n, manual: m[1] == "console"})
		}
	}
	return out
}

// exchange is a request a README example made, and its answer, as the proxy saw them.
type exchange struct {
	what     string   // METHOD /path?query -> status
	problems []string // what the validator found wrong
}

// validatingProxy serves on 127.0.0.1:0 and passes every request on to the server at
// base, unchanged, and its answer back. It validates each request and answer against the
// API reference with the conformance test's validator, and keeps what it found.
type validatingProxy struct {
	c    *contract
	base string
	srv  *httptest.Server
	mu   sync.Mutex
	seen []exchange
}

func newValidatingProxy(t *testing.T, c *contract, base string) *validatingProxy {
	p := &validatingProxy{c: c, base: base}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *validatingProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req, err := http.NewRequest(r.Method, p.base+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := httpClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	ex := exchange{what: fmt.Sprintf("%s %s -> %d", r.Method, r.URL.RequestURI(), resp.StatusCode)}
	ex.problems = p.c.check(req, body, resp, respBody, true)
	p.mu.Lock()
	p.seen = append(p.seen, ex)
	p.mu.Unlock()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(respBody)
}

// take returns the exchanges seen since the last call.
func (p *validatingProxy) take() []exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.seen
	p.seen = nil
	return out
}

// TestREADMEExamples runs every curl example of the README, in order, as a new user would
// after `make run`: against a real server with the demo catalog and keys on, each block by
// bash as written. The blocks come from README.md itself, so editing an example changes
// what is tested. What the test puts in (docs/api.md):
//
//   - B, H and NEXTBEST_KEY, the variables of the README's setup block, are set in the
//     environment: B is the address of a proxy in front of the server, and the key is the
//     admin key the server printed on first start.
//   - Nothing else: the server has the default configuration of `make run` (the demo
//     catalog, the default schedules), the feedback example answers the decision the
//     decide example made (decision.json, kept in the blocks' shared directory), and the
//     rollback example goes back to a version that a fresh store has.
//   - The console block of the manual clock runs against a second server with
//     `clock: manual`, as its text says.
//
// curl runs with --fail-with-body, so a 4xx or 5xx fails the block. The proxy validates
// each request and answer against api/openapi.yaml with the conformance test's validator
// (libopenapi-validator), and the test fails on any problem it finds, or if a block's curl
// commands did not all pass through it.
func TestREADMEExamples(t *testing.T) {
	for _, tool := range []string{"curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (.ci/run installs it): the README's examples use it", tool)
		}
	}
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, string(raw))
	curls := 0
	for _, b := range blocks {
		curls += b.curls
	}
	if len(blocks) < 8 || curls < 35 {
		t.Fatalf("found %d curl blocks with %d curl commands in the README, expected at least 8 and 35", len(blocks), curls)
	}
	c := loadContract(t)

	// make run's configuration: the defaults, the demo catalog and keys on.
	s, adminKey := startSecure(t, func(o *service.Options) {
		d := service.DefaultOptions()
		o.Demo, o.Schedule = true, d.Schedule
	})
	defer s.stop()
	manual, manualKey := startSecure(t, func(o *service.Options) {
		o.Demo = true
		o.Clock = "manual"
	})
	defer manual.stop()

	proxy := newValidatingProxy(t, c, s.base)
	manualProxy := newValidatingProxy(t, c, manual.base)
	dir := t.TempDir()
	prelude := "set -e\ncurl() { command curl --fail-with-body -sS \"$@\"; echo; }\n"
	validated := 0
	for i, b := range blocks {
		script := b.script
		p, key := proxy, adminKey
		if b.manual {
			p, key = manualProxy, manualKey
		}
		cmd := exec.Command("bash", "-c", prelude+script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "B="+p.srv.URL, "NEXTBEST_KEY="+key, "H=Authorization: Bearer "+key)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README block %d failed: %v\n--- block\n%s\n--- output\n%s", i+1, err, b.script, out)
		}
		if strings.Contains(string(out), `"error"`) {
			t.Fatalf("README block %d printed an error:\n%s\n--- output\n%s", i+1, b.script, out)
		}
		seen := p.take()
		if len(seen) != b.curls {
			t.Errorf("README block %d runs curl %d times, but %d requests reached the server through the proxy:\n%s", i+1, b.curls, len(seen), b.script)
		}
		for _, ex := range seen {
			validated++
			for _, problem := range ex.problems {
				t.Errorf("README block %d: %s: %s", i+1, ex.what, problem)
			}
		}
	}
	t.Logf("ran %d README blocks: %d requests, each validated against api/openapi.yaml", len(blocks), validated)
}
