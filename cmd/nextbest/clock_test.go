package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/testserver"
)

// TestManualClockSurvivesCrash is the manual clock's lesser defect in issue 15: its time
// was not persisted, so after a crash the clock started again at clock_start, and
// advancing it again ran the jobs that had already run (a campaign contacted its segment
// twice). Now the clock's time and each job's last run are in the store: after SIGKILL
// the clock resumes where it was, and a job due at a time runs at most once.
func TestManualClockSurvivesCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	bin := testserver.BuildNextbest(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	// Only the campaign is scheduled, on a channel without a contact cap, so that each
	// of its runs contacts every customer.
	config := writeChildConfig(t, dir, `clock: manual
clock_start: "2026-11-02T00:00:00Z"
schedule: {timeouts: "", labels: "", snapshots: "", gc: "", outbound: ""}
`)
	const customers = 10
	p := startChild(t, bin, data, config)
	hc := childClient(4)
	ctx, c := t.Context(), p.client(hc)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.PutAction(ctx, "offer", wire.ActionRequest{Value: &engine.Money{Const: 1}, Channels: []string{"push"}}))
	for i := range customers {
		must(c.PutCustomer(ctx, engine.CustomerID(fmt.Sprintf("c%d", i)), map[string]any{"plan": "basic"}))
	}
	must(c.PutCampaign(ctx, "daily", wire.CampaignRequest{Segment: "true", Action: "offer", Channel: "push", Schedule: "0 10 * * *", Priority: new(1.0)}))

	advance := func(p *childProc, to string) wire.ClockState {
		t.Helper()
		at, err := time.Parse(time.RFC3339, to)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := p.client(hc).AdvanceClock(ctx, wire.ClockRequest{Time: &at})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	contacts := func(p *childProc) int {
		n := 0
		for _, d := range p.decisionLog(hc) {
			n += len(d.Chosen)
		}
		return n
	}

	// Two days: the campaign runs on the 2nd and the 3rd at 10:00.
	const day2 = "2026-11-03T12:00:00Z"
	cs := advance(p, day2)
	want := []string{"campaign daily @ 2026-11-02T10:00:00Z", "campaign daily @ 2026-11-03T10:00:00Z"}
	if !slices.Equal(cs.Ran, want) {
		t.Fatalf("first advance ran %q, want %q", cs.Ran, want)
	}
	if n := contacts(p); n != 2*customers {
		t.Fatalf("%d contacts after two runs, want %d", n, 2*customers)
	}
	p.kill()

	p2 := startChild(t, bin, data, config)
	now, err := p2.client(hc).Clock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := now.Now.UTC().Format(time.RFC3339); got != day2 {
		t.Errorf("after SIGKILL and a restart the clock reads %s, want %s where it was", got, day2)
	}
	// Advancing to the same time again runs nothing; the next day runs once more.
	if cs := advance(p2, day2); len(cs.Ran) != 0 {
		t.Errorf("advancing again to %s after the restart ran %q, which had run", day2, cs.Ran)
	}
	if n := contacts(p2); n != 2*customers {
		t.Errorf("%d contacts after the restart and a second advance, want %d (none twice)", n, 2*customers)
	}
	if cs := advance(p2, "2026-11-04T12:00:00Z"); !slices.Equal(cs.Ran, []string{"campaign daily @ 2026-11-04T10:00:00Z"}) {
		t.Errorf("advancing to the next day ran %q, want the one run due", cs.Ran)
	}
	if n := contacts(p2); n != 3*customers {
		t.Errorf("%d contacts after three runs, want %d", n, 3*customers)
	}
	if log := p2.stderr.String(); strings.Contains(log, "level=ERROR") {
		t.Errorf("the log has errors:\n%s", tailOf(log, 3000))
	}
}
