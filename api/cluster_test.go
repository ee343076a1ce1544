package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// fakeCluster stands in for the service's view of a cluster (internal/service's
// clusterView, tested with real NATS servers in cmd/nextbest/cluster_dashboard_test.go).
type fakeCluster struct {
	v   wire.Cluster
	err error
}

func (f fakeCluster) Cluster(context.Context) (wire.Cluster, error) { return f.v, f.err }

// TestGetCluster: a single node answers exactly {"clustered":false}; a cluster's view is
// answered with every field, an empty leader included; a view that cannot be read is a
// 503 with its code.
func TestGetCluster(t *testing.T) {
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	three := wire.Cluster{Clustered: true, Node: "r1", Replicas: []wire.ReplicaStatus{
		{Node: "r1", Applied: 10, Last: 10, CaughtUp: true, Updated: at, State: wire.ReplicaCaughtUp},
		{Node: "r2", Applied: 4, Last: 10, Lag: 6, Updated: at, Restarts: 1, State: wire.ReplicaCatchingUp},
	}}
	for _, tc := range []struct {
		name   string
		view   ClusterView
		status int
		body   string
	}{
		{"single", nil, 200, `{"clustered":false}`},
		{"cluster", fakeCluster{v: three}, 200, `{"clustered":true,"node":"r1","leader":"","replicas":[` +
			`{"node":"r1","applied":10,"last":10,"lag":0,"caught_up":true,"leader":false,"updated":"2026-06-01T09:00:00Z","unlogged_decisions":0,"restarts":0,"state":"caught_up"},` +
			`{"node":"r2","applied":4,"last":10,"lag":6,"caught_up":false,"leader":false,"updated":"2026-06-01T09:00:00Z","unlogged_decisions":0,"restarts":1,"state":"catching_up"}]}`},
		{"no-replicas-yet", fakeCluster{v: wire.Cluster{Clustered: true, Node: "r1", Leader: "r1"}}, 200, `{"clustered":true,"node":"r1","leader":"r1","replicas":[]}`},
		{"unavailable", fakeCluster{err: fmt.Errorf("read the replicas: %w", &engine.Error{Kind: engine.ErrUnavailable, Code: "cluster_unavailable", Message: "nats: timeout"})}, 503, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, true, func(o *Options) { o.Cluster = tc.view })
			req := httptest.NewRequest("GET", "/v1/cluster", nil)
			req.Host = "127.0.0.1"
			resp, err := s.srv.App().Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, raw, tc.status)
			}
			if tc.status != 200 {
				var eb wire.ErrorBody
				if err := json.Unmarshal(raw, &eb); err != nil || eb.Error.Code != "cluster_unavailable" {
					t.Fatalf("error body %s, want code cluster_unavailable", raw)
				}
				return
			}
			if string(raw) != tc.body {
				t.Fatalf("body\n %s\nwant\n %s", raw, tc.body)
			}
		})
	}
}
