package dashboards

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/internal/numtext"
)

// ClusterView reports the cluster this replica belongs to, as GET /v1/cluster answers
// it: every replica's position in the log and which one runs the scheduled jobs.
type ClusterView interface {
	Cluster(ctx context.Context) (wire.Cluster, error)
}

// clusterPage is the Cluster page: on a single node only the note that it is one.
type clusterPage struct {
	Clustered bool
	Node      string // the replica that serves the page
	Summary   string // one sentence for everyone: "3 replicas, all caught up; r2 runs ..."
	Tone      string // good, mixed (catching up) or bad (not reporting, or no leader)
	Error     string // the view could not be read
	Replicas  []replicaRow
}

// replicaRow is one replica of the table.
type replicaRow struct {
	Name      string
	Self      bool // the replica serving the page
	Leads     bool // holds the scheduler's lease
	State     wire.ReplicaState
	StateText string // "caught up", "catching up", "not reporting"
	Applied   Num
	Last      Num
	Lag       Num
	Unlogged  Num
	Restarts  Num
	Updated   string // when it last published, and how long ago
}

// stateText names the replica states on the page.
var stateText = map[wire.ReplicaState]string{
	wire.ReplicaCaughtUp:     "caught up",
	wire.ReplicaCatchingUp:   "catching up",
	wire.ReplicaNotReporting: "not reporting",
}

func (p *Pages) cluster(c *fiber.Ctx) (view, error) {
	v := view{template: "cluster.html", title: "Cluster", nav: "cluster", refresh: 5}
	if p.opts.Cluster == nil {
		v.refresh = 0
		v.data = clusterPage{}
		return v, nil
	}
	cl, err := p.opts.Cluster.Cluster(c.UserContext())
	if err != nil {
		v.data = clusterPage{Clustered: true, Tone: "bad", Error: err.Error()}
		return v, nil
	}
	v.data = clusterPageOf(cl, time.Now())
	return v, nil
}

// clusterPageOf lays out a cluster's view as of now.
func clusterPageOf(cl wire.Cluster, now time.Time) clusterPage {
	pg := clusterPage{Clustered: true, Node: cl.Node}
	pg.Summary, pg.Tone = clusterSummary(cl, now)
	for _, r := range cl.Replicas {
		base := fmt.Sprintf("replicas[node=%s].", r.Node)
		pg.Replicas = append(pg.Replicas, replicaRow{
			Name: r.Node, Self: r.Node == cl.Node, Leads: r.Node == cl.Leader,
			State: r.State, StateText: stateText[r.State],
			Applied:  numF(base+"applied", float64(r.Applied), 1, styleCount),
			Last:     numF(base+"last", float64(r.Last), 1, styleCount),
			Lag:      numF(base+"lag", float64(r.Lag), 1, styleCount),
			Unlogged: numF(base+"unlogged_decisions", float64(r.UnloggedDecisions), 1, styleCount),
			Restarts: numF(base+"restarts", float64(r.Restarts), 1, styleCount),
			Updated:  fmtTime(r.Updated) + " (" + ago(now.Sub(r.Updated)) + ")",
		})
	}
	return pg
}

// clusterSummary says in one sentence how the cluster is doing: how many replicas,
// which are behind or silent, and which one runs the scheduled jobs. The tone is bad
// when a replica does not report or no replica runs the scheduled jobs, mixed when one
// is catching up, good otherwise.
func clusterSummary(cl wire.Cluster, now time.Time) (string, string) {
	n := len(cl.Replicas)
	count := fmt.Sprintf("%d replicas", n)
	if n == 1 {
		count = "1 replica"
	}
	var problems []string
	tone := "good"
	for _, r := range cl.Replicas {
		switch r.State {
		case wire.ReplicaNotReporting:
			problems = append(problems, fmt.Sprintf("%s has not reported for %s", r.Node, span(now.Sub(r.Updated))))
			tone = "bad"
		case wire.ReplicaCatchingUp:
			if r.Lag > 0 {
				problems = append(problems, fmt.Sprintf("%s is %s %s behind", r.Node, numtext.Group(float64(r.Lag), 0), plural(r.Lag, "command", "commands")))
			} else {
				problems = append(problems, r.Node+" is catching up")
			}
			if tone == "good" {
				tone = "mixed"
			}
		}
	}
	var b strings.Builder
	switch {
	case n == 0:
		b.WriteString("No replica has reported yet")
	case len(problems) == 0 && n == 1:
		b.WriteString("1 replica, caught up")
	case len(problems) == 0:
		b.WriteString(count + ", all caught up")
	default:
		b.WriteString(count + ": " + strings.Join(problems, ", "))
	}
	if cl.Leader != "" {
		b.WriteString("; " + cl.Leader + " runs the scheduled jobs")
	} else {
		b.WriteString("; no replica runs the scheduled jobs right now (the lease passes to another within about two lease TTLs)")
		tone = "bad"
	}
	return b.String(), tone
}

func plural(n uint64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// span writes a duration as "3 s", "4 min", "2 h" or "5 days", rounded down.
func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(max(d, 0)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}

// ago writes how long ago something happened: "just now" within a second, else
// "3 s ago" (span).
func ago(d time.Duration) string {
	if d < time.Second {
		return "just now"
	}
	return span(d) + " ago"
}
