package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/export"
)

// TestExportRoute: GET /v1/decisions/export on a real server on loopback, over a real
// engine and store: the analyst (and admin) get the log as Parquet that reads back row
// for row, or as JSON lines; since and until bound it; an empty window is a valid empty
// file; a bad format, a bad time, or since after until is 400 with the JSON error before
// any byte of a file; other roles are refused.
func TestExportRoute(t *testing.T) {
	s := newTestServer(t, false, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.srv.Serve(ln)
	t.Cleanup(func() {
		if err := s.srv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	base := "http://" + ln.Addr().String()
	keys := map[access.Role]string{}
	for _, r := range access.Roles {
		_, keys[r] = putKey(t, s.srv.auth, r)
	}
	ctx := context.Background()
	const n = 60
	var ids []string
	var times []time.Time
	for i := range n {
		res, err := s.eng.Decide(ctx, engine.DecideRequest{CustomerID: "c1", Channel: "web", RawContext: json.RawMessage(`{"n":1}`), Context: map[string]any{"n": 1.0}})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if _, err := s.eng.Feedback(ctx, engine.FeedbackRequest{DecisionID: res.DecisionID, ActionID: "offer", Outcome: engine.Accepted}); err != nil {
				t.Fatal(err)
			}
		}
		d, err := s.eng.Decision(ctx, res.DecisionID)
		if err != nil {
			t.Fatal(err)
		}
		ids, times = append(ids, string(res.DecisionID)), append(times, d.Time)
	}
	if err := s.eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	get := func(role access.Role, query string) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/v1/decisions/export"+query, nil)
		if role != "" {
			req.Header.Set("Authorization", "Bearer "+keys[role])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, body
	}

	code, h, body := get(access.Analyst, "?format=parquet")
	if code != 200 || h.Get("Content-Type") != "application/vnd.apache.parquet" {
		t.Fatalf("parquet: %d %s: %.200s", code, h.Get("Content-Type"), body)
	}
	sum, err := export.Verify(bytes.NewReader(body), int64(len(body)))
	if err != nil || sum.Rows != n || sum.Answered != n/3 {
		t.Fatalf("the export reads as %+v (%v), want %d rows, %d answered", sum, err, n, n/3)
	}

	code, _, body = get(access.Admin, "?format=jsonl")
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if code != 200 || len(lines) != n {
		t.Fatalf("jsonl: %d, %d lines", code, len(lines))
	}
	for i, l := range lines {
		var r export.Row
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.DecisionID != ids[i] || string(r.ContextJSON) != `{"n":1}` || r.Action != "offer" || (r.Reward != nil) != (i%3 == 0) {
			t.Fatalf("line %d: %v %+v", i, err, r)
		}
	}

	// A window: since (inclusive) at decision 10, until (exclusive) at decision 25.
	q := "?format=jsonl&since=" + times[10].Format(time.RFC3339Nano) + "&until=" + times[25].Format(time.RFC3339Nano)
	if code, _, body = get(access.Analyst, q); code != 200 || strings.Count(string(body), "\n") != 15 || !strings.Contains(string(body), ids[10]) || strings.Contains(string(body), ids[25]) {
		t.Errorf("window: %d, %d lines", code, strings.Count(string(body), "\n"))
	}
	// An empty window: a valid Parquet file with no rows.
	q = "?since=" + times[10].Format(time.RFC3339Nano) + "&until=" + times[10].Format(time.RFC3339Nano)
	code, _, body = get(access.Analyst, q)
	if sum, err := export.Verify(bytes.NewReader(body), int64(len(body))); code != 200 || err != nil || sum.Rows != 0 {
		t.Errorf("empty window: %d, %+v, %v", code, sum, err)
	}

	for _, c := range []struct {
		role   access.Role
		query  string
		status int
		code   string
	}{
		{access.Analyst, "?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z", 400, "invalid_query"},
		{access.Analyst, "?format=csv", 400, "invalid_query"},
		{access.Analyst, "?until=yesterday", 400, "invalid_query"},
		{access.Decide, "", 403, "forbidden"},
		{access.Viewer, "", 403, "forbidden"},
		{"", "", 401, "unauthenticated"},
	} {
		code, _, body := get(c.role, c.query)
		var eb wire.ErrorBody
		if err := json.Unmarshal(body, &eb); code != c.status || err != nil || eb.Error.Code != c.code || eb.Error.Message == "" {
			t.Errorf("%s %q: %d %s, want %d %s", c.role, c.query, code, body, c.status, c.code)
		}
	}
}

// TestExportErrorLine: a JSON lines export that fails after its first row has that row,
// then the JSON error as a line; a Parquet one ends without its footer, which no reader
// opens.
func TestExportErrorLine(t *testing.T) {
	s := newTestServer(t, false, nil)
	good := &engine.Decision{ID: "d1", Time: time.Now(), Candidates: []engine.Candidate{}}
	failing := logFunc(func(ctx context.Context, since time.Time, fn func(*engine.Decision) error) error {
		if err := fn(good); err != nil {
			return err
		}
		return errors.New("decode decision \"d2\": decision record: checksum mismatch")
	})
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	s.srv.writeExport(context.Background(), failing, w, export.Options{Format: export.JSONLines})
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	var eb wire.ErrorBody
	if len(lines) != 2 || !strings.Contains(lines[0], `"decision_id":"d1"`) || json.Unmarshal([]byte(lines[len(lines)-1]), &eb) != nil || eb.Error.Code != "internal" {
		t.Errorf("JSON lines: %q", buf.String())
	}
	buf.Reset()
	s.srv.writeExport(context.Background(), failing, w, export.Options{Format: export.Parquet})
	if _, err := export.Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len())); !errors.Is(err, export.ErrCorrupt) {
		t.Errorf("Parquet of %d bytes: %v", buf.Len(), err)
	}
}

type logFunc func(ctx context.Context, since time.Time, fn func(*engine.Decision) error) error

func (f logFunc) Decisions(ctx context.Context, since time.Time, fn func(*engine.Decision) error) error {
	return f(ctx, since, fn)
}
