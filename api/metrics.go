package api

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
)

// Metrics publishes the service's metrics in the Prometheus text format with
// VictoriaMetrics/metrics. It implements engine.Observer. Histograms use VictoriaMetrics'
// vmrange buckets, which Prometheus scrapes as ordinary labelled series.
type Metrics struct {
	set      *metrics.Set
	counters sync.Map // name -> *metrics.Counter
	hists    sync.Map // name -> *metrics.Histogram
	// series holds the series counted on every request, by their labels (decisionSeries,
	// noActionSeries, feedbackSeries, requestSeries): finding one so costs no allocation,
	// where building its name would cost several.
	series sync.Map
	commit *metrics.Histogram
	extra  []func(w io.Writer)
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
)

// series returns the counter or histogram of the series with labels k, made with
// newSeries (which returns the key to keep and the series) on first use.
// amountSeries keys the counter of an action's amounts that could not be evaluated.
type amountSeries struct{ action engine.ActionID }

func series[K comparable, V any](m *Metrics, k K, newSeries func(K) (K, V)) V {
	if v, ok := m.series.Load(k); ok {
		return v.(V)
	}
	k, v := newSeries(k)
	got, _ := m.series.LoadOrStore(k, v)
	return got.(V)
}

// NewMetrics returns an empty metrics set.
func NewMetrics() *Metrics {
	s := metrics.NewSet()
	return &Metrics{set: s, commit: s.NewHistogram(`nextbest_learning_lag_seconds`)}
}

// Set returns the underlying set, for gauges registered by the binary (store sizes).
func (m *Metrics) Set() *metrics.Set { return m.set }

// AddWriter registers more metrics written at each scrape.
func (m *Metrics) AddWriter(f func(w io.Writer)) { m.extra = append(m.extra, f) }

func (m *Metrics) counter(name string) *metrics.Counter {
	if c, ok := m.counters.Load(name); ok {
		return c.(*metrics.Counter)
	}
	c, _ := m.counters.LoadOrStore(name, m.set.GetOrCreateCounter(name))
	return c.(*metrics.Counter)
}

func (m *Metrics) histogram(name string) *metrics.Histogram {
	if h, ok := m.hists.Load(name); ok {
		return h.(*metrics.Histogram)
	}
	h, _ := m.hists.LoadOrStore(name, m.set.GetOrCreateHistogram(name))
	return h.(*metrics.Histogram)
}

// Decided counts a decision: per chosen action, or as no action with its reason's code
// (engine.ReasonCode). Every label comes from a bounded set: actions from the catalog,
// channels from the configured ones (engine refuses others), arms from experiments.
func (m *Metrics) Decided(d *engine.Decision, elapsed time.Duration) {
	m.histogram(`nextbest_decide_engine_seconds`).Update(elapsed.Seconds())
	for i := range d.Candidates {
		if d.Candidates[i].Filtered == "amount" {
			// A value, cost or contact cost that could not be evaluated for this
			// customer: the candidate was filtered, with the reason in the decision log.
			series(m, amountSeries{d.Candidates[i].ID}, func(k amountSeries) (amountSeries, *metrics.Counter) {
				k = amountSeries{engine.ActionID(strings.Clone(string(k.action)))}
				return k, m.set.GetOrCreateCounter(`nextbest_decide_amount_errors_total{action=` + strconv.Quote(string(k.action)) + `}`)
			}).Inc()
		}
	}
	if d.NoAction {
		series(m, noActionSeries{engine.ReasonCode(d.Reason), d.Arm}, func(k noActionSeries) (noActionSeries, *metrics.Counter) {
			k = noActionSeries{strings.Clone(k.reason), strings.Clone(k.arm)}
			return k, m.set.GetOrCreateCounter(fmt.Sprintf(`nextbest_no_action_total{reason=%q,arm=%q}`, k.reason, k.arm))
		}).Inc()
		return
	}
	for _, a := range d.Chosen {
		series(m, decisionSeries{a, d.Channel}, func(k decisionSeries) (decisionSeries, *metrics.Counter) {
			k = decisionSeries{engine.ActionID(strings.Clone(string(k.action))), strings.Clone(k.channel)}
			return k, m.set.GetOrCreateCounter(`nextbest_decisions_total{action=` + strconv.Quote(string(k.action)) + `,channel=` + strconv.Quote(k.channel) + `}`)
		}).Inc()
	}
}

// Responded counts a feedback event by outcome.
func (m *Metrics) Responded(e *engine.Event, duplicate bool) {
	series(m, feedbackSeries{e.Outcome, duplicate}, func(k feedbackSeries) (feedbackSeries, *metrics.Counter) {
		k.outcome = engine.Outcome(strings.Clone(string(k.outcome)))
		return k, m.set.GetOrCreateCounter(fmt.Sprintf(`nextbest_feedback_total{outcome=%q,duplicate="%t"}`, k.outcome, k.duplicate))
	}).Inc()
}

// Committed records a group commit: its size and the time from taking the batch to the
// models having learned it (the learning lag).
func (m *Metrics) Committed(events, decisions int, elapsed time.Duration) {
	m.commit.Update(elapsed.Seconds())
	m.counter(`nextbest_journal_events_total`).Add(events)
	m.counter(`nextbest_journal_decisions_total`).Add(decisions)
	m.counter(`nextbest_group_commits_total`).Inc()
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
	series(m, requestSeries{route, c.Method(), st / 100}, func(k requestSeries) (requestSeries, *metrics.Histogram) {
		k.route, k.method = strings.Clone(k.route), strings.Clone(k.method)
		return k, m.set.GetOrCreateHistogram(`nextbest_http_request_duration_seconds{route=` + strconv.Quote(k.route) + `,method=` + strconv.Quote(k.method) + `,code="` + strconv.Itoa(k.class) + `xx"}`)
	}).UpdateDuration(start)
	return err
}

// WritePrometheus writes every metric, the process metrics included.
func (m *Metrics) WritePrometheus(w io.Writer) {
	m.set.WritePrometheus(w)
	for _, f := range m.extra {
		f(w)
	}
	metrics.WriteProcessMetrics(w)
}

func (m *Metrics) handler(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
	m.WritePrometheus(c)
	return nil
}
