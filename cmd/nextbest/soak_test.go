package main

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestHistogramQuantile(t *testing.T) {
	before := map[string]float64{"1.000e-03...1.136e-03": 10}
	after := map[string]float64{
		"1.000e-03...1.136e-03": 108, // 98 in the window
		"5.995e-03...6.813e-03": 2,
		"2.154e-02...2.448e-02": 0, // none ever: skipped
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 1136 * time.Microsecond},
		{0.98, 1136 * time.Microsecond},
		{0.99, 6813 * time.Microsecond},
		{1, 6813 * time.Microsecond},
	} {
		got, ok := histogramQuantile(before, after, tc.q)
		if !ok || got.Round(time.Microsecond) != tc.want {
			t.Errorf("q%.2f = %v, %v; want %v", tc.q, got, ok, tc.want)
		}
	}
	if _, ok := histogramQuantile(after, after, 0.99); ok {
		t.Error("no observations between two equal scrapes, but ok")
	}
	if _, ok := histogramQuantile(nil, after, 0.99); ok {
		t.Error("a failed scrape (nil), but ok")
	}
}

// TestScrapeDecideHistogram checks the soak's scrape against what a real server
// exports, so that a renamed metric fails here instead of emptying the soak's column.
func TestScrapeDecideHistogram(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	defer s.stop()
	w := &ltWorker{client: newLoadClient(1)}
	ctx := context.Background()
	before := scrapeDecideHistogram(ctx, w, s.base)
	if before == nil {
		t.Fatal("scrape failed")
	}
	for i := range 20 {
		if st := s.call(http.MethodPost, "/v1/decide", map[string]any{"customer_id": "c" + string(rune('a'+i)), "channel": "web"}, nil); st != http.StatusOK {
			t.Fatalf("decide: status %d", st)
		}
	}
	after := scrapeDecideHistogram(ctx, w, s.base)
	n := 0.0
	for rng, c := range after {
		n += c - before[rng]
	}
	if n != 20 {
		t.Fatalf("the scraped decide histogram counted %v decides, want 20 (buckets %v)", n, after)
	}
	if q, ok := histogramQuantile(before, after, 0.99); !ok || q <= 0 || q > 10*time.Second {
		t.Errorf("p99 of the scraped decides = %v, %v", q, ok)
	}
}
