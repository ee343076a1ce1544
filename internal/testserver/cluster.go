package testserver

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nextbest/nextbest/cluster"
	"github.com/nextbest/nextbest/internal/service"
)

// Cluster is a cluster of replicas of the service in-process, each on its own store in a
// temporary directory and its own 127.0.0.1:0 listener, sharing one brain through a
// replicated log on the embedded NATS servers of NATS: the production shape with an
// external NATS cluster (the replicas connect by URL, cluster.Options.URLs).
type Cluster struct {
	NATS     *cluster.TestCluster
	Replicas []*Server // by index; nil while stopped
}

// clusterReady bounds how long a replica of a Cluster may take to be ready: a new
// cluster's replica waits for the stream, a joining one replays the log.
const clusterReady = 60 * time.Second

// StartCluster starts three NATS servers (cluster.StartTestCluster) and n replicas named
// r0, r1, ... connected to all of them, with the tests' defaults changed by mutate (it
// may read o.Cluster.Name), and waits until every replica is ready. The test's cleanup
// stops the replicas, then the NATS servers.
func StartCluster(t testing.TB, n int, mutate func(*service.Options)) *Cluster {
	t.Helper()
	c := &Cluster{NATS: cluster.StartTestCluster(t, 3)}
	for i := range n {
		c.Launch(t, i, t.TempDir(), mutate)
	}
	for _, s := range c.Replicas {
		s.WaitReady(t, clusterReady)
	}
	return c
}

// Launch starts replica i (named r<i>) over the data directory dir without waiting for
// it to be ready, and sets c.Replicas[i]; the test's cleanup stops it.
func (c *Cluster) Launch(t testing.TB, i int, dir string, mutate func(*service.Options)) *Server {
	t.Helper()
	s := launch(t, dir, func(o *service.Options) {
		co := c.NATS.Options(i % c.NATS.N())
		co.Name = fmt.Sprintf("r%d", i)
		o.Cluster = &co
		if mutate != nil {
			mutate(o)
		}
	})
	for len(c.Replicas) <= i {
		c.Replicas = append(c.Replicas, nil)
	}
	c.Replicas[i] = s
	t.Cleanup(func() {
		if c.Replicas[i] == s {
			c.Stop(t, i)
		}
	})
	return s
}

// Stop stops replica i as SIGTERM does (its lease goes to another replica at once) and
// fails the test if the service returned an error.
func (c *Cluster) Stop(t testing.TB, i int) {
	t.Helper()
	s := c.Replicas[i]
	c.Replicas[i] = nil
	began := time.Now()
	defer func() { t.Logf("replica r%d stopped in %v", i, time.Since(began).Round(time.Millisecond)) }()
	if err := s.Stop(); err != nil {
		t.Errorf("replica r%d (%s): %v", i, filepath.Base(s.Data), err)
	}
}
