package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/cluster"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/service"
)

// TestClusterDashboard runs three replicas of the service in-process over three real
// NATS servers (cluster.StartTestCluster) and checks GET /v1/cluster and the dashboards'
// Cluster page in headless Chromium: every replica listed with its applied sequence, the
// log's last and a lag of 0 once the changes sent to one replica are applied everywhere;
// the page's one-line summary naming the replica that runs the scheduled jobs; every
// number on the page equal to the API's. Then one replica stops: the others list it as
// not reporting (its status expires from the lease bucket, and it stays listed), and the
// page's summary says so.
func TestClusterDashboard(t *testing.T) {
	chromiumPath(t) // fail early, before the cluster
	start := time.Now()
	tc := cluster.StartTestCluster(t, 3)
	replica := func(i int) func(*service.Options) {
		return func(o *service.Options) {
			co := tc.Options(i) // r<i>; 1 s leases: a stopped leader's lease moves within about 2 s
			o.Cluster = &co
			o.Store.SyncWrites = false // durability is not under test here
		}
	}
	t.Logf("three NATS servers up in %v", time.Since(start).Round(time.Millisecond))
	r0, adminKey := startSecure(t, replica(0)) // keys on: the browser signs in
	defer r0.stop()
	r1 := startServer(t, t.TempDir(), replica(1)) // keyless (--insecure-local)
	defer r1.stop()
	r2 := startServer(t, t.TempDir(), replica(2))
	stopped2 := false
	defer func() {
		if !stopped2 {
			r2.stop()
		}
	}()
	t.Logf("three replicas ready in %v", time.Since(start).Round(time.Millisecond))
	admin := r0.as(adminKey)
	ctx := t.Context()
	// Commands in the log: three actions, put through r0.
	for i := range 3 {
		if _, err := admin.client().PutAction(ctx, engine.ActionID(fmt.Sprintf("offer-%d", i)), wire.ActionRequest{Value: &engine.Money{Const: 10}}); err != nil {
			t.Fatal(err)
		}
	}
	// waitView polls a replica's GET /v1/cluster until ok accepts the view (10 s at most).
	waitView := func(s *testServer, what string, ok func(wire.Cluster) bool) wire.Cluster {
		t.Helper()
		var v wire.Cluster
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if v, err = s.client().Cluster(ctx); err == nil && ok(v) {
				return v
			}
		}
		t.Fatalf("%s: not within 10 s; last view %+v, %v", what, v, err)
		return v
	}
	settled := func(v wire.Cluster) bool {
		if !v.Clustered || v.Leader == "" || len(v.Replicas) != 3 {
			return false
		}
		for _, r := range v.Replicas {
			if r.State != wire.ReplicaCaughtUp || r.Lag != 0 || r.Applied != r.Last || r.Applied == 0 || r.Applied != v.Replicas[0].Applied || r.Leader != (r.Node == v.Leader) {
				return false
			}
		}
		return true
	}
	v := waitView(admin, "every replica caught up, one leader", settled)
	if v.Node != "r0" || v.Replicas[0].Node != "r0" || v.Replicas[1].Node != "r1" || v.Replicas[2].Node != "r2" {
		t.Fatalf("r0's view: %+v; want node r0 and replicas r0, r1, r2 by name", v)
	}
	// The three actions, at least, are in the log, and every replica applied them.
	if v.Replicas[0].Applied < 3 {
		t.Errorf("applied %d, want at least the 3 actions put", v.Replicas[0].Applied)
	}
	if v1, err := r1.client().Cluster(ctx); err != nil || v1.Node != "r1" || len(v1.Replicas) != 3 {
		t.Errorf("r1's view: %+v, %v; want node r1 and three replicas", v1, err)
	}
	t.Logf("cluster settled in %v: %d commands applied everywhere, %s leads", time.Since(start).Round(time.Millisecond), v.Replicas[0].Applied, v.Leader)

	bctx, cancel := browser(t)
	defer cancel()
	dir := screenshotDir(t)
	signIn(t, bctx, r0.base, adminKey)
	// loadPage opens the Cluster page and returns its summary, its rows' "node=state" and
	// the nav's entries.
	loadPage := func() (summary string, rows, nav []string) {
		t.Helper()
		resp, err := chromedp.RunResponse(bctx, chromedp.Navigate(r0.base+"/cluster"))
		if err != nil || resp.Status != 200 {
			t.Fatalf("load /cluster: %v, %v", resp, err)
		}
		if summary, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS(".cluster-summary"))); err != nil {
			t.Fatal(err)
		}
		if rows, err = chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('tr.replica')).map(r => r.dataset.node + '=' + r.querySelector('.replica-state').textContent + ' lag ' + r.querySelector('td.lag').textContent)`)); err != nil {
			t.Fatal(err)
		}
		if nav, err = chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('header nav a')).map(a => a.textContent)`)); err != nil {
			t.Fatal(err)
		}
		return summary, rows, nav
	}
	summary, rows, nav := loadPage()
	if want := "3 replicas, all caught up; " + v.Leader + " runs the scheduled jobs"; summary != want {
		t.Errorf("summary %q, want %q", summary, want)
	}
	if got := strings.Join(rows, ", "); got != "r0=caught up lag 0, r1=caught up lag 0, r2=caught up lag 0" {
		t.Errorf("rows %q, want r0, r1 and r2 caught up with a lag of 0", got)
	}
	if !strings.Contains(strings.Join(nav, ","), "Cluster") {
		t.Errorf("a replica's navigation %v has no Cluster entry", nav)
	}
	nums, err := chromedp.Run(bctx, chromedp.Evaluate[[]shown](collectJS))
	if err != nil {
		t.Fatal(err)
	}
	if len(nums) != 15 {
		t.Errorf("the page shows %d checked numbers, want 15 (five for each of three replicas)", len(nums))
	}
	checkNumbers(t, admin, nums)
	saveScreenshot(t, bctx, filepath.Join(dir, "cluster.png"))

	// r2 stops (as on SIGTERM): its status stops, expires from the bucket after the 1 s
	// lease TTL, and r0 keeps it listed, as not reporting once its last report is more
	// than wire.ReplicaSilence old.
	r2.stop()
	stopped2 = true
	stoppedAt := time.Now()
	v = waitView(admin, "r2 not reporting", func(v wire.Cluster) bool {
		return len(v.Replicas) == 3 && v.Replicas[2].State == wire.ReplicaNotReporting && v.Leader != "" && v.Leader != "r2" &&
			v.Replicas[0].State == wire.ReplicaCaughtUp && v.Replicas[1].State == wire.ReplicaCaughtUp
	})
	if silent := time.Since(stoppedAt); silent < wire.ReplicaSilence-time.Second {
		t.Errorf("r2 counted as not reporting %v after it stopped; want no sooner than %v after its last report", silent, wire.ReplicaSilence)
	}
	// Two more changes while r2 is away: r0 and r1 apply them, r2's row keeps what it
	// last reported.
	before := v.Replicas[0].Applied
	for i := 3; i < 5; i++ {
		if _, err := admin.client().PutAction(ctx, engine.ActionID(fmt.Sprintf("offer-%d", i)), wire.ActionRequest{Value: &engine.Money{Const: 10}}); err != nil {
			t.Fatal(err)
		}
	}
	v = waitView(admin, "r0 and r1 apply two more changes", func(v wire.Cluster) bool {
		return len(v.Replicas) == 3 && v.Replicas[0].Applied >= before+2 && v.Replicas[1].Applied == v.Replicas[0].Applied && v.Replicas[0].Lag == 0 && v.Replicas[1].Lag == 0
	})
	if v.Replicas[2].Applied != before || v.Replicas[2].State != wire.ReplicaNotReporting {
		t.Errorf("stopped r2: %+v; want its last report (applied %d), not reporting", v.Replicas[2], before)
	}
	summary, rows, _ = loadPage()
	if nums, err = chromedp.Run(bctx, chromedp.Evaluate[[]shown](collectJS)); err != nil {
		t.Fatal(err)
	}
	checkNumbers(t, admin, nums)
	if want := "3 replicas: r2 has not reported for "; !strings.HasPrefix(summary, want) || !strings.HasSuffix(summary, " s; "+v.Leader+" runs the scheduled jobs") {
		t.Errorf("summary %q, want %q… s; %s runs the scheduled jobs", summary, want, v.Leader)
	}
	if got := strings.Join(rows, ", "); !strings.HasPrefix(got, "r0=caught up lag 0, r1=caught up lag 0, r2=not reporting lag ") {
		t.Errorf("rows %q, want r2 not reporting", got)
	}
	saveScreenshot(t, bctx, filepath.Join(dir, "cluster-not-reporting.png"))
	t.Logf("whole test %v; screenshots in %s", time.Since(start).Round(time.Millisecond), dir)
}
