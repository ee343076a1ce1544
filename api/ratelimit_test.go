package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api/wire"
)

func TestKeyWindow(t *testing.T) {
	w := &keyWindow{limit: 3}
	for i, tc := range []struct {
		second uint32
		want   bool
	}{
		{10, true}, {10, true}, {10, true}, {10, false}, {10, false}, // 3 per window
		{11, true}, {11, true}, {11, true}, {11, false}, // a new window starts afresh
		{13, true},        // a window may be skipped
		{12, true},        // a clock that steps back starts a window too
		{1<<32 - 1, true}, // the last second that fits (in 2106)
		{1<<32 - 1, true},
		{1<<32 - 1, true},
		{1<<32 - 1, false},
		{0, true}, // the window wraps around
	} {
		if got := w.allow(tc.second); got != tc.want {
			t.Fatalf("request %d in second %d: allowed %t, want %t", i, tc.second, got, tc.want)
		}
	}
	unlimited := &keyWindow{}
	for range 1000 {
		if !unlimited.allow(7) {
			t.Fatal("a key without a limit was refused")
		}
	}
}

// TestRateLimiterConcurrent checks that goroutines racing on one key in one window let
// exactly the limit through (run it with -race).
func TestRateLimiterConcurrent(t *testing.T) {
	const limit, goroutines, each = 1000, 8, 500 // 4,000 requests for 1,000 places
	l := newRateLimiter(map[access.Role]int{access.Decide: limit})
	l.now = func() time.Time { return time.Unix(1_763_805_600, 0) } // one second throughout
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				if l.allow("k1", access.Decide) {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != limit {
		t.Fatalf("%d requests allowed, want the limit %d", n, limit)
	}
}

func TestRateLimiterRolesAndKeys(t *testing.T) {
	if newRateLimiter(nil) != nil || newRateLimiter(map[access.Role]int{access.Admin: 0}) != nil {
		t.Fatal("a limiter without any limit should be nil (no middleware)")
	}
	l := newRateLimiter(map[access.Role]int{access.Decide: 2, access.Viewer: 1, access.Admin: -1})
	now := time.Unix(1_763_805_600, 0)
	l.now = func() time.Time { return now }
	for _, tc := range []struct {
		key  access.KeyID
		role access.Role
		want []bool
	}{
		{"decide-1", access.Decide, []bool{true, true, false}},
		{"decide-2", access.Decide, []bool{true, true, false}}, // per key, not per role
		{"viewer-1", access.Viewer, []bool{true, false}},
		{"admin-1", access.Admin, []bool{true, true, true, true}},     // a negative limit is none
		{"analyst-1", access.Analyst, []bool{true, true, true, true}}, // absent: none
	} {
		for i, want := range tc.want {
			if got := l.allow(tc.key, tc.role); got != want {
				t.Errorf("%s (%s) request %d: allowed %t, want %t", tc.key, tc.role, i, got, want)
			}
		}
	}
	now = now.Add(999 * time.Millisecond) // still the same Unix second
	if l.allow("decide-1", access.Decide) {
		t.Error("decide-1 allowed again within its window")
	}
	now = now.Add(time.Millisecond)
	if !l.allow("decide-1", access.Decide) {
		t.Error("decide-1 refused in a new window")
	}
}

// TestRateLimitHTTP checks the answer over the limit through the server: 429, Retry-After
// in whole seconds and the JSON error; and that keyless local requests are not limited.
func TestRateLimitHTTP(t *testing.T) {
	s := newTestServer(t, true, func(o *Options) { o.RateLimits = map[access.Role]int{access.Decide: 3, access.Admin: 3} })
	k, plain, err := access.NewKey(access.Decide, "rate limit test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.srv.auth.PutKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	post := func(key string) (int, string, string) {
		t.Helper()
		req := httptest.NewRequest("POST", "/v1/decide", strings.NewReader(`{"customer_id": "c1", "channel": "web"}`))
		req.Host = "127.0.0.1" // not httptest's example.com, which --insecure-local refuses
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := s.srv.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(body)
	}
	// Keyless requests act as the local admin, which is exempt from the admin limit of 3.
	for i := range 10 {
		if code, _, body := post(""); code != 200 {
			t.Fatalf("local request %d: %d %s, want 200", i, code, body)
		}
	}
	// 10 requests in a row with the key: the first 3 of a window pass. The burst may
	// straddle two windows, so up to 6 pass; at least 4 are cut.
	limited := 0
	for i := range 10 {
		code, retry, body := post(plain)
		switch code {
		case 200:
		case 429:
			limited++
			var eb wire.ErrorBody
			if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error.Code != "rate_limited" {
				t.Fatalf("429 body %s, want the rate_limited JSON error", body)
			}
			if retry != "1" {
				t.Fatalf("429 with Retry-After %q, want 1 (whole seconds to the next window)", retry)
			}
		default:
			t.Fatalf("request %d with the key: %d %s", i, code, body)
		}
	}
	if limited < 4 {
		t.Fatalf("%d of 10 requests limited at 3/s, want at least 4", limited)
	}
}

func BenchmarkRateLimit(b *testing.B) {
	l := newRateLimiter(map[access.Role]int{access.Decide: 1 << 30}) // never reached
	b.Run("one-key", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !l.allow("k1", access.Decide) {
					b.Fatal("limited")
				}
			}
		})
	})
	b.Run("over-the-limit", func(b *testing.B) {
		l := newRateLimiter(map[access.Role]int{access.Decide: 1})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.allow("k1", access.Decide)
			}
		})
	})
}
