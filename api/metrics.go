package api

import (
	"fmt"
	"io"
	"strconv"
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
	commit   *metrics.Histogram
	extra    []func(w io.Writer)
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

// Decided counts a decision: per chosen action, or as no action with its reason.
func (m *Metrics) Decided(d *engine.Decision, elapsed time.Duration) {
	m.histogram(`nextbest_decide_engine_seconds`).Update(elapsed.Seconds())
	if d.NoAction {
		m.counter(fmt.Sprintf(`nextbest_no_action_total{reason=%q,arm=%q}`, d.Reason, d.Arm)).Inc()
		return
	}
	for _, a := range d.Chosen {
		m.counter(`nextbest_decisions_total{action=` + strconv.Quote(string(a)) + `,channel=` + strconv.Quote(d.Channel) + `}`).Inc()
	}
}

// Responded counts a feedback event by outcome.
func (m *Metrics) Responded(e *engine.Event, duplicate bool) {
	m.counter(fmt.Sprintf(`nextbest_feedback_total{outcome=%q,duplicate="%t"}`, e.Outcome, duplicate)).Inc()
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
	m.histogram(`nextbest_http_request_duration_seconds{route=` + strconv.Quote(route) + `,method=` + strconv.Quote(c.Method()) + `,code="` + strconv.Itoa(st/100) + `xx"}`).UpdateDuration(start)
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
