package cluster

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// testReady bounds how long StartTestCluster and Restart wait for JetStream.
const testReady = 30 * time.Second

// TestCluster is n embedded nats-servers with JetStream on 127.0.0.1, routed to each
// other, each storing in its own temporary directory. It is for tests, in this package
// and others; it is stopped by the test's cleanup.
type TestCluster struct {
	t       testing.TB
	opts    []Options
	servers []*Server // nil while killed
}

// StartTestCluster starts n servers named s0, s1, ... on free loopback ports (a cluster
// only when n > 1) and returns once every server is up and JetStream has a meta leader
// that every server follows.
func StartTestCluster(t testing.TB, n int) *TestCluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	c := &TestCluster{t: t, opts: make([]Options, n), servers: make([]*Server, n)}
	var routes []string
	if n > 1 {
		for i := range n {
			routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+i]))
		}
	}
	for i := range n {
		o := DefaultOptions()
		o.Name = fmt.Sprintf("s%d", i)
		o.Replicas = min(n, 3)
		o.Embedded = EmbeddedOptions{
			Listen:   fmt.Sprintf("127.0.0.1:%d", ports[i]),
			StoreDir: t.TempDir(),
		}
		if n > 1 {
			o.Embedded.ClusterListen = fmt.Sprintf("127.0.0.1:%d", ports[n+i])
			for j, r := range routes {
				if j != i {
					o.Embedded.Routes = append(o.Embedded.Routes, r)
				}
			}
		}
		c.opts[i] = o
	}
	t.Cleanup(c.stop)
	for i := range n {
		s, err := StartServer(c.opts[i], nil)
		if err != nil {
			t.Fatalf("start test server %d: %v", i, err)
		}
		c.servers[i] = s
	}
	c.waitReady()
	return c
}

// freePorts returns n distinct free TCP ports on 127.0.0.1 (free when asked; another
// process could take one before the server binds it).
func freePorts(t testing.TB, n int) []int {
	ports := make([]int, n)
	var ls []net.Listener
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// waitReady waits until every running server is ready (see Server.Ready).
func (c *TestCluster) waitReady() {
	c.t.Helper()
	deadline := time.Now().Add(testReady)
	for {
		ready := true
		for _, s := range c.servers {
			if s != nil && !s.Ready() {
				ready = false
			}
		}
		if ready {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("test cluster: JetStream not ready within %v", testReady)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// N is the number of servers.
func (c *TestCluster) N() int { return len(c.opts) }

// URLs are the client URLs of all servers.
func (c *TestCluster) URLs() []string {
	urls := make([]string, len(c.opts))
	for i := range c.opts {
		urls[i] = c.ClientURL(i)
	}
	return urls
}

// ClientURL is server i's client URL (the same across Kill and Restart).
func (c *TestCluster) ClientURL(i int) string { return "nats://" + c.opts[i].Embedded.Listen }

// Options returns the Options of a replica named r<i> that connects to all servers
// (server i first), with short lease and no retention limits: stream "NEXTBEST" with
// min(n, 3) replicas and 1 s leases.
func (c *TestCluster) Options(i int) Options {
	o := DefaultOptions()
	o.Name = fmt.Sprintf("r%d", i)
	o.Replicas = min(len(c.opts), 3)
	o.LeaseTTL = time.Second
	o.MaxAge = 0
	o.URLs = append([]string{c.ClientURL(i)}, c.without(i)...)
	return o
}

// without returns the client URLs of every server but i.
func (c *TestCluster) without(i int) []string {
	var urls []string
	for j := range c.opts {
		if j != i {
			urls = append(urls, c.ClientURL(j))
		}
	}
	return urls
}

// ServerOptions are server i's own Options (name s<i>, its listeners, routes and store).
func (c *TestCluster) ServerOptions(i int) Options { return c.opts[i] }

// Server is server i, nil while killed.
func (c *TestCluster) Server(i int) *Server { return c.servers[i] }

// Kill stops server i at once and waits for it to be down; its store directory stays
// for Restart. In one process this is nats-server's Shutdown: clients are cut off and
// the Raft groups it leads step down to a peer first, as they would on SIGTERM; a
// SIGKILL, where the others must wait out an election timeout, needs a process of its own.
func (c *TestCluster) Kill(i int) {
	c.t.Helper()
	s := c.servers[i]
	if s == nil {
		c.t.Fatalf("test cluster: server %d is not running", i)
	}
	c.servers[i] = nil
	s.Shutdown()
	s.WaitForShutdown()
}

// Restart starts server i again with its name, ports and store directory, and waits
// until every running server follows a JetStream meta leader.
func (c *TestCluster) Restart(i int) {
	c.t.Helper()
	if c.servers[i] != nil {
		c.t.Fatalf("test cluster: server %d is running", i)
	}
	s, err := StartServer(c.opts[i], nil)
	if err != nil {
		c.t.Fatalf("restart test server %d: %v", i, err)
	}
	c.servers[i] = s
	c.waitReady()
}

// stop shuts every running server down.
func (c *TestCluster) stop() {
	for i, s := range c.servers {
		if s != nil {
			s.Shutdown()
			s.WaitForShutdown()
			c.servers[i] = nil
		}
	}
}
