package testserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proc is one replica of a cluster running as a child process: `nextbest serve --cluster
// NAME` over its own data directory, with its embedded NATS server inside the same
// process (unless it was added with AddClient), so that a SIGKILL of the process takes
// its NATS server down too. Its addresses stay the same across restarts.
type Proc struct {
	Name  string
	Data  string // the data directory: <Data>/store is Badger, <Data>/nats the NATS files
	URL   string // http://127.0.0.1:PORT
	NATS  string // the embedded NATS server's client address (host:port); "" for a client
	Route string // the embedded NATS server's route address; "" for a client
	// Stderr is the structured log of the current run; Runs holds every run's, in order.
	Stderr *SyncBuffer
	Runs   []*SyncBuffer

	t      testing.TB
	bin    string
	args   []string
	cmd    *exec.Cmd
	exited chan struct{}
}

// ProcCluster is a cluster of nextbest replicas as child processes on 127.0.0.1 with free
// ports: each with an embedded NATS server routed to the others.
type ProcCluster struct {
	Procs []*Proc

	t   testing.TB
	bin string
	dir string
}

// NewProcCluster prepares n replicas r1..rn of the binary bin, with data directories under
// dir and free loopback ports, each given the extra arguments; it starts none of them
// (Start does). The processes are killed when the test ends.
func NewProcCluster(t testing.TB, bin, dir string, n int, extra ...string) *ProcCluster {
	t.Helper()
	ports := freePorts(t, 3*n)
	c := &ProcCluster{t: t, bin: bin, dir: dir}
	for i := range n {
		p := &Proc{
			Name: fmt.Sprintf("r%d", i+1), Data: filepath.Join(dir, fmt.Sprintf("d%d", i+1)),
			URL: "http://" + ports[3*i], NATS: ports[3*i+1], Route: ports[3*i+2], t: t, bin: bin,
		}
		c.Procs = append(c.Procs, p)
	}
	for i, p := range c.Procs {
		var routes []string
		for j, q := range c.Procs {
			if j != i {
				routes = append(routes, "nats-route://"+q.Route)
			}
		}
		p.args = append([]string{"serve", "--insecure-local", "--cluster", p.Name, "--data", p.Data,
			"--addr", strings.TrimPrefix(p.URL, "http://"), "--nats-listen", p.NATS,
			"--nats-cluster-listen", p.Route, "--nats-routes", strings.Join(routes, ",")}, extra...)
	}
	t.Cleanup(func() {
		for _, p := range c.Procs {
			p.Kill()
		}
	})
	return c
}

// AddClient prepares one more replica, named name, that runs no NATS server of its own
// but connects to the cluster's servers with --nats-url (the shape of a replica added to
// serve decisions, which leaves the stream's Raft groups as they are), over a new data
// directory. It is not started.
func (c *ProcCluster) AddClient(name string, extra ...string) *Proc {
	c.t.Helper()
	var urls []string
	for _, q := range c.Procs {
		if q.NATS != "" {
			urls = append(urls, "nats://"+q.NATS)
		}
	}
	port := freePorts(c.t, 1)[0]
	p := &Proc{Name: name, Data: filepath.Join(c.dir, name), URL: "http://" + port, t: c.t, bin: c.bin}
	p.args = append([]string{"serve", "--insecure-local", "--cluster", name, "--data", p.Data, "--addr", port,
		"--nats-url", strings.Join(urls, ",")}, extra...)
	c.Procs = append(c.Procs, p)
	return p
}

// freePorts returns n distinct free loopback addresses: all are held open until every
// one is chosen, then released for the processes to listen on.
func freePorts(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// StartAll starts every replica and waits until each reports ready, within timeout.
func (c *ProcCluster) StartAll(timeout time.Duration) {
	c.t.Helper()
	for _, p := range c.Procs {
		p.Start()
	}
	for _, p := range c.Procs {
		if _, err := p.WaitReady(timeout); err != nil {
			c.t.Fatal(err)
		}
	}
}

// Start starts the replica's process (again, after Kill: same data directory, same
// addresses) without waiting for it to be ready.
func (p *Proc) Start() {
	p.t.Helper()
	p.Stderr = &SyncBuffer{}
	p.Runs = append(p.Runs, p.Stderr)
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, p.Stderr
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.Name, err)
	}
	p.exited = make(chan struct{})
	cmd, exited := p.cmd, p.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
}

// Running reports whether the process has been started and has not exited.
func (p *Proc) Running() bool {
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL (kill -9) and waits for the process to be gone; a process that is
// not running is left alone.
func (p *Proc) Kill() {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Ready returns the status /readyz answers (0 if it does not answer within 500 ms: the
// process is not serving yet, or is gone).
func (p *Proc) Ready() int {
	hc := http.Client{Timeout: 500 * time.Millisecond}
	resp, err := hc.Get(p.URL + "/readyz")
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// WaitReady waits until /readyz answers 200 and returns how long that took; it fails if
// the process exits first or timeout passes.
func (p *Proc) WaitReady(timeout time.Duration) (time.Duration, error) {
	began := time.Now()
	for {
		if p.Ready() == http.StatusOK {
			return time.Since(began), nil
		}
		if !p.Running() {
			return 0, fmt.Errorf("%s exited before it was ready:\n%s", p.Name, tail(p.Stderr.String(), 3000))
		}
		if time.Since(began) > timeout {
			return 0, fmt.Errorf("%s not ready after %v:\n%s", p.Name, timeout, tail(p.Stderr.String(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Log returns the structured log of every run of the replica so far.
func (p *Proc) Log() string {
	var b strings.Builder
	for i, r := range p.Runs {
		fmt.Fprintf(&b, "---- %s, run %d ----\n%s", p.Name, i+1, r.String())
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
