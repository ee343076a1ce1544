package driver

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/experiments"
	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/internal/demo"
	"github.com/nextbest/nextbest/internal/numtext"
	"github.com/nextbest/nextbest/sim"
)

// Options configure a simulation (nextbest simulate's flags).
type Options struct {
	Addr       string        // the running server: host:port or URL; several, comma-separated, are used in turn
	Key        string        // an admin key; none with insecure_local
	Customers  int           // customers in the world
	Days       int           // simulated days
	Seed       uint64        // the world's seed: the same seed gives the same world
	World      string        // YAML file overriding the world's parameters; "": sim/world.yaml
	Workers    int           // concurrent HTTP requests for profiles and inbound decisions
	Experiment string        // experiment id; "": simulation-SEED
	Progress   int           // a progress line every N simulated days; 0: about 30 a run
	Wait       time.Duration // wait up to this long for the server to be ready
	Check      bool          // only check that a manual-clock server answers
}

// DefaultOptions returns nextbest simulate's defaults.
func DefaultOptions() Options {
	return Options{Addr: "127.0.0.1:8090", Customers: 20000, Days: 90, Seed: 1, Workers: 8}
}

// Simulate checks the options, waits for the server if asked, and runs the simulation:
// with o.Check it only says whether a manual-clock server answers (Client.Check);
// otherwise it prints the report to stdout and progress to stderr.
func Simulate(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	if o.Customers < 1 || o.Days < 1 || o.Workers < 1 {
		return errors.New("simulate: --customers, --days and --workers must be at least 1")
	}
	if o.Experiment == "" {
		o.Experiment = "simulation-" + strconv.FormatUint(o.Seed, 10)
	}
	if o.Progress <= 0 {
		o.Progress = max(1, (o.Days+29)/30)
	}
	c := NewClient(o.Addr, o.Key, o.Workers, stderr)
	if o.Wait > 0 {
		if err := c.WaitReady(ctx, o.Wait); err != nil {
			return err
		}
	}
	if o.Check {
		return c.Check(ctx, stdout)
	}
	res, err := Run(ctx, o, c, stderr)
	if err != nil {
		return err
	}
	WriteReport(stdout, res)
	return nil
}

// Client talks to the server like a client system: client/ over keep-alive
// connections, waiting out the 429s of a rate-limited key, counting the requests it sends.
type Client struct {
	*client.Client
	count *simCounter
}

func NewClient(addr, key string, workers int, stderr io.Writer) *Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        workers + 4,
		MaxIdleConnsPerHost: workers + 4,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	var next http.RoundTripper = tr
	if hosts := client.Hosts(addr); len(hosts) > 1 {
		// The replicas of a cluster, in turn, each request reading what the previous ones wrote.
		next, addr = client.RoundRobin(tr, hosts), hosts[0]
	}
	count := &simCounter{next: next, stderr: stderr}
	c := client.New(addr, client.WithKey(key), client.WithUserAgent("nextbest simulate"),
		client.WithHTTPClient(&http.Client{Transport: count}), client.WithRateLimitRetries(100))
	return &Client{Client: c, count: count}
}

// simCounter counts the requests sent (a resend after a 429 too) and says once that the
// server rate-limits the key.
type simCounter struct {
	next     http.RoundTripper
	stderr   io.Writer
	requests atomic.Int64
	limited  atomic.Bool
}

// RoundTrip sends req with the transport it wraps.
func (c *simCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	resp, err := c.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests && !c.limited.Swap(true) {
		fmt.Fprintln(c.stderr, "note: the server rate-limits this key (429); the simulation slows down to its limit. Keyless access (insecure_local, as in cmd/nextbest/demo.yaml) is not limited.")
	}
	return resp, err
}

// errNotManual explains how to start a server the simulator can drive.
var errNotManual = errors.New(`the server's clock follows the system time, so the simulator cannot run days in seconds.
Start a simulation server with a manual clock, for example:

    nextbest serve --config cmd/nextbest/demo.yaml

(or set clock: manual in your config; docs/simulation.md), then run nextbest simulate again`)

// WaitReady polls /readyz until it answers 200 or the time is up.
func (c *Client) WaitReady(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		_, err := c.Readyz(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			var ce *client.Error
			if errors.As(err, &ce) {
				return fmt.Errorf("the server at %s is not ready after %s (GET /readyz: %d)", c.BaseURL(), wait, ce.Status)
			}
			return fmt.Errorf("no nextbest server ready at %s after %s: %w", c.BaseURL(), wait, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Check says on stdout, in one word, what answers at the address: "ready" (a nextbest with
// a manual clock), "none" (nothing listens), "system-clock" (a nextbest the simulator
// cannot drive) or "other" (something else); details go to stderr. make demo reads it.
func (c *Client) Check(ctx context.Context, stdout io.Writer) error {
	say := func(word, detail string) error {
		fmt.Fprintln(stdout, word)
		if detail != "" {
			fmt.Fprintln(c.count.stderr, detail)
		}
		return nil
	}
	base := c.BaseURL()
	// Any answer, whatever its status, means something listens.
	if _, err := c.Readyz(ctx); err != nil {
		var ce *client.Error
		var op *net.OpError
		switch {
		case errors.As(err, &ce):
		case errors.As(err, &op) && op.Op == "dial":
			return say("none", "nothing answers at "+base)
		default:
			return say("other", fmt.Sprintf("%s: %v", base, err))
		}
	}
	ck, err := c.Clock(ctx)
	if err != nil || (ck.Mode != "manual" && ck.Mode != "system") {
		return say("other", fmt.Sprintf("something answers at %s, but not a nextbest server this simulator can use (GET /v1/clock: %v)", base, err))
	}
	if ck.Mode != "manual" {
		return say("system-clock", fmt.Sprintf("a nextbest server answers at %s, but %v", base, errNotManual))
	}
	return say("ready", "")
}

// parallel runs fn(i) for i in [0, n) on k goroutines and returns the first error.
func simParallel(ctx context.Context, k, n int, fn func(i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(k, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}

// simRun is one simulation: the world, the server, and what was counted.
type simRun struct {
	o                Options
	c                *Client
	p                *sim.Params
	w                *sim.World
	log              io.Writer
	expID            string
	t0               time.Time
	notes            []string
	began            time.Time
	holdoutContacted int

	// counted as the simulation goes (shown in the progress lines)
	decides, offers, feedbacks, outcomes, puts atomic.Int64
	phase                                      [simPhases]time.Duration // wall time per phase
	jobTime                                    map[string]time.Duration // clock time by the heaviest job it ran
	armSeen                                    sync.Map                 // customer -> arm, as the service said
	armConflicts                               atomic.Int64
}

// Phases of the simulation whose wall time is measured.
const (
	phaseProfiles = iota
	phaseDecide
	phaseFeedback
	phaseOutcomes
	phaseClock
	phaseFeed
	phaseWorld
	simPhases
)

var simPhaseNames = [simPhases]string{"profile PUTs", "inbound decisions", "feedback", "outcomes", "clock (service jobs)", "outbound feed", "world"}

// timed adds the wall time since t to phase i.
func (r *simRun) timed(i int, t time.Time) { r.phase[i] += time.Since(t) }

// clockJobs adds the time an advance took to the heaviest kind of job it ran (outbound
// pass, campaign run, response timeouts, snapshots, GC), for the timing line.
func (r *simRun) clockJobs(ran []string, d time.Duration) {
	kind := "none"
	for _, k := range []string{"outbound", "campaign", "timeouts", "snapshots", "gc"} {
		for _, j := range ran {
			if strings.HasPrefix(j, k+" ") {
				kind = k
				break
			}
		}
		if kind != "none" {
			break
		}
	}
	if r.jobTime == nil {
		r.jobTime = map[string]time.Duration{}
	}
	r.jobTime[kind] += d
}

// Result is what the report prints.
type Result struct {
	o        Options
	expID    string
	exp      engine.Experiment
	report   *engine.Report
	truth    sim.Truth
	start    time.Time
	end      time.Time
	notes    []string
	checks   []string
	elapsed  time.Duration
	requests int64
}

func Run(ctx context.Context, o Options, c *Client, log io.Writer) (*Result, error) {
	p := sim.DefaultParams()
	if o.World != "" {
		var err error
		if p, err = sim.LoadParams(o.World); err != nil {
			return nil, err
		}
	}
	r := &simRun{o: o, c: c, p: p, log: log, began: time.Now()}
	defer c.CloseIdleConnections()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	for d := 0; d < o.Days; d++ {
		if err := r.day(ctx, d); err != nil {
			return nil, fmt.Errorf("day %d: %w", d, err)
		}
		if (d+1)%o.Progress == 0 || d == o.Days-1 {
			if err := r.progressLine(ctx, d); err != nil {
				return nil, err
			}
		}
	}
	return r.finish(ctx)
}

// setup checks the server and installs the scenario: the schema, the catalog's rule for
// gone customers, the legacy campaigns, the profiles and the experiment; then it moves the
// clock to the first midnight.
func (r *simRun) setup(ctx context.Context) error {
	c, p := r.c, r.p
	ck, err := c.Clock(ctx)
	if errors.Is(err, engine.ErrUnauthenticated) {
		return fmt.Errorf("%w\nThe simulator needs an admin key: --key or $NEXTBEST_KEY (or a server with insecure_local: true)", err)
	} else if err != nil {
		return fmt.Errorf("no nextbest server at %s? %w", c.BaseURL(), err)
	}
	if ck.Mode != "manual" {
		return errNotManual
	}
	fmt.Fprintf(r.log, "simulate: server %s, clock %s (manual)\n", c.BaseURL(), ck.Now.Format(time.RFC3339))

	// The catalog: the demo catalog's actions, with the rule that gone customers get nothing.
	acts, err := c.Actions(ctx)
	if err != nil {
		return err
	}
	byID := map[string]engine.Action{}
	for _, a := range acts {
		byID[string(a.ID)] = a
	}
	active := p.Scenario.Active
	catalog, err := demo.Parse()
	if err != nil {
		return err
	}
	original := map[string]string{}
	for _, a := range catalog.Actions {
		original[a.ID] = a.Eligibility
	}
	for _, id := range p.Actions() {
		a, ok := byID[id]
		if !ok {
			return fmt.Errorf("the server's catalog has no action %q: the simulation uses the demo catalog (docs/demo.md); start the server on an empty store with the demo catalog (demo: true, as in cmd/nextbest/demo.yaml)", id)
		}
		if !a.Enabled {
			r.note("action %s is disabled on the server; neither policy can offer it", id)
		}
		// Eligibility: the active-customer rule, the scenario's own rule for the action if
		// any, and the demo catalog's rule.
		want := active
		for _, clause := range []string{p.Scenario.Eligibility[id], original[id]} {
			if strings.TrimSpace(clause) != "" {
				want += " && (" + clause + ")"
			}
		}
		if a.Eligibility == want {
			continue
		}
		body := wire.ActionRequestOf(a)
		body.Eligibility = want
		if _, err := c.PutAction(ctx, a.ID, body); err != nil {
			return fmt.Errorf("set the eligibility of action %s: %w", id, err)
		}
	}

	// The features schema.
	cur, err := c.Schema(ctx)
	if err != nil {
		return err
	}
	have, err := json.Marshal(cur.Schema)
	if err != nil {
		return err
	}
	want, err := json.Marshal(p.Scenario.Schema)
	if err != nil {
		return err
	}
	if !sameSchema(have, want) {
		if cur.Mode == "schema" {
			r.note("the server had another features schema; the simulation replaced it, which restarts every model from its prior")
		}
		if _, err := c.PutSchema(ctx, want); err != nil {
			return fmt.Errorf("put the features schema: %w", err)
		}
	}

	// Experiments: stop an earlier simulation's; refuse to disturb anyone else's.
	xs, err := c.Experiments(ctx)
	if err != nil {
		return err
	}
	taken := map[string]bool{}
	earlier := 0 // customers of earlier simulations on this server
	for _, x := range xs {
		taken[string(x.ID)] = true
		ours := strings.HasPrefix(string(x.ID), "simulation-")
		if ours {
			if m := simCustomersRe.FindStringSubmatch(x.Description); m != nil {
				n, _ := strconv.Atoi(m[1])
				earlier = max(earlier, n)
			}
		}
		if x.State != engine.Running {
			continue
		}
		if !ours {
			return fmt.Errorf("experiment %q is running on this server; a simulation runs its own. Stop it first (PUT /v1/experiments/%s with \"state\": \"stopped\") or use a fresh server", x.ID, x.ID)
		}
		body := wire.ExperimentRequest{Description: x.Description, Arms: x.Arms, Control: x.Control, Salt: x.Salt, Population: x.Population, Metrics: x.Metrics, State: engine.Stopped}
		if _, err := c.PutExperiment(ctx, x.ID, body); err != nil {
			return fmt.Errorf("stop the earlier simulation's experiment %s: %w", x.ID, err)
		}
	}
	if earlier > 0 {
		r.note("this server ran an earlier simulation: its models have learnt already, so this run is not comparable with a run on a fresh server, and the same seed will not give the same report. For a clean run, stop the server and start a fresh one (make demo does when none is running)")
	}
	r.expID = r.o.Experiment
	for n := 2; taken[r.expID]; n++ {
		r.expID = fmt.Sprintf("%s-%d", r.o.Experiment, n)
	}

	// The legacy campaigns.
	cs, err := c.Campaigns(ctx)
	if err != nil {
		return err
	}
	mine := map[string]bool{}
	for _, cp := range p.Scenario.Campaigns {
		body := map[string]any{}
		for k, v := range cp {
			body[k] = v
		}
		id, _ := body["id"].(string)
		mine[id] = true
		seg, _ := body["segment"].(string)
		body["segment"] = active + " && (" + seg + ")"
		body["enabled"] = true
		req, err := asWire[wire.CampaignRequest](body)
		if err != nil {
			return fmt.Errorf("legacy campaign %s: %w", id, err)
		}
		if _, err := c.PutCampaign(ctx, engine.CampaignID(id), req); err != nil {
			return fmt.Errorf("put legacy campaign %s: %w", id, err)
		}
	}
	for _, cp := range cs {
		if cp.Enabled && !mine[string(cp.ID)] && cp.ID != "simulation-enrolment" {
			r.note("campaign %s on the server is not the simulation's and runs for the legacy arm too", cp.ID)
		}
	}

	// Day 0 starts at the next midnight (UTC) of the server's clock.
	r.t0 = ck.Now.UTC().Truncate(24 * time.Hour)
	if r.t0.Before(ck.Now) {
		r.t0 = r.t0.Add(24 * time.Hour)
	}
	if r.w, err = sim.New(p, r.o.Customers, r.o.Days, r.o.Seed, r.t0); err != nil {
		return err
	}
	// The net value's truth prices a departure as the service's churn objective does.
	switch obj, err := c.Objective(ctx, "churn"); {
	case err == nil:
		value, err := churnValue(obj.Value)
		if err != nil {
			return fmt.Errorf("the service's churn objective: %w", err)
		}
		r.w.SetChurnValue(value)
	default:
		if !errors.Is(err, engine.ErrNotFound) {
			return err
		}
		r.note("the service has no churn objective: departures count 0 in the net value")
	}

	// The CRM load: every profile, and the customers of a bigger earlier world closed.
	fmt.Fprintf(r.log, "simulate: loading %d customer profiles\n", r.o.Customers)
	ups := r.w.Profiles()
	for i := range ups {
		ups[i].Attributes["status"] = "active"
	}
	for i := r.o.Customers; i < earlier; i++ {
		ups = append(ups, sim.ProfileUpdate{Customer: fmt.Sprintf("c%06d", i), Attributes: map[string]any{"status": "closed"}})
	}
	if err := r.putProfiles(ctx, ups); err != nil {
		return err
	}

	// The experiment, enrolling from day 0 on.
	arms, err := asWire[[]experiments.Arm](p.Scenario.Experiment.Arms)
	if err != nil {
		return fmt.Errorf("the scenario's experiment arms: %w", err)
	}
	exp := wire.ExperimentRequest{
		Description: fmt.Sprintf("nextbest simulate: %d customers, %d days, seed %d", r.o.Customers, r.o.Days, r.o.Seed),
		Arms:        arms, Control: p.Scenario.Experiment.Control, Salt: r.expID, Population: active,
		Start: &r.t0, State: engine.Running,
	}
	if _, err := c.PutExperiment(ctx, engine.ExperimentID(r.expID), exp); err != nil {
		return fmt.Errorf("create the experiment: %w", err)
	}
	if r.t0.After(ck.Now) {
		if _, err := c.AdvanceClock(ctx, wire.ClockRequest{Time: &r.t0}); err != nil {
			return err
		}
	}
	// Go-live: enrol every customer now, so that intention to treat counts everyone from
	// day 0 whatever the day's first scheduled run. A campaign whose segment is false,
	// run once, assigns every customer it looks at and contacts nobody.
	enrol := wire.CampaignRequest{Description: "nextbest simulate: enrols every customer in the experiment at go-live; contacts nobody",
		Segment: "false", Action: engine.ActionID(p.Actions()[0]), Channel: "email", Priority: new(0.0), Enabled: new(false)}
	if _, err := c.PutCampaign(ctx, "simulation-enrolment", enrol); err != nil {
		return fmt.Errorf("put the enrolment run: %w", err)
	}
	run, err := c.RunCampaign(ctx, "simulation-enrolment")
	if err != nil {
		return fmt.Errorf("enrol the customers: %w", err)
	}
	if run.Contacted != 0 || run.Errors != 0 {
		return fmt.Errorf("the enrolment run contacted %d customers and failed on %d; it should do neither", run.Contacted, run.Errors)
	}
	fmt.Fprintf(r.log, "simulate: experiment %s, %d customers, %d days from %s, seed %d\n", r.expID, r.o.Customers, r.o.Days, r.t0.Format(time.DateOnly), r.o.Seed)
	return nil
}

// asWire converts part of a scenario, free-form YAML that names the API's JSON fields
// (a campaign, an experiment's arms), to the API's type T; a field T does not know is an
// error, as the server would answer.
func asWire[T any](fields any) (T, error) {
	var v T
	raw, err := json.Marshal(fields)
	if err != nil {
		return v, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return v, dec.Decode(&v)
}

// churnValue is a churn objective's value as a function of a profile: the constant, or the
// expression evaluated by expr-lang (the service's rule language is a subset of it).
func churnValue(m engine.Money) (func(map[string]any) float64, error) {
	if m.Expr == "" {
		return func(map[string]any) float64 { return m.Const }, nil
	}
	prog, err := expr.Compile(m.Expr, expr.AsFloat64())
	if err != nil {
		return nil, fmt.Errorf("value %q: %w", m.Expr, err)
	}
	return func(profile map[string]any) float64 {
		v, err := expr.Run(prog, map[string]any{"profile": profile, "context": map[string]any{}, "channel": "", "customer_id": ""})
		if err != nil {
			return 0
		}
		f, _ := v.(float64)
		return f
	}, nil
}

// simCustomersRe reads the world size from an earlier simulation's experiment description.
var simCustomersRe = regexp.MustCompile(`(\d+) customers`)

// sameSchema compares two schemas as features.Schema values.
func sameSchema(a, b []byte) bool {
	var x, y features.Schema
	if len(bytes.TrimSpace(a)) == 0 || string(bytes.TrimSpace(a)) == "null" {
		return false
	}
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func (r *simRun) note(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	r.notes = append(r.notes, s)
	fmt.Fprintln(r.log, "note: "+s)
}

// putProfiles merges profile updates per customer (later ones win) and PUTs them
// concurrently: profile writes do not depend on each other's order.
func (r *simRun) putProfiles(ctx context.Context, ups []sim.ProfileUpdate) error {
	var order []string
	merged := map[string]map[string]any{}
	for _, u := range ups {
		m, ok := merged[u.Customer]
		if !ok {
			m = map[string]any{}
			merged[u.Customer] = m
			order = append(order, u.Customer)
		}
		for k, v := range u.Attributes {
			m[k] = v
		}
	}
	r.puts.Add(int64(len(order)))
	defer r.timed(phaseProfiles, time.Now())
	return simParallel(ctx, r.o.Workers, len(order), func(i int) error {
		id := order[i]
		_, err := r.c.PutCustomer(ctx, engine.CustomerID(id), merged[id])
		return err
	})
}

// day runs one simulated day, hour by hour.
func (r *simRun) day(ctx context.Context, d int) error {
	t := time.Now()
	ups, err := r.w.StartDay(d)
	r.timed(phaseWorld, t)
	if err != nil {
		return err
	}
	if err := r.putProfiles(ctx, ups); err != nil {
		return err
	}
	// Hour by hour while customers are awake; the night in one step (the service's jobs
	// still run at their times: the clock runs every job due on the way).
	midnight := r.t0.AddDate(0, 0, d)
	in := &r.p.Interactions
	bounds := []int{0}
	for h := max(in.FirstHour, 1); h <= min(in.LastHour, 23); h++ {
		bounds = append(bounds, h)
	}
	bounds = append(bounds, 24)
	for i := 1; i < len(bounds); i++ {
		from := midnight.Add(time.Duration(bounds[i-1]) * time.Hour)
		to := midnight.Add(time.Duration(bounds[i]) * time.Hour)
		if err := r.hour(ctx, from, to); err != nil {
			return err
		}
	}
	return nil
}

// hour runs [from, to), an hour or the night: the customers' interactions are decided concurrently (customers
// are independent; one customer's interactions go in order); then responses, in time
// order, one at a time, because the order of learning matters; then outcomes and profile
// changes; then the clock moves to the end of the hour, running the service's scheduled
// jobs, and the contacts they made are read from the outbound feed.
func (r *simRun) hour(ctx context.Context, from, to time.Time) error {
	t := time.Now()
	ins, outs, ups := r.w.Hour(from, to)
	r.timed(phaseWorld, t)

	// Inbound: one worker per customer at a time.
	var groups [][]int
	at := map[string]int{}
	for i := range ins {
		g, ok := at[ins[i].Customer]
		if !ok {
			g = len(groups)
			at[ins[i].Customer] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	reactions := make([]sim.Reaction, len(ins))
	t = time.Now()
	err := simParallel(ctx, r.o.Workers, len(groups), func(g int) error {
		for _, i := range groups[g] {
			in := &ins[i]
			if !r.w.Active(in) {
				continue // left earlier in this hour
			}
			dec, err := r.c.Decide(ctx, wire.DecideRequest{CustomerID: engine.CustomerID(in.Customer), Channel: in.Channel, Context: in.Context, Time: &in.Time})
			if err != nil {
				return err
			}
			r.decides.Add(1)
			r.sawArm(in.Customer, dec.Arm)
			off := sim.Offer{DecisionID: string(dec.DecisionID), Customer: in.Customer, Arm: dec.Arm, Channel: in.Channel, Time: in.Time}
			if !dec.NoAction {
				for _, a := range dec.Actions {
					off.Actions = append(off.Actions, string(a.ID))
				}
				if len(dec.Actions) > 0 {
					off.Value, off.ContactCost = dec.Actions[0].Value, dec.Actions[0].ContactCost
				}
				r.offers.Add(1)
			}
			reactions[i] = r.w.Respond(in, off)
		}
		return nil
	})
	r.timed(phaseDecide, t)
	if err != nil {
		return err
	}
	var fbs []sim.Feedback
	for _, re := range reactions {
		if re.Feedback != nil {
			fbs = append(fbs, *re.Feedback)
		}
		outs = append(outs, re.Outcomes...)
		if re.Update != nil {
			ups = append(ups, *re.Update)
		}
	}
	due, dueOuts, dueUps := r.w.Due(to)
	fbs = append(fbs, due...)
	outs = append(outs, dueOuts...)
	ups = append(ups, dueUps...)

	// Responses, in time order within each action: each action has its own model, and a
	// model's state depends on the order of its own events only, so the actions' streams
	// may go concurrently (the counts the report adds up do not depend on order).
	t = time.Now()
	slices.SortStableFunc(fbs, func(a, b sim.Feedback) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Customer, b.Customer), cmp.Compare(a.DecisionID, b.DecisionID))
	})
	var streams [][]sim.Feedback
	stream := map[string]int{}
	for _, fb := range fbs {
		i, ok := stream[fb.Action]
		if !ok {
			i = len(streams)
			stream[fb.Action] = i
			streams = append(streams, nil)
		}
		streams[i] = append(streams[i], fb)
	}
	err = simParallel(ctx, r.o.Workers, len(streams), func(i int) error {
		for _, fb := range streams[i] {
			body := wire.FeedbackRequest{DecisionID: engine.DecisionID(fb.DecisionID), ActionID: engine.ActionID(fb.Action), Outcome: engine.Outcome(fb.Outcome), Time: &fb.Time}
			if _, err := r.c.Feedback(ctx, body); err != nil {
				return err
			}
			r.feedbacks.Add(1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.timed(phaseFeedback, t)
	t = time.Now()

	// Business outcomes, in batches.
	slices.SortStableFunc(outs, func(a, b sim.Outcome) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Customer, b.Customer), cmp.Compare(a.Type, b.Type), cmp.Compare(a.ID, b.ID))
	})
	for i := range outs {
		outs[i].ID = r.expID + ":" + outs[i].ID // ids are unique per run: a second run on the same server is not a duplicate
	}
	batch := make([]wire.Outcome, 0, min(len(outs), 1000))
	for len(outs) > 0 {
		n := min(len(outs), 1000)
		batch = batch[:0]
		for i := range outs[:n] {
			o := &outs[i]
			batch = append(batch, wire.Outcome{ID: o.ID, CustomerID: engine.CustomerID(o.Customer), Type: o.Type, Value: &o.Value, Time: &o.Time})
		}
		if _, err := r.c.RecordOutcomes(ctx, batch); err != nil {
			return err
		}
		r.outcomes.Add(int64(n))
		outs = outs[n:]
	}
	r.timed(phaseOutcomes, t)
	if err := r.putProfiles(ctx, ups); err != nil {
		return err
	}

	// The clock: the service's jobs run; read what they sent.
	t = time.Now()
	ck, err := r.c.AdvanceClock(ctx, wire.ClockRequest{Time: &to})
	if err != nil {
		return err
	}
	r.timed(phaseClock, t)
	r.clockJobs(ck.Ran, time.Since(t))
	for _, job := range ck.Ran {
		if strings.HasPrefix(job, "outbound ") || strings.HasPrefix(job, "campaign ") {
			return r.readFeed(ctx, from, to)
		}
	}
	return nil
}

// readFeed reads the contacts made in (from, to] from the outbound feed, as a sending
// system polls it, and delivers them to the customers.
func (r *simRun) readFeed(ctx context.Context, from, to time.Time) error {
	defer r.timed(phaseFeed, time.Now())
	var items []*wire.OutboundItem
	for _, ch := range []string{"email", "sms"} {
		err := r.c.Outbound(ctx, client.OutboundQuery{Channel: ch, Since: from.Add(time.Nanosecond)}, func(it *wire.OutboundItem) error {
			if !it.Time.After(to) {
				items = append(items, it)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("outbound feed: %w", err)
		}
	}
	slices.SortStableFunc(items, func(a, b *wire.OutboundItem) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.CustomerID, b.CustomerID), cmp.Compare(a.DecisionID, b.DecisionID))
	})
	for _, it := range items {
		r.sawArm(string(it.CustomerID), it.Arm)
		if it.Arm == "holdout" {
			r.holdoutContacted++
		}
		actions := make([]string, len(it.Actions))
		for i, a := range it.Actions {
			actions[i] = string(a)
		}
		r.w.Contacted(sim.Offer{DecisionID: string(it.DecisionID), Customer: string(it.CustomerID), Arm: it.Arm, Actions: actions, Channel: it.Channel, Time: it.Time,
			Value: it.Value, ContactCost: it.ContactCost})
	}
	return nil
}

// sawArm records the arm the service gave a customer, and counts a customer who changed arm.
func (r *simRun) sawArm(cust, arm string) {
	if prev, loaded := r.armSeen.LoadOrStore(cust, arm); loaded && prev.(string) != arm {
		r.armConflicts.Add(1)
	}
}

// progressLine prints the service's running totals.
func (r *simRun) progressLine(ctx context.Context, d int) error {
	rep, err := r.report(ctx)
	if err != nil {
		return err
	}
	var dec, con, resp, churn int64
	rate := map[string]string{}
	for _, a := range rep.Arms {
		dec += a.Decisions
		con += a.Contacts
		resp += a.Responses
		churn += a.Churned
		if a.Contacts > 0 {
			rate[a.Name] = fmt.Sprintf("%.1f%%", 100*float64(a.Responses)/float64(a.Contacts))
		}
	}
	fmt.Fprintf(r.log, "day %3d/%d %s  decisions %9s  contacts %8s  responses %7s  churned %6s  response rate nba %s legacy %s  %s\n",
		d+1, r.o.Days, r.t0.AddDate(0, 0, d).Format(time.DateOnly), numtext.Group(float64(dec), 0), numtext.Group(float64(con), 0), numtext.Group(float64(resp), 0), numtext.Group(float64(churn), 0),
		cmp.Or(rate["nba"], "-"), cmp.Or(rate["legacy"], "-"), time.Since(r.began).Round(time.Second))
	return nil
}

func (r *simRun) report(ctx context.Context) (*engine.Report, error) {
	return r.c.Report(ctx, engine.ExperimentID(r.expID))
}

// finish reads the service's report and computes the ground truth, with the arms the
// service's assignment hash gives (checked against every arm the service reported).
func (r *simRun) finish(ctx context.Context) (*Result, error) {
	rep, err := r.report(ctx)
	if err != nil {
		return nil, err
	}
	exp, err := r.c.Experiment(ctx, engine.ExperimentID(r.expID))
	if err != nil {
		return nil, err
	}
	armOf := func(cust string) string {
		a, _ := experiments.Assign(exp.Ranges, experiments.Bucket(exp.Salt, cust))
		return a
	}
	res := &Result{o: r.o, expID: r.expID, exp: exp, report: rep, truth: r.w.Truth(armOf), start: r.t0, end: r.w.End(),
		notes: r.notes, elapsed: time.Since(r.began), requests: r.c.count.requests.Load()}
	mismatch := 0
	r.armSeen.Range(func(k, v any) bool {
		if armOf(k.(string)) != v.(string) {
			mismatch++
		}
		return true
	})
	res.checks = r.checks(rep, res.truth, mismatch)
	var parts []string
	for i, d := range r.phase {
		parts = append(parts, fmt.Sprintf("%s %s", simPhaseNames[i], d.Round(100*time.Millisecond)))
	}
	fmt.Fprintf(r.log, "simulate: done in %s, %s HTTP requests (%s decisions, %s offers answered, %s responses, %s outcomes, %s profile writes); wall time: %s\n",
		res.elapsed.Round(time.Second), numtext.Group(float64(res.requests), 0), numtext.Group(float64(r.decides.Load()), 0), numtext.Group(float64(r.offers.Load()), 0), numtext.Group(float64(r.feedbacks.Load()), 0),
		numtext.Group(float64(r.outcomes.Load()), 0), numtext.Group(float64(r.puts.Load()), 0), strings.Join(parts, ", "))
	parts = parts[:0]
	for _, k := range []string{"outbound", "campaign", "timeouts", "snapshots", "gc", "none"} {
		parts = append(parts, fmt.Sprintf("%s %s", k, r.jobTime[k].Round(100*time.Millisecond)))
	}
	fmt.Fprintf(r.log, "simulate: clock advances by their heaviest job: %s\n", strings.Join(parts, ", "))
	return res, nil
}

// checks compares the service's counts with what the simulator sent and saw.
func (r *simRun) checks(rep *engine.Report, tr sim.Truth, armMismatch int) []string {
	var bad []string
	if armMismatch > 0 || r.armConflicts.Load() > 0 {
		bad = append(bad, fmt.Sprintf("%d customers were in another arm than the assignment hash says, %d changed arm", armMismatch, r.armConflicts.Load()))
	}
	if r.holdoutContacted > 0 {
		bad = append(bad, fmt.Sprintf("%d outbound contacts went to holdout customers", r.holdoutContacted))
	}
	for _, a := range rep.Arms {
		t, ok := tr.Arm(a.Name)
		if !ok {
			if a.Assigned > 0 {
				bad = append(bad, fmt.Sprintf("arm %s: the service assigned %d customers the simulator does not know", a.Name, a.Assigned))
			}
			continue
		}
		for _, x := range []struct {
			what          string
			service, sent float64
		}{
			{"assigned customers", float64(a.Assigned), float64(t.Customers)},
			{"contacts", float64(a.Contacts), float64(t.Contacts)},
			{"responses", float64(a.Responses), float64(t.Responses)},
			{"churned", float64(a.Churned), float64(t.Churned)},
			{"discount", a.Discount, t.Discount},
			{"NPS respondents", float64(a.NPSAnswers), float64(t.NPSResponses)},
		} {
			if math.Abs(x.service-x.sent) > 0.005 {
				bad = append(bad, fmt.Sprintf("arm %s: the service counts %s %s, the simulator %s", a.Name, x.what, fmtNum(x.service), fmtNum(x.sent)))
			}
		}
	}
	return bad
}

func fmtNum(x float64) string {
	if x == math.Trunc(x) {
		return numtext.Group(x, 0)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// simMetric describes one of the four uplift metrics for the report.
type simMetric struct {
	name   string // the service's metric name
	short  string // "response rate"
	title  string
	points bool // NPS: absolute points; else relative
	money  bool // net value: absolute money a customer; else relative
	format func(float64) string
	truth  func(sim.ArmTruth) float64
}

var simMetrics = []simMetric{
	{name: engine.MetricResponseRate, short: "response rate", title: "Response rate: offers taken per contact (higher is better)",
		format: func(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }, truth: func(a sim.ArmTruth) float64 { return a.ResponseRate }},
	{name: engine.MetricChurn, short: "churn", title: "Churn: share of assigned customers who left (lower is better)",
		format: func(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }, truth: func(a sim.ArmTruth) float64 { return a.Churn }},
	{name: engine.MetricDiscount, short: "retention discounts", title: "Retention discounts: money granted per assigned customer (lower is better)",
		format: func(x float64) string { return fmt.Sprintf("EUR %.2f", x) }, truth: func(a sim.ArmTruth) float64 { return a.DiscountPer }},
	{name: engine.MetricNPS, short: "NPS", title: "NPS: Net Promoter Score of survey respondents (higher is better)", points: true,
		format: func(x float64) string { return fmt.Sprintf("%+.1f", x) }, truth: func(a sim.ArmTruth) float64 { return a.NPS }},
	{name: engine.MetricNetValue, short: "net value", title: "Net value: responses' value and departures' cost, less discounts and contact costs, per assigned customer (higher is better)",
		money:  true,
		format: func(x float64) string { return fmt.Sprintf("EUR %.2f", x) }, truth: func(a sim.ArmTruth) float64 { return a.NetValue }},
}

// WriteReport prints the result for a reader who has not read the code.
func WriteReport(w io.Writer, res *Result) {
	rep, tr := res.report, res.truth
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("nextbest simulate: %s customers, %d days (%s to %s), seed %d\n", numtext.Group(float64(res.o.Customers), 0), res.o.Days,
		res.start.Format(time.DateOnly), res.end.Add(-time.Second).Format(time.DateOnly), res.o.Seed)
	var armDesc []string
	for _, a := range res.exp.Arms {
		d := fmt.Sprintf("%s %.0f%%", a.Name, 100*a.Weight)
		switch {
		case a.Name == res.exp.Control:
			d += " (legacy campaigns, the control)"
		case a.Policy == experiments.PolicyNBA:
			d += " (next-best-action)"
		case a.Policy == experiments.PolicyNone:
			d += " (no contact at all)"
		}
		armDesc = append(armDesc, d)
	}
	p("Experiment %s: %s.\n\n", res.expID, strings.Join(armDesc, ", "))

	arms := make([]string, len(rep.Arms))
	for i, a := range rep.Arms {
		arms[i] = a.Name
	}
	row := func(label string, cells []string) {
		p("  %-34s", label)
		for _, c := range cells {
			p("%14s", c)
		}
		p("\n")
	}
	p("What the service counted\n")
	row("", arms)
	counts := []struct {
		label string
		f     func(engine.ArmTotals) string
	}{
		{"customers assigned", func(a engine.ArmTotals) string { return numtext.Group(float64(a.Assigned), 0) }},
		{"decisions (inbound and outbound)", func(a engine.ArmTotals) string { return numtext.Group(float64(a.Decisions), 0) }},
		{"contacts (offers made)", func(a engine.ArmTotals) string { return numtext.Group(float64(a.Contacts), 0) }},
		{"responses (offers taken)", func(a engine.ArmTotals) string { return numtext.Group(float64(a.Responses), 0) }},
		{"customers who left", func(a engine.ArmTotals) string { return numtext.Group(float64(a.Churned), 0) }},
		{"retention discounts granted (EUR)", func(a engine.ArmTotals) string { return numtext.Group(math.Round(a.Discount), 0) }},
		{"NPS respondents", func(a engine.ArmTotals) string { return numtext.Group(float64(a.NPSAnswers), 0) }},
	}
	for _, c := range counts {
		cells := make([]string, len(rep.Arms))
		for i, a := range rep.Arms {
			cells[i] = c.f(a)
		}
		row(c.label, cells)
	}
	cells := make([]string, len(rep.Arms))
	for i, a := range rep.Arms {
		t, _ := tr.Arm(a.Name)
		cells[i] = numtext.Group(float64(t.Discounted), 0)
	}
	row("customers given a discount (*)", cells)
	p("  (*) the simulator's count: the service records money, not people\n")
	if len(res.checks) == 0 {
		p("The service's counts match what the simulator sent and saw, arm by arm; no holdout customer was contacted.\n")
	} else {
		p("WARNING: the service's counts differ from what the simulator sent:\n")
		for _, c := range res.checks {
			p("  - %s\n", c)
		}
	}

	claims := simNBARows(res)
	writeSimSummary(w, claims)
	if r, ok := claims[engine.MetricNetValue]; ok {
		// The executive's bottom line, in the words the uplift page uses.
		var nba int64
		for _, a := range rep.Arms {
			if a.Name == r.cmp.Arm {
				nba = a.Assigned
			}
		}
		bl := experiments.BottomLine(experiments.NetValue{Arm: "NBA", Reference: "the legacy campaigns", Diff: r.cmp.Stats, Customers: nba, Currency: "EUR"})
		p("\nThe bottom line: %s\n", bl.String())
	}
	p("The headline, as the uplift page words it: %s\n", simHeadline(res).String())

	n := numberWord(len(res.exp.Metrics))
	p("\nThe %s uplift metrics\n", n)
	p("For each: the service's own estimate per arm beside the truth that only the simulator\n")
	p("knows (docs/simulation.md), then each comparison in the dashboards' words: conclusive\n")
	p("once its always-valid 95%% interval excludes zero. \"True\" is the simulator's ground truth.\n")
	none := map[string]bool{}
	for _, a := range res.exp.Arms {
		none[a.Name] = a.Policy == experiments.PolicyNone
	}
	for i, m := range simMetrics {
		mr, ok := simMetricResult(rep, m.name)
		if !ok {
			continue
		}
		p("\n%d. %s\n", i+1, m.title)
		row("", arms)
		svc := make([]string, len(arms))
		tru := make([]string, len(arms))
		for j, a := range arms {
			svc[j], tru[j] = "-", "-"
			for _, ma := range mr.Arms {
				if ma.Arm == a && ma.Value != nil && ma.N > 0 {
					svc[j] = m.format(*ma.Value)
				}
			}
			if t, ok := tr.Arm(a); ok && (m.name != engine.MetricResponseRate || t.Contacts > 0) && (m.name != engine.MetricNPS || t.NPSResponses > 0) {
				tru[j] = m.format(m.truth(t))
			}
		}
		row("service's estimate", svc)
		row("true value", tru)
		for _, c := range mr.Comparisons {
			if c.Stats.NTreatment == 0 || c.Stats.NControl == 0 || math.IsNaN(c.Stats.AbsLift) || none[c.Arm] {
				continue // no data, or a holdout as the treatment (the other way round is shown)
			}
			ta, okA := tr.Arm(c.Arm)
			tb, okB := tr.Arm(c.Reference)
			hasTruth := okA && okB
			p("  %s vs %s: %s\n", simArmName(c.Arm), simArmName(c.Reference), simVerdict(res.exp, mr, m, c, m.truth(ta), m.truth(tb), hasTruth))
		}
	}
	writeSimClaims(w, claims)
	if len(res.notes) > 0 {
		p("\nNotes\n")
		for _, n := range res.notes {
			p("  - %s\n", n)
		}
	}
	p("\nThe experiment stays on the server: GET /v1/experiments/%s/report, and the dashboards.\n", res.expID)
}

// simNBARows collects, per metric, the service's NBA-against-control comparison and the
// true lift (relative, or in points for NPS).
func simNBARows(res *Result) map[string]simClaimRow {
	rows := map[string]simClaimRow{}
	for _, m := range simMetrics {
		mr, ok := simMetricResult(res.report, m.name)
		if !ok {
			continue
		}
		for _, c := range mr.Comparisons {
			if c.Arm != "nba" || c.Reference != res.exp.Control || c.Stats.NTreatment == 0 || c.Stats.NControl == 0 {
				continue
			}
			row := simClaimRow{cmp: c, verdict: simVerdictOf(res.exp, mr, c)}
			ta, okA := res.truth.Arm(c.Arm)
			tb, okB := res.truth.Arm(c.Reference)
			if okA && okB {
				row.truth = m.truth(ta) - m.truth(tb)
				if !m.points && !m.money {
					row.truth /= m.truth(tb)
				}
				row.hasTruth = !math.IsNaN(row.truth) && !math.IsInf(row.truth, 0)
			}
			rows[m.name] = row
		}
	}
	return rows
}

// writeSimSummary prints the four NBA-against-legacy results in one line each.
func writeSimSummary(w io.Writer, rows map[string]simClaimRow) {
	fmt.Fprintf(w, "\nIn short: NBA against the legacy campaigns (the service's estimate; the truth in brackets)\n")
	for _, m := range simMetrics {
		r, ok := rows[m.name]
		if !ok {
			continue
		}
		st := r.cmp.Stats
		lift := st.RelLift
		if m.points || m.money {
			lift = st.AbsLift
		}
		verdict := r.verdict.Short() // the dashboards' verdict, in a few words
		say := func(x float64) string {
			switch {
			case m.points:
				return fmt.Sprintf("%+.1f points", x)
			case m.money:
				return fmt.Sprintf("%+.2f EUR a customer", x)
			case m.name == engine.MetricResponseRate || m.name == engine.MetricDiscount:
				return fmt.Sprintf("%.2f times legacy", 1+x)
			case x < 0:
				return fmt.Sprintf("%.0f%% lower", -100*x)
			}
			return fmt.Sprintf("%.0f%% higher", 100*x)
		}
		line := fmt.Sprintf("  %-22s %-20s %s", m.short, verdict+":", say(lift))
		if r.hasTruth {
			line += " (true: " + say(r.truth) + ")"
		}
		fmt.Fprintln(w, line)
	}
}

func simMetricResult(rep *engine.Report, name string) (engine.MetricResult, bool) {
	for _, m := range rep.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return engine.MetricResult{}, false
}

// simHeadline is the experiment's answer to "is NBA winning?", as the uplift page gives it.
func simHeadline(res *Result) experiments.Headline {
	x := res.exp
	d := experiments.Design{Arms: x.Arms, Control: x.Control, Stopped: x.State == engine.Stopped}
	var rs []experiments.Result
	assigned := false
	for _, a := range res.report.Arms {
		assigned = assigned || a.Assigned > 0
	}
	for _, m := range res.report.Metrics {
		for _, c := range m.Comparisons {
			rs = append(rs, simResultOf(m, c))
		}
	}
	return d.Headline(rs, assigned)
}

// simResultOf is a comparison of the report as experiments' verdicts read it.
func simResultOf(m engine.MetricResult, c engine.Comparison) experiments.Result {
	return experiments.Result{Key: experiments.Key{Metric: m.Name, Arm: c.Arm, Reference: c.Reference},
		LowerIsBetter: m.LowerIsBetter, Primary: m.Primary, Diff: c.Stats, MoreDays: c.MoreDays}
}

// simVerdictOf is the verdict the dashboards show for a comparison of the report: the
// wording and the rule (the always-valid interval) are experiments'.
func simVerdictOf(x engine.Experiment, m engine.MetricResult, c engine.Comparison) experiments.Verdict {
	d := experiments.Design{Arms: x.Arms, Control: x.Control, Stopped: x.State == engine.Stopped}
	return d.Verdict(simResultOf(m, c))
}

// simVerdict says in plain words what a comparison shows, as the dashboards say it
// (simVerdictOf), then the chance the arm is better and what the truth is. tA and tR are
// the true values of the arm and the reference, if known; the truth is given as a
// relative lift for rates and discounts, in points for NPS and in money for net value,
// and checked against the always-valid interval every verdict quotes.
func simVerdict(x engine.Experiment, mr engine.MetricResult, m simMetric, c engine.Comparison, tA, tR float64, hasTruth bool) string {
	st := c.Stats
	finite := func(xs ...float64) bool {
		for _, x := range xs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		}
		return true
	}
	s := simVerdictOf(x, mr, c).String()
	if finite(st.ChanceToBeat) {
		s += fmt.Sprintf(" Chance %s is better: %.0f%%.", simArmName(c.Arm), 100*st.ChanceToBeat)
	}
	trueAbs := tA - tR
	if !hasTruth || !finite(trueAbs, st.SeqCI.Lo, st.SeqCI.Hi) {
		return s
	}
	var truth string
	switch {
	case m.points:
		truth = fmt.Sprintf("%+.1f points", trueAbs)
	case m.money:
		truth = fmt.Sprintf("%+.2f EUR a customer", trueAbs)
	case tR != 0:
		truth = fmt.Sprintf("%+.0f%%", 100*trueAbs/tR)
	case m.name == engine.MetricDiscount:
		truth = fmt.Sprintf("%+.2f EUR a customer", trueAbs)
	default:
		truth = fmt.Sprintf("%+.2f percentage points", 100*trueAbs)
	}
	where := "inside"
	if trueAbs < st.SeqCI.Lo || trueAbs > st.SeqCI.Hi {
		where = "outside"
	}
	return s + " True: " + truth + " (" + where + " the always-valid interval)."
}

// numberWord spells small counts.
func numberWord(n int) string {
	if words := []string{"no", "one", "two", "three", "four", "five", "six", "seven"}; n < len(words) {
		return words[n]
	}
	return strconv.Itoa(n)
}

func simArmName(a string) string {
	switch a {
	case "nba":
		return "NBA"
	case "legacy":
		return "legacy"
	}
	return a
}

type simClaimRow struct {
	cmp      engine.Comparison
	verdict  experiments.Verdict // the dashboards' verdict of cmp
	truth    float64
	hasTruth bool
}

// writeSimClaims prints the claims that motivate NBA beside what the simulation shows.
func writeSimClaims(w io.Writer, rows map[string]simClaimRow) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("\nThe claims that motivate NBA, beside this simulation (NBA against legacy)\n")
	p("  %-22s %-20s %-30s %-16s %s\n", "metric", "claimed", "the service measured", "true", "the truth against the claim")
	type claim struct {
		metric, label, claimed string
		lo, hi                 float64 // claimed range, in the shown units
		show                   func(x float64) string
		conv                   func(lift float64) float64 // relative or absolute lift -> shown units
	}
	times := func(x float64) string { return fmt.Sprintf("%.2f times", x) }
	lower := func(x float64) string {
		if x < 0 {
			return fmt.Sprintf("%.0f%% higher", -100*x)
		}
		return fmt.Sprintf("%.0f%% lower", 100*x)
	}
	pts := func(x float64) string { return fmt.Sprintf("%+.1f points", x) }
	claims := []claim{
		{engine.MetricResponseRate, "response rate", "3 to 6 times", 3, 6, times, func(l float64) float64 { return 1 + l }},
		{engine.MetricChurn, "churn", "10% to 50% lower", 0.10, 0.50, lower, func(l float64) float64 { return -l }},
		{engine.MetricDiscount, "retention discounts", "20% to 35% lower", 0.20, 0.35, lower, func(l float64) float64 { return -l }},
		{engine.MetricNPS, "NPS", "+10 to +40 points", 10, 40, pts, func(l float64) float64 { return l }},
	}
	for _, c := range claims {
		r, ok := rows[c.metric]
		if !ok {
			p("  %-22s %-20s %s\n", c.label, c.claimed, "no data")
			continue
		}
		st := r.cmp.Stats
		lift := st.RelLift
		if c.metric == engine.MetricNPS {
			lift = st.AbsLift
		}
		measured := c.show(c.conv(lift))
		if !r.verdict.Conclusive {
			measured += ", not conclusive"
		}
		truth, verdict := "-", "-"
		if r.hasTruth {
			v := c.conv(r.truth)
			truth = c.show(v)
			none := 0.0
			if c.metric == engine.MetricResponseRate {
				none = 1
			}
			switch {
			case v >= c.lo:
				verdict = "meets the claim"
			case v > none:
				verdict = "better, but below the claim"
			default:
				verdict = "the opposite: legacy does better"
			}
		}
		p("  %-22s %-20s %-30s %-16s %s\n", c.label, c.claimed, measured, truth, verdict)
	}
	p("  (Claimed: the ranges NBA vendors and case studies quote. This world was not tuned\n")
	p("  to make either policy win; docs/simulation.md says how its values were chosen.)\n")
}
