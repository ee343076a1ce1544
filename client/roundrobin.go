package client

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// Headers of session consistency across the replicas of a cluster (api.HeaderLogSeq and
// api.HeaderAfterSeq; docs/scale-out.md).
const (
	headerLogSeq   = "Nextbest-Log-Seq"
	headerAfterSeq = "Nextbest-After-Seq"
)

// RoundRobin returns a transport that sends each request to the next of hosts in turn
// ("host:port"; a client-side load balancer over the replicas of a cluster) through next,
// with session consistency: it remembers the highest log sequence a replica answered with
// (Nextbest-Log-Seq) and sends it with every request (Nextbest-After-Seq), so that what
// the client wrote through one replica is there when it reads through another. The
// client's base URL names any one of the hosts; its path and scheme are kept.
func RoundRobin(next http.RoundTripper, hosts []string) http.RoundTripper {
	if next == nil {
		next = defaultTransport()
	}
	return &roundRobin{next: next, hosts: hosts}
}

type roundRobin struct {
	next  http.RoundTripper
	hosts []string
	turn  atomic.Uint64
	seen  atomic.Uint64 // the highest log sequence answered
}

// RoundTrip sends req to the next host.
func (r *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if len(r.hosts) > 0 {
		host := r.hosts[(r.turn.Add(1)-1)%uint64(len(r.hosts))]
		req.URL.Host, req.Host = host, host
	}
	if seq := r.seen.Load(); seq > 0 {
		req.Header.Set(headerAfterSeq, strconv.FormatUint(seq, 10))
	}
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		if seq, perr := strconv.ParseUint(resp.Header.Get(headerLogSeq), 10, 64); perr == nil {
			for {
				old := r.seen.Load()
				if seq <= old || r.seen.CompareAndSwap(old, seq) {
					break
				}
			}
		}
	}
	return resp, err
}

// Hosts splits a comma-separated list of servers ("h1:8081,h2:8082") into host:port
// entries, dropping an http:// or https:// scheme and empty entries.
func Hosts(list string) []string {
	var out []string
	for _, h := range strings.Split(list, ",") {
		h = strings.TrimSpace(h)
		h = strings.TrimPrefix(strings.TrimPrefix(h, "http://"), "https://")
		h = strings.TrimRight(h, "/")
		if h != "" {
			out = append(out, h)
		}
	}
	return out
}
