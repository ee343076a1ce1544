package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nextbest/nextbest/client"
)

// TestRoundRobin: each request goes to the next replica in turn, and carries the highest
// log sequence any replica answered with (session consistency).
func TestRoundRobin(t *testing.T) {
	var mu sync.Mutex
	var got []string // "replica:after"
	var hosts []string
	for i := range 3 {
		seq := strconv.Itoa(10 * (i + 1)) // replica i answers with sequence 10, 20, 30
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got = append(got, strconv.Itoa(i)+":"+r.Header.Get("Nextbest-After-Seq"))
			mu.Unlock()
			w.Header().Set("Nextbest-Log-Seq", seq)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"mode":"manual","now":"2026-06-01T00:00:00Z"}`))
		}))
		t.Cleanup(s.Close)
		hosts = append(hosts, strings.TrimPrefix(s.URL, "http://"))
	}
	c := client.New(hosts[0], client.WithHTTPClient(&http.Client{Transport: client.RoundRobin(nil, client.Hosts(strings.Join(hosts, ", http://")))}))
	for range 5 {
		if _, err := c.Clock(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"0:", "1:10", "2:20", "0:30", "1:30"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("requests went %v, want %v (replica:after-seq)", got, want)
	}
}

func TestHosts(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8081":                 "127.0.0.1:8081",
		"http://a:1/, b:2 ,,https://c:3": "a:1 b:2 c:3",
		" ":                              "",
	} {
		if got := strings.Join(client.Hosts(in), " "); got != want {
			t.Errorf("Hosts(%q) = %q, want %q", in, got, want)
		}
	}
}
