package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/content"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/nextbest/nextbest/access"
	"github.com/nextbest/nextbest/api"
	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/export"
	"github.com/nextbest/nextbest/internal/service"
)

// The API reference (api/openapi.yaml) is held to a real server here: every example it
// holds is sent, and the request and the answer are validated against the document by
// libopenapi-validator (docs/api.md). api/openapi_test.go holds the document to the
// router and to the source's error codes.

// contract is the API reference with a validator over it.
type contract struct {
	doc *v3.Document
	val validator.Validator
}

// loadContract parses the API reference and checks it is a valid OpenAPI document.
func loadContract(t testing.TB) *contract {
	t.Helper()
	d, err := libopenapi.NewDocument(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.BuildV3Model()
	if err != nil {
		t.Fatalf("the API reference does not build: %v", err)
	}
	v, errs := validator.NewValidator(d,
		config.WithStandardBodyDecoders(),
		config.WithBodyDecoder("application/x-ndjson", content.DecoderFunc(ndjsonLines)),
		config.WithBodyDecoder("application/vnd.apache.parquet", content.DecoderFunc(parquetFile)),
		config.WithRejectUnsupportedBodyContent(),
		config.WithFormatAssertions(),
	)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("the API reference is not valid OpenAPI: %v", e)
		}
		t.FailNow()
	}
	return &contract{doc: &m.Model, val: v}
}

// ndjsonLines decodes a body of JSON lines (application/x-ndjson, the decision log and the
// outbound feed) into the array of its lines, which is how the document describes them.
func ndjsonLines(in *content.DecodeInput) (any, error) {
	lines := []any{}
	sc := bufio.NewScanner(in.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("line %d: %w", len(lines)+1, err)
		}
		lines = append(lines, v)
	}
	return lines, sc.Err()
}

// parquetFile decodes a Parquet body (the decision export) as the string the document's
// schema describes, once export.Verify has read it back whole: a body that is not a
// complete Parquet file of the export's columns is an error.
func parquetFile(in *content.DecodeInput) (any, error) {
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	if _, err := export.Verify(bytes.NewReader(body), int64(len(body))); err != nil {
		return nil, fmt.Errorf("not a decision export: %w", err)
	}
	return string(body), nil
}

// check validates an exchange against the document: the request (if checkRequest) and the
// answer. It returns the problems found.
func (c *contract) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte, checkRequest bool) []string {
	var out []string
	reset := func() {
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
		resp.Body = io.NopCloser(bytes.NewReader(respBody))
	}
	if checkRequest {
		reset()
		if ok, errs := c.val.ValidateHttpRequestSync(req); !ok {
			for _, e := range errs {
				out = append(out, "request: "+e.Error())
			}
		}
	}
	reset()
	if ok, errs := c.val.ValidateHttpResponse(req, resp); !ok {
		for _, e := range errs {
			out = append(out, "answer: "+e.Error())
		}
	}
	reset()
	return out
}

// exampleCase is one named example of an operation: what to send and what must come back.
type exampleCase struct {
	name        string
	status      int    // the status whose content holds the example; 0: the bodiless success
	errorCode   string // for an error example, its code
	response    any    // the example answer, decoded
	sendAs      string // "": the admin key; or no_key, bad_key, forbidden, not_json, body_too_large
	notRun      string // x-not-run: why it is not sent
	contentType string // the media type of the example answer
}

// Special example names, sent as their names say (api/openapi.yaml's shared responses).
var specialCases = []string{"no_key", "bad_key", "forbidden", "not_json", "body_too_large"}

// operationCases lists an operation's examples in the document's order: its request
// body's, then its answers'.
func operationCases(t *testing.T, op *v3.Operation) []exampleCase {
	t.Helper()
	var out []exampleCase
	index := map[string]int{}
	add := func(name string) *exampleCase {
		if i, ok := index[name]; ok {
			return &out[i]
		}
		index[name] = len(out)
		out = append(out, exampleCase{name: name})
		if slices.Contains(specialCases, name) {
			out[len(out)-1].sendAs = name
		}
		return &out[len(out)-1]
	}
	if op.RequestBody != nil {
		if mt := op.RequestBody.Content.GetOrZero("application/json"); mt != nil {
			for name := range mt.Examples.FromOldest() {
				add(name)
			}
		}
	}
	if op.Responses != nil {
		for code, r := range op.Responses.Codes.FromOldest() {
			if r.Content == nil {
				continue
			}
			for mtName, mt := range r.Content.FromOldest() {
				for name, ex := range mt.Examples.FromOldest() {
					c := add(name)
					if c.status != 0 {
						t.Errorf("%s: example %q is an answer of two statuses", op.OperationId, name)
					}
					fmt.Sscan(code, &c.status)
					c.contentType = mtName
					if n := ex.Extensions.GetOrZero("x-not-run"); n != nil {
						c.notRun = n.Value
					}
					if ex.Value != nil {
						var v any
						if err := ex.Value.Decode(&v); err != nil {
							t.Fatalf("%s: example %q: %v", op.OperationId, name, err)
						}
						c.response = v
						if m, ok := v.(map[string]any); ok && c.status >= 400 {
							if e, ok := m["error"].(map[string]any); ok {
								c.errorCode, _ = e["code"].(string)
							}
						}
					}
				}
			}
		}
	}
	return out
}

// bodilessSuccess returns the operation's success status without content (204), or 0.
func bodilessSuccess(op *v3.Operation) int {
	for code, r := range op.Responses.Codes.FromOldest() {
		if strings.HasPrefix(code, "2") && (r.Content == nil || r.Content.Len() == 0) {
			var n int
			fmt.Sscan(code, &n)
			return n
		}
	}
	return 0
}

// paramValue returns a parameter's example for a case: the one of the case's name, else
// the parameter's example, else its first example. ok is false if it has none.
func paramValue(p *v3.Parameter, name string) (string, bool) {
	pick := func(n any) string {
		switch v := n.(type) {
		case string:
			return v
		default:
			return fmt.Sprint(v)
		}
	}
	decode := func(ex *base.Example) (string, bool) {
		var v any
		if ex == nil || ex.Value == nil || ex.Value.Decode(&v) != nil {
			return "", false
		}
		return pick(v), true
	}
	if ex := p.Examples.GetOrZero(name); ex != nil {
		return decode(ex)
	}
	if p.Example != nil {
		var v any
		if p.Example.Decode(&v) == nil {
			return pick(v), true
		}
	}
	for _, ex := range p.Examples.FromOldest() {
		return decode(ex)
	}
	return "", false
}

// conformanceServer is a server like a user's first `make run` (the demo catalog, keys
// on), with a manual clock so that the clock's examples run, and a failure burst that
// lets every operation's bad-key example be answered 401, not 429.
func conformanceServer(t *testing.T) (*testServer, map[string]string) {
	s, adminKey := startSecure(t, func(o *service.Options) {
		o.Demo = true
		o.Clock, o.ClockStart = "manual", "2026-06-01T00:00:00Z"
		o.HTTP.AuthFailureBurst = 1000
	})
	t.Cleanup(s.stop)
	keys := map[string]string{"admin": adminKey}
	admin := s.as(adminKey)
	for _, r := range []string{"decide", "analyst", "viewer"} {
		keys[r] = createKey(t, admin, r)
	}
	return s, keys
}

// TestOpenAPIConformance sends every example of the API reference to a real server, in
// the document's order (a tour: the catalog, a customer, a decision, its feedback, ...),
// and checks each answer: its status is the one the example is filed under, an error's
// code is the example's, and the request and the answer are valid against the document.
// Ids that the server makes (decision ids, key ids) are carried from the answer of the
// example that made them to the later requests that name them. Then every operation is
// sent with every role's key, and must be refused (403) exactly for the roles its
// x-permission does not grant.
func TestOpenAPIConformance(t *testing.T) {
	c := loadContract(t)
	s, keys := conformanceServer(t)
	ids := map[string]string{} // an id in the examples -> the id the server made
	sent := 0
	for path, item := range c.doc.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			perm := permission(op)
			for _, cs := range operationCases(t, op) {
				if cs.notRun != "" {
					continue
				}
				if cs.status == 0 {
					cs.status = bodilessSuccess(op)
				}
				if cs.status == 0 {
					t.Errorf("%s %s: example %q has no answer to expect", strings.ToUpper(method), path, cs.name)
					continue
				}
				if cs.sendAs == "forbidden" && perm == "" {
					continue
				}
				req, body := buildRequest(t, s.base, path, method, item, op, cs, ids)
				switch cs.sendAs {
				case "":
					if perm != "" {
						req.Header.Set("Authorization", "Bearer "+keys["admin"])
					}
				case "bad_key":
					req.Header.Set("Authorization", "Bearer nbk_00000000_"+strings.Repeat("A", 43))
				case "forbidden":
					req.Header.Set("Authorization", "Bearer "+keys[lackingRole(t, perm)])
				case "not_json", "body_too_large":
					req.Header.Set("Authorization", "Bearer "+keys["admin"])
				}
				resp, respBody := do(t, req, body)
				sent++
				what := fmt.Sprintf("%s %s, example %q", req.Method, req.URL.RequestURI(), cs.name)
				if resp.StatusCode != cs.status {
					t.Errorf("%s: status %d, the document says %d; body %.300s", what, resp.StatusCode, cs.status, respBody)
					continue
				}
				if cs.errorCode != "" {
					var e wire.ErrorBody
					if err := json.Unmarshal(respBody, &e); err != nil || e.Error.Code != cs.errorCode {
						t.Errorf("%s: error %.300s, the example's code is %q", what, respBody, cs.errorCode)
					}
				}
				// An error example's request is often invalid on purpose; a success's must be valid.
				for _, p := range c.check(req, body, resp, respBody, cs.sendAs == "" && cs.status < 400) {
					t.Errorf("%s: %s\n  body: %.500s", what, p, respBody)
				}
				learnIDs(cs.response, respBody, ids)
			}
		}
	}
	if sent < 100 {
		t.Errorf("sent %d examples; the document holds more", sent)
	}
	t.Logf("sent %d examples", sent)

	// Roles: every operation that needs a key, with every role's key. A role the
	// permission grants gets past the guard, which a body that is not JSON then stops at
	// 415 (on a read, the first example's answer); any other role gets 403.
	for path, item := range c.doc.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			perm := permission(op)
			if perm == "" || strings.Contains(path, "pprof") {
				continue
			}
			cases := operationCases(t, op)
			for _, role := range access.Roles {
				cs := exampleCase{name: cases[0].name}
				req, body := buildRequest(t, s.base, path, method, item, op, cs, ids)
				if method != "get" {
					body = []byte("x")
					req.Header.Set("Content-Type", "text/plain")
				}
				req.Header.Set("Authorization", "Bearer "+keys[string(role)])
				resp, respBody := do(t, req, body)
				allowed := role.Allows(access.Permission(perm))
				switch {
				case !allowed && resp.StatusCode != http.StatusForbidden:
					t.Errorf("%s %s as %s: status %d, want 403 (the document's x-permission is %s)", req.Method, path, role, resp.StatusCode, perm)
				case allowed && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized):
					t.Errorf("%s %s as %s: status %d %.200s, but x-permission %s grants it", req.Method, path, role, resp.StatusCode, respBody, perm)
				case allowed && method != "get" && resp.StatusCode != http.StatusUnsupportedMediaType:
					t.Errorf("%s %s as %s with a text body: status %d, want 415", req.Method, path, role, resp.StatusCode)
				}
			}
		}
	}
}

// permission returns an operation's x-permission, or "" for one that needs no key.
func permission(op *v3.Operation) string {
	if op.Security != nil && len(op.Security) == 0 {
		return ""
	}
	if n := op.Extensions.GetOrZero("x-permission"); n != nil {
		return n.Value
	}
	return ""
}

// lackingRole returns a role that the permission does not grant.
func lackingRole(t *testing.T, perm string) string {
	for _, r := range []access.Role{access.Viewer, access.Decide, access.Analyst} {
		if !r.Allows(access.Permission(perm)) {
			return string(r)
		}
	}
	t.Fatalf("every role has permission %q", perm)
	return ""
}

// buildRequest makes the request of an example case.
func buildRequest(t *testing.T, base, path, method string, item *v3.PathItem, op *v3.Operation, cs exampleCase, ids map[string]string) (*http.Request, []byte) {
	t.Helper()
	params := append(slices.Clone(item.Parameters), op.Parameters...)
	query := url.Values{}
	for _, p := range params {
		switch p.In {
		case "path":
			v, ok := paramValue(p, cs.name)
			if !ok {
				t.Fatalf("%s %s: path parameter %s has no example", method, path, p.Name)
			}
			if id, ok := ids[v]; ok {
				v = id
			}
			path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(v))
		case "query":
			if p.Examples.GetOrZero(cs.name) == nil && (p.Required == nil || !*p.Required) {
				continue
			}
			v, ok := paramValue(p, cs.name)
			if !ok {
				t.Fatalf("%s %s: required query parameter %s has no example", method, path, p.Name)
			}
			query.Set(p.Name, v)
		}
	}
	var body []byte
	contentType := ""
	switch cs.sendAs {
	case "not_json":
		body, contentType = []byte("not json"), "text/plain"
	case "body_too_large":
		body, contentType = []byte(`{"x": "`+strings.Repeat("a", 1<<20)+`"}`), "application/json"
	default:
		if op.RequestBody != nil {
			mt := op.RequestBody.Content.GetOrZero("application/json")
			if mt == nil {
				t.Fatalf("%s %s: a request body that is not JSON", method, path)
			}
			ex := mt.Examples.GetOrZero(cs.name)
			if ex == nil && cs.sendAs == "" && op.RequestBody.Required != nil && *op.RequestBody.Required {
				// An answer's example with no body of its own name: the first body.
				for _, first := range mt.Examples.FromOldest() {
					ex = first
					break
				}
			}
			if ex != nil {
				var v any
				if err := ex.Value.Decode(&v); err != nil {
					t.Fatal(err)
				}
				raw, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				for from, to := range ids {
					raw = bytes.ReplaceAll(raw, []byte(`"`+from+`"`), []byte(`"`+to+`"`))
				}
				body, contentType = raw, "application/json"
			}
		}
	}
	u := base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(strings.ToUpper(method), u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if cs.sendAs == "body_too_large" {
		// The server answers 413 on the headers and closes the connection; without
		// waiting for that answer the client would still be writing the body into a reset.
		req.Header.Set("Expect", "100-continue")
	}
	return req, body
}

// do sends a request and reads the answer.
func do(t *testing.T, req *http.Request, body []byte) (*http.Response, []byte) {
	t.Helper()
	if req.Header.Get("Expect") == "100-continue" {
		return doHeadersOnly(t, req, body)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// doHeadersOnly sends a request's headers, with the Content-Length of body, on a
// connection of its own, and reads the answer without sending the body. It is for a body
// over the server's limit: the server answers 100 Continue and then refuses the body on
// its Content-Length alone (413) and closes the connection, so a client that writes the
// body after the 100 can have its write reset before it reads the 413 (net/http then
// reports a broken pipe instead of the answer).
func doHeadersOnly(t *testing.T, req *http.Request, body []byte) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", req.URL.Host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Method, req.URL.RequestURI(), req.URL.Host, len(body))
	if err := req.Header.Write(&head); err != nil {
		t.Fatal(err)
	}
	head.WriteString("\r\n")
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusContinue {
			return resp, raw
		}
	}
}

// learnIDs records the ids the server made where the example answer has others: the
// top-level decision_id and id of an object answer.
func learnIDs(example any, got []byte, ids map[string]string) {
	ex, ok := example.(map[string]any)
	if !ok {
		return
	}
	var m map[string]any
	if json.Unmarshal(got, &m) != nil {
		return
	}
	for _, k := range []string{"decision_id", "id"} {
		want, _ := ex[k].(string)
		have, _ := m[k].(string)
		if want != "" && have != "" && want != have {
			ids[want] = have
		}
	}
}
