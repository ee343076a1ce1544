package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gofiber/fiber/v2"

	"github.com/valyala/fasthttp"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/store"
)

// TestMetricSeriesBounded sends what a client controls in every form it can take (10,000
// decides on made-up channels, 10,000 requests on made-up paths, requests with made-up
// methods, and "no action" answers whose reasons carry counts) and checks that /metrics
// keeps a bounded number of series: every label value comes from a bounded set (channels
// from the configuration, actions from the catalog, routes from the route table, reasons
// as codes). Before issue 15, each channel made a series (100,000 decides made 100,003,
// a 17 MB /metrics) and each count of a contact-policy reason another.
func TestMetricSeriesBounded(t *testing.T) {
	s := newObservedServer(t)
	ctx := context.Background()
	// An action on every channel: before the fix, any channel a client named got a series.
	if _, err := s.eng.PutAction(ctx, engine.Action{ID: "anywhere", Value: 1, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	h := s.srv.App().Handler()
	send := func(method, path, body string) (int, []byte) {
		var fc fasthttp.RequestCtx
		fc.Request.Header.SetMethod(method)
		fc.Request.SetRequestURI(path)
		fc.Request.Header.SetHost("127.0.0.1") // --insecure-local answers only to loopback names
		fc.Request.Header.SetContentType("application/json")
		fc.Request.SetBodyString(body)
		h(&fc)
		return fc.Response.StatusCode(), append([]byte(nil), fc.Response.Body()...)
	}
	series := func() (map[string]bool, int) {
		code, body := send("GET", "/metrics", "")
		if code != 200 {
			t.Fatalf("/metrics: %d %s", code, body)
		}
		return metricSeries(string(body)), len(body)
	}

	// Some of every kind of series first: the bound below is on what the flood adds.
	if code, body := send("POST", "/v1/decide", `{"customer_id": "c0", "channel": "web"}`); code != 200 {
		t.Fatalf("decide on web: %d %s", code, body)
	}
	send("GET", "/v1/nothing-here", "")
	send("POST", "/v1/decide", `{"customer_id": "c0", "channel": "no-such-channel"}`)
	before, beforeBytes := series()

	const flood = 10000
	for i := range flood {
		code, body := send("POST", "/v1/decide", fmt.Sprintf(`{"customer_id": "c%d", "channel": "ch-%d"}`, i, i))
		if i == 0 {
			var eb wire.ErrorBody
			if code != 400 || json.Unmarshal(body, &eb) != nil || eb.Error.Code != "unknown_channel" || !strings.Contains(eb.Error.Message, "web") {
				t.Errorf("decide on an unknown channel: %d %s; want 400 unknown_channel naming the configured channels", code, body)
			}
		}
	}
	for i := range flood {
		send("GET", fmt.Sprintf("/v1/path-%d/x", i), "")
		if i%10 == 0 {
			send(fmt.Sprintf("M%d", i), fmt.Sprintf("/other-%d", i), "")
		}
	}
	// "No action" for the contact policy, with a different count in each reason: customer
	// s<k> rejected k offers on the web, and the policy suppresses e-mail after 3.
	for k := 3; k < 13; k++ {
		cust := fmt.Sprintf("s%d", k)
		for range k {
			res, err := s.eng.Decide(ctx, engine.DecideRequest{CustomerID: engine.CustomerID(cust), Channel: "web"})
			if err != nil || len(res.Actions) == 0 {
				t.Fatalf("decide: %+v %v", res, err)
			}
			if _, err := s.eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: res.DecisionID, ActionID: res.Actions[0].ID, Outcome: engine.Rejected}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.eng.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		code, body := send("POST", "/v1/decide", fmt.Sprintf(`{"customer_id": %q, "channel": "email", "source": "outbound"}`, cust))
		if code != 200 || !strings.Contains(string(body), fmt.Sprintf("suppressed: %d negative", k)) {
			t.Fatalf("decide on e-mail after %d rejections: %d %s", k, code, body)
		}
	}

	after, afterBytes := series()
	var added []string
	for k := range after {
		if !before[k] {
			added = append(added, k)
		}
	}
	// What may be added: the contact policy's code, the e-mail channel's decisions, the
	// feedback outcome, 1xx-5xx classes of routes already seen: a handful, not thousands.
	const maxAdded = 20
	t.Logf("series: %d before the flood (%d bytes), %d after (%d bytes); added: %v", len(before), beforeBytes, len(after), afterBytes, added)
	if len(added) > maxAdded {
		if len(added) > 10 {
			added = added[:10]
		}
		t.Errorf("the flood added %d series (at most %d), such as %v", len(after)-len(before), maxAdded, added)
	}
	for k := range after {
		if strings.Contains(k, "suppressed") || strings.Contains(k, "ch-") || strings.Contains(k, "path-") || strings.Contains(k, `method="M`) {
			t.Errorf("a label value made from a request or a count: %s", k)
			break
		}
	}
}

// metricSeries returns the series of a Prometheus text exposition: each metric name with
// its labels, a histogram's buckets, sum and count as one series.
func metricSeries(text string) map[string]bool {
	le := regexp.MustCompile(`,le="[^"]*"|\{le="[^"]*"\}`) // a bucket's bound, its last label
	out := map[string]bool{}
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line[:strings.LastIndexByte(line, ' ')]
		name = le.ReplaceAllString(name, "")
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if i := strings.Index(name, suffix); i > 0 && (i+len(suffix) == len(name) || name[i+len(suffix)] == '{') {
				name = name[:i] + name[i+len(suffix):]
			}
		}
		out[name] = true
	}
	return out
}

// newObservedServer is newTestServer (keyless, one action "offer" on the web) with metrics
// wired as the binary wires them: the engine reports its decisions and feedback to them.
func newObservedServer(t *testing.T) *testServer {
	t.Helper()
	so := store.DefaultOptions(t.TempDir())
	so.SyncWrites = false
	so.MemTableSize, so.BlockCacheSize, so.IndexCacheSize = 8<<20, 8<<20, 4<<20
	st, err := store.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	met := NewMetrics()
	eng, err := engine.New(engine.DefaultOptions(), st, nil, nil, met)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := eng.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := eng.PutAction(ctx, engine.Action{ID: "offer", Value: 1, Enabled: true, Channels: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	secret, err := NewSessionSecret()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := NewAuth(ctx, AuthOptions{Keys: st, Sessions: st, SessionSecret: secret, InsecureLocal: true})
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Auth, opts.Keys, opts.Metrics = auth, st, met
	return &testServer{srv: New(eng, opts), eng: eng, st: st}
}

// TestWriteSample checks the families the binary writes itself (WriteGauge,
// WriteCounter): metadata before the sample, the family's name without the labels, and
// counts as integers.
func TestWriteSample(t *testing.T) {
	var buf bytes.Buffer
	WriteGauge(&buf, `x_info{version="v1"}`, "Help with a \\ and a\nline feed.", 1)
	WriteCounter(&buf, "x_seconds_total", "Seconds.", 0.25)
	WriteGauge(&buf, "x_bytes", "Bytes.", 1<<40)
	want := "# HELP x_info Help with a \\\\ and a\\nline feed.\n# TYPE x_info gauge\nx_info{version=\"v1\"} 1\n" +
		"# HELP x_seconds_total Seconds.\n# TYPE x_seconds_total counter\nx_seconds_total 0.25\n" +
		"# HELP x_bytes Bytes.\n# TYPE x_bytes gauge\nx_bytes 1099511627776\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// BenchmarkWritePrometheus measures a scrape of /metrics with the series of a busy
// server: 20 actions on two channels, no-action reasons, feedback outcomes, 12 routes
// with two status classes each, and the store's, the Go runtime's and the process's
// families (this reads /proc).
func BenchmarkWritePrometheus(b *testing.B) {
	m := NewMetrics()
	for i := range 20 {
		for _, ch := range []string{"web", "email"} {
			m.Decided(&engine.Decision{Channel: ch, Chosen: []engine.ActionID{engine.ActionID(fmt.Sprintf("a%02d", i))}}, time.Duration(i+1)*10*time.Microsecond)
		}
	}
	for _, r := range []string{engine.ReasonNoEligible, engine.ReasonBelowThresh, engine.ReasonHoldout} {
		m.Decided(&engine.Decision{NoAction: true, Reason: r}, time.Millisecond)
	}
	for _, o := range []engine.Outcome{engine.Accepted, engine.Rejected, engine.Clicked, engine.Ignored, engine.Converted, engine.Timeout} {
		m.Responded(&engine.Event{Outcome: o}, false)
	}
	m.Committed(10, 10, 2*time.Millisecond)
	for i := range 12 {
		for _, class := range []int{2, 4} {
			series(m, requestSeries{fmt.Sprintf("/v1/route%d", i), "GET", class}, func(k requestSeries) (requestSeries, *metrics.PrometheusHistogram) {
				return k, m.requests.set.GetOrCreatePrometheusHistogramExt(fmt.Sprintf(`%s{route=%q,method="GET",code="%dxx"}`, m.requests.name, k.route, class), requestBuckets)
			}).Update(1e-4)
		}
	}
	m.AddWriter(func(w io.Writer) {
		for _, name := range []string{"x_store_lsm_bytes", "x_store_vlog_bytes", "x_store_disk_free_bytes"} {
			WriteGauge(w, name, "A store gauge.", 1<<30)
		}
	})
	var buf bytes.Buffer
	m.WritePrometheus(&buf)
	b.ReportAllocs()
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		m.WritePrometheus(io.Discard)
	}
}

// BenchmarkRequestMetrics measures what the metrics middleware adds to a request: fiber's
// route lookup, the series lookup (no allocation) and the latency histogram's update,
// against the same app without the middleware.
func BenchmarkRequestMetrics(b *testing.B) {
	for _, tc := range []struct {
		name string
		met  *Metrics
	}{{"without", nil}, {"with", NewMetrics()}} {
		b.Run(tc.name, func(b *testing.B) {
			app := fiber.New()
			if tc.met != nil {
				app.Use(tc.met.middleware)
			}
			app.Post("/v1/decide", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusOK) })
			h := app.Handler()
			var fc fasthttp.RequestCtx
			fc.Request.Header.SetMethod(fasthttp.MethodPost)
			fc.Request.SetRequestURI("/v1/decide")
			b.ReportAllocs()
			for b.Loop() {
				fc.Response.Reset()
				h(&fc)
			}
		})
	}
}
