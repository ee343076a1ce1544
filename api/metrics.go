package api

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
)

// Metrics publishes the service's metrics in Prometheus's text exposition format
// (version 0.0.4): every family with its # HELP and # TYPE lines, histograms with
// cumulative `le` buckets that PromQL's histogram_quantile reads, names and units by
// Prometheus's conventions (base units, seconds and bytes; counters end in _total).
// It implements engine.Observer. docs/operations.md lists the families.
//
// Each family keeps its series in a metrics.Set of its own, so that its metadata is
// written once, before its samples; the families are fixed when NewMetrics returns.
type Metrics struct {
	families []*family // in the order of the exposition

	// The labelled families, whose series are made on first use (series).
	requests, decisions, noAction, amountErrors, feedback *family
	// series holds the series counted on every request, by their labels (decisionSeries,
	// noActionSeries, feedbackSeries, requestSeries): finding one so costs no allocation,
	// where building its name would cost several.
	series sync.Map

	decideDuration, learningLag                                         *metrics.PrometheusHistogram
	groupCommits, journalEvents, journalDecisions, panics, acceptErrors *metrics.Counter

	extra []func(w io.Writer)
}

// family is one metric family: its name, Prometheus type and help text, and the set that
// holds its series.
type family struct {
	name, typ, help string
	set             *metrics.Set
}

// The buckets' upper bounds, in seconds, five to a decade (1, 1.6, 2.5, 4, 6.3: the
// Renard R5 series), so that an estimate interpolated within a bucket (histogram_quantile)
// is off by at most the bucket's width, 60% of its lower bound.
var (
	// decideBuckets: a decision takes 20-100 µs (docs/benchmarks.md); the tail, under
	// load or a slow disk, reaches milliseconds.
	decideBuckets = r5Buckets(-5, 0) // 10 µs to 1 s
	// requestBuckets: decide and feedback over HTTP take 50-200 µs; reports, backups and
	// profiles take seconds.
	requestBuckets = r5Buckets(-5, 1) // 10 µs to 10 s
	// learningLagBuckets: a group commit writes its batch to Badger (an fsync of a few
	// milliseconds with synced writes) and then updates the models.
	learningLagBuckets = r5Buckets(-4, 1) // 100 µs to 10 s
)

// r5Buckets returns the R5 series from 10^from to 10^to, each bound the float nearest its
// decimal (so that its `le` label reads 1.6e-05, not 1.6000000000000003e-05).
func r5Buckets(from, to int) []float64 {
	var out []float64
	for e := from; e <= to; e++ {
		for _, m := range []string{"1", "1.6", "2.5", "4", "6.3"} {
			if e == to && m != "1" {
				break
			}
			v, err := strconv.ParseFloat(m+"e"+strconv.Itoa(e), 64)
			if err != nil {
				panic(err) // the mantissas above are decimals
			}
			out = append(out, v)
		}
	}
	return out
}

// The labels of the series counted on every request; the strings are copied before a
// key is kept.
type (
	decisionSeries struct {
		action  engine.ActionID
		channel string
	}
	noActionSeries struct{ reason, arm string }
	feedbackSeries struct {
		outcome   engine.Outcome
		duplicate bool
	}
	requestSeries struct {
		route, method string
		class         int // status / 100
	}
	// amountSeries keys the counter of an action's amounts that could not be evaluated.
	amountSeries struct{ action engine.ActionID }
)

// series returns the counter or histogram of the series with labels k, made with
// newSeries (which returns the key to keep and the series) on first use.
func series[K comparable, V any](m *Metrics, k K, newSeries func(K) (K, V)) V {
	if v, ok := m.series.Load(k); ok {
		return v.(V)
	}
	k, v := newSeries(k)
	got, _ := m.series.LoadOrStore(k, v)
	return got.(V)
}

// NewMetrics returns the service's metric families, their unlabelled counters and
// histograms at 0.
func NewMetrics() *Metrics {
	m := &Metrics{}
	fam := func(name, typ, help string) *family {
		f := &family{name: name, typ: typ, help: help, set: metrics.NewSet()}
		m.families = append(m.families, f)
		return f
	}
	counter := func(name, help string) *metrics.Counter {
		return fam(name, "counter", help).set.NewCounter(name)
	}
	histogram := func(name, help string, buckets []float64) *metrics.PrometheusHistogram {
		return fam(name, "histogram", help).set.NewPrometheusHistogramExt(name, buckets)
	}

	m.requests = fam("nextbest_http_request_duration_seconds", "histogram",
		`Time to serve an HTTP request, until its handler returned (a streamed body is written after), by route pattern ("other" for no route), method and status class (code="2xx").`)
	m.panics = counter("nextbest_http_panics_total",
		"Panics recovered in HTTP handlers and streamed bodies; each is logged with its stack and answered 500.")
	m.acceptErrors = counter("nextbest_http_accept_errors_total",
		"Transient errors accepting a connection (such as running out of file descriptors), retried after a back-off.")

	m.decideDuration = histogram("nextbest_decide_duration_seconds",
		"Time the engine took to make a decision, from the request to the decision logged (HTTP decoding and encoding not included).", decideBuckets)
	m.decisions = fam("nextbest_decisions_total", "counter",
		"Actions offered by decisions, by action and channel; a decision that offers n actions adds n.")
	m.noAction = fam("nextbest_no_action_total", "counter",
		"Decisions that offered no action, by reason code (no_eligible, below_threshold, holdout, contact_policy, no_campaign, explore_no_action, other) and experiment arm.")
	m.amountErrors = fam("nextbest_decide_amount_errors_total", "counter",
		"Candidates filtered out of a decision because their value, cost or contact cost could not be evaluated for the customer, by action.")

	m.feedback = fam("nextbest_feedback_total", "counter",
		`Feedback events answered, by outcome (timeout: implicit negatives for unanswered offers); duplicate="true" for a repeat of feedback already recorded, which is not learned again.`)

	m.learningLag = histogram("nextbest_learning_lag_seconds",
		"Time from the group committer taking a batch of events to the models having learned it, per group commit.", learningLagBuckets)
	m.groupCommits = counter("nextbest_group_commits_total",
		"Group commits: batches of events and decision records written to the store together and learned by the models.")
	m.journalEvents = counter("nextbest_journal_events_total",
		"Feedback and outcome events written to the journal by group commits.")
	m.journalDecisions = counter("nextbest_journal_decisions_total",
		"Decision records written to the decision log by group commits.")
	return m
}

// AddWriter registers more metrics written at each scrape, after the service's own. Each
// family it writes needs its # HELP and # TYPE lines: WriteGauge and WriteCounter write
// them.
func (m *Metrics) AddWriter(f func(w io.Writer)) { m.extra = append(m.extra, f) }

// Decided counts a decision: per chosen action, or as no action with its reason's code
// (engine.ReasonCode). Every label comes from a bounded set: actions from the catalog,
// channels from the configured ones (engine refuses others), arms from experiments.
func (m *Metrics) Decided(d *engine.Decision, elapsed time.Duration) {
	m.decideDuration.Update(elapsed.Seconds())
	for i := range d.Candidates {
		if d.Candidates[i].Filtered == "amount" {
			// A value, cost or contact cost that could not be evaluated for this
			// customer: the candidate was filtered, with the reason in the decision log.
			series(m, amountSeries{d.Candidates[i].ID}, func(k amountSeries) (amountSeries, *metrics.Counter) {
				k = amountSeries{engine.ActionID(strings.Clone(string(k.action)))}
				return k, m.amountErrors.set.GetOrCreateCounter(m.amountErrors.name + `{action=` + labelValue(string(k.action)) + `}`)
			}).Inc()
		}
	}
	if d.NoAction {
		series(m, noActionSeries{engine.ReasonCode(d.Reason), d.Arm}, func(k noActionSeries) (noActionSeries, *metrics.Counter) {
			k = noActionSeries{strings.Clone(k.reason), strings.Clone(k.arm)}
			return k, m.noAction.set.GetOrCreateCounter(m.noAction.name + `{reason=` + labelValue(k.reason) + `,arm=` + labelValue(k.arm) + `}`)
		}).Inc()
		return
	}
	for _, a := range d.Chosen {
		series(m, decisionSeries{a, d.Channel}, func(k decisionSeries) (decisionSeries, *metrics.Counter) {
			k = decisionSeries{engine.ActionID(strings.Clone(string(k.action))), strings.Clone(k.channel)}
			return k, m.decisions.set.GetOrCreateCounter(m.decisions.name + `{action=` + labelValue(string(k.action)) + `,channel=` + labelValue(k.channel) + `}`)
		}).Inc()
	}
}

// Responded counts a feedback event by outcome.
func (m *Metrics) Responded(e *engine.Event, duplicate bool) {
	series(m, feedbackSeries{e.Outcome, duplicate}, func(k feedbackSeries) (feedbackSeries, *metrics.Counter) {
		k.outcome = engine.Outcome(strings.Clone(string(k.outcome)))
		return k, m.feedback.set.GetOrCreateCounter(m.feedback.name + `{outcome=` + labelValue(string(k.outcome)) + `,duplicate="` + strconv.FormatBool(k.duplicate) + `"}`)
	}).Inc()
}

// Committed records a group commit: its size and the time from taking the batch to the
// models having learned it (the learning lag).
func (m *Metrics) Committed(events, decisions int, elapsed time.Duration) {
	m.learningLag.Update(elapsed.Seconds())
	m.journalEvents.Add(events)
	m.journalDecisions.Add(decisions)
	m.groupCommits.Inc()
}

// middleware records every request's latency per route and status class.
func (m *Metrics) middleware(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	st := c.Response().StatusCode()
	if err != nil {
		st, _, _ = status(err)
	}
	route := c.Route().Path
	if route == "/" || route == "" {
		route = "other"
	}
	// The method is in fiber's request memory; the route's path is the app's.
	series(m, requestSeries{route, c.Method(), st / 100}, func(k requestSeries) (requestSeries, *metrics.PrometheusHistogram) {
		k.route, k.method = strings.Clone(k.route), strings.Clone(k.method)
		name := m.requests.name + `{route=` + labelValue(k.route) + `,method=` + labelValue(k.method) + `,code="` + strconv.Itoa(k.class) + `xx"}`
		return k, m.requests.set.GetOrCreatePrometheusHistogramExt(name, requestBuckets)
	}).UpdateDuration(start)
	return err
}

// WritePrometheus writes every metric: the service's families, those of the writers added
// with AddWriter, then the Go runtime's and the process's (writeProcessMetrics). A
// labelled family without a series yet is left out, as Prometheus's client libraries
// leave it (its text parser drops metadata without samples).
func (m *Metrics) WritePrometheus(w io.Writer) {
	var buf bytes.Buffer
	for _, f := range m.families {
		buf.Reset()
		f.set.WritePrometheus(&buf)
		if buf.Len() == 0 {
			continue
		}
		writeMetadata(w, f.name, f.typ, f.help)
		w.Write(buf.Bytes())
	}
	for _, f := range m.extra {
		f(w)
	}
	writeProcessMetrics(w)
}

func (m *Metrics) handler(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
	m.WritePrometheus(c)
	return nil
}

// WriteGauge writes a gauge family of one series with its # HELP and # TYPE lines, for a
// writer added with AddWriter. series is the family's name, with labels if it has any:
// nextbest_build_info{version="1.2.0"}.
func WriteGauge(w io.Writer, series, help string, value float64) {
	writeSample(w, series, "gauge", help, value)
}

// WriteCounter writes a counter family of one series with its # HELP and # TYPE lines,
// for a writer added with AddWriter. Its name ends in _total.
func WriteCounter(w io.Writer, series, help string, value float64) {
	writeSample(w, series, "counter", help, value)
}

func writeSample(w io.Writer, series, typ, help string, value float64) {
	name, _, _ := strings.Cut(series, "{")
	writeMetadata(w, name, typ, help)
	var buf [64]byte
	b := append(append(buf[:0], series...), ' ')
	if value == math.Trunc(value) && math.Abs(value) < 1<<53 {
		b = strconv.AppendInt(b, int64(value), 10) // counts and bytes read as integers
	} else {
		b = strconv.AppendFloat(b, value, 'g', -1, 64)
	}
	w.Write(append(b, '\n'))
}

// helpEscaper escapes a # HELP text as the text format asks: backslash and line feed.
var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// writeMetadata writes a family's # HELP and # TYPE lines.
func writeMetadata(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, helpEscaper.Replace(help), name, typ)
}

// labelValue quotes a label value as the text format does: in double quotes, with
// backslash, double quote and line feed escaped (strconv.Quote's \x and \u escapes are
// not the format's).
func labelValue(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
