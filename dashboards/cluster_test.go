package dashboards_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/dashboards"
)

// fakeCluster stands in for the service's view of a cluster; the real one, over real
// NATS servers and three replicas, is cmd/nextbest/cluster_dashboard_test.go's.
type fakeCluster struct {
	v   wire.Cluster
	err error
}

func (f fakeCluster) Cluster(context.Context) (wire.Cluster, error) { return f.v, f.err }

// clusterApp serves the pages with view as Options.Cluster (nil: a single node).
func clusterApp(t *testing.T, h *harness, view dashboards.ClusterView) *fiber.App {
	t.Helper()
	pages, err := dashboards.New(h.eng, headerSessions{}, nil, dashboards.Options{Cluster: view})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	pages.Register(app, guard)
	return app
}

func getPage(t *testing.T, app *fiber.App, path string, role access.Role) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set(roleHeader, string(role))
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

var (
	clusterSummaryRe = regexp.MustCompile(`(?s)<div class="bottomline tone-(\w+)".*?<p class="bottomline-text cluster-summary">([^<]*)</p>`)
	replicaRowRe     = regexp.MustCompile(`(?s)<tr class="replica replica-(\w+)" data-node="([^"]+)">(.*?)</tr>`)
	navClusterRe     = regexp.MustCompile(`<a href="/cluster"[^>]*>Cluster</a>`)
)

// TestClusterPage renders the Cluster page over views of three replicas in each state
// and checks the one-line summary and its tone, every replica's row (state, lag, the
// replica that runs the scheduled jobs) and every number against the view it came from;
// on a single node, the page says so and the navigation has no Cluster entry.
func TestClusterPage(t *testing.T) {
	h := newHarness(t, t.TempDir(), day0, nil)
	now := time.Now().UTC()
	rep := func(name string, applied, last uint64, state wire.ReplicaState, age time.Duration) wire.ReplicaStatus {
		return wire.ReplicaStatus{Node: name, Applied: applied, Last: last, Lag: last - applied, CaughtUp: state == wire.ReplicaCaughtUp,
			Updated: now.Add(-age), UnloggedDecisions: 3, Restarts: 1, State: state}
	}
	up := func(name string) wire.ReplicaStatus {
		return rep(name, 48210, 48210, wire.ReplicaCaughtUp, 300*time.Millisecond)
	}
	for _, tc := range []struct {
		name     string
		view     wire.Cluster
		summary  string
		tone     string
		states   string // node=state of every row, in order
		leadsRow string // the row marked as running the scheduled jobs
	}{
		{"caught-up", wire.Cluster{Clustered: true, Node: "r1", Leader: "r2", Replicas: []wire.ReplicaStatus{up("r1"), up("r2"), up("r3")}},
			"3 replicas, all caught up; r2 runs the scheduled jobs", "good", "r1=caught_up r2=caught_up r3=caught_up", "r2"},
		{"behind", wire.Cluster{Clustered: true, Node: "r1", Leader: "r2", Replicas: []wire.ReplicaStatus{up("r1"), up("r2"), rep("r3", 46970, 48210, wire.ReplicaCatchingUp, time.Second)}},
			"3 replicas: r3 is 1,240 commands behind; r2 runs the scheduled jobs", "mixed", "r1=caught_up r2=caught_up r3=catching_up", "r2"},
		{"silent", wire.Cluster{Clustered: true, Node: "r1", Leader: "r1", Replicas: []wire.ReplicaStatus{up("r1"), up("r2"), rep("r3", 40000, 40002, wire.ReplicaNotReporting, 42500*time.Millisecond)}},
			"3 replicas: r3 has not reported for 42 s; r1 runs the scheduled jobs", "bad", "r1=caught_up r2=caught_up r3=not_reporting", "r1"},
		{"no-leader", wire.Cluster{Clustered: true, Node: "r2", Replicas: []wire.ReplicaStatus{up("r1"), up("r2"), rep("r3", 48210, 48210, wire.ReplicaCatchingUp, time.Second)}},
			"3 replicas: r3 is catching up; no replica runs the scheduled jobs right now (the lease passes to another within about two lease TTLs)", "bad", "r1=caught_up r2=caught_up r3=catching_up", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := clusterApp(t, h, fakeCluster{v: tc.view})
			code, body := getPage(t, app, "/cluster", access.Analyst)
			if code != 200 {
				t.Fatalf("status %d: %.500s", code, body)
			}
			m := clusterSummaryRe.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no summary on the page: %.2000s", body)
			}
			if got := html.UnescapeString(m[2]); got != tc.summary || m[1] != tc.tone {
				t.Errorf("summary %q (tone %s), want %q (tone %s)", got, m[1], tc.summary, tc.tone)
			}
			var states []string
			leads := ""
			byNode := map[string]wire.ReplicaStatus{}
			for _, r := range tc.view.Replicas {
				byNode[r.Node] = r
			}
			for _, row := range replicaRowRe.FindAllStringSubmatch(body, -1) {
				states = append(states, row[2]+"="+row[1])
				if strings.Contains(row[3], `class="tag leads"`) {
					leads += row[2]
				}
				want := map[wire.ReplicaState]string{wire.ReplicaCaughtUp: ">caught up<", wire.ReplicaCatchingUp: ">catching up<", wire.ReplicaNotReporting: ">not reporting<"}[wire.ReplicaState(row[1])]
				if !strings.Contains(row[3], want) {
					t.Errorf("row %s: no %q pill", row[2], want)
				}
				r := byNode[row[2]]
				fields := map[string]uint64{"applied": r.Applied, "last": r.Last, "lag": r.Lag, "unlogged_decisions": r.UnloggedDecisions, "restarts": r.Restarts}
				nums := shownNum.FindAllStringSubmatch(row[3], -1)
				if len(nums) != len(fields) {
					t.Errorf("row %s shows %d checked numbers, want %d", row[2], len(nums), len(fields))
				}
				for _, n := range nums {
					prefix := fmt.Sprintf("replicas[node=%s].", row[2])
					v, ok := fields[strings.TrimPrefix(n[1], prefix)]
					if !strings.HasPrefix(n[1], prefix) || !ok || n[2] != fmt.Sprint(v) {
						t.Errorf("row %s: number %s = %s, want one of its fields (%v)", row[2], n[1], n[2], fields)
					}
				}
			}
			if got := strings.Join(states, " "); got != tc.states {
				t.Errorf("rows %q, want %q", got, tc.states)
			}
			if leads != tc.leadsRow {
				t.Errorf("the row that runs the scheduled jobs: %q, want %q", leads, tc.leadsRow)
			}
			if !strings.Contains(body, `data-src="/v1/cluster"`) || !strings.Contains(body, `http-equiv="refresh" content="5"`) {
				t.Error("the table names no API source, or the page does not reload itself")
			}
			if !navClusterRe.MatchString(body) {
				t.Error("a replica's navigation has no Cluster entry")
			}
			if tc.name == "behind" && !strings.Contains(body, `data-path="replicas[node=r3].lag" data-value="1240">1,240<`) {
				t.Error("r3's lag is not shown as 1,240")
			}
		})
	}

	t.Run("unreadable", func(t *testing.T) {
		app := clusterApp(t, h, fakeCluster{err: errors.New("nats: timeout")})
		code, body := getPage(t, app, "/cluster", access.Admin)
		if code != 200 || !strings.Contains(body, `class="alert"`) || !strings.Contains(body, "nats: timeout") {
			t.Fatalf("status %d, want the page with the reason in an alert: %.1500s", code, body)
		}
	})

	t.Run("single-node", func(t *testing.T) {
		app := clusterApp(t, h, nil)
		code, body := getPage(t, app, "/cluster", access.Analyst)
		if code != 200 || !strings.Contains(body, "This is a single node") || !strings.Contains(body, "docs/scale-out.md") || strings.Contains(body, "<table") {
			t.Fatalf("status %d; want the single-node note with docs/scale-out.md and no table: %.2000s", code, body)
		}
		if strings.Contains(body, "http-equiv=\"refresh\"") {
			t.Error("the single-node page reloads itself")
		}
		for _, path := range []string{"/cluster", "/catalog"} {
			if _, body := getPage(t, app, path, access.Admin); navClusterRe.MatchString(body) {
				t.Errorf("%s on a single node: the navigation shows Cluster", path)
			}
		}
	})

	t.Run("viewer", func(t *testing.T) {
		app := clusterApp(t, h, fakeCluster{v: wire.Cluster{Clustered: true, Node: "r1"}})
		if code, _ := getPage(t, app, "/cluster", access.Viewer); code != 403 {
			t.Errorf("a viewer on /cluster: %d, want 403 (the API's inspect permission)", code)
		}
	})
}
