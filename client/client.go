package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client is a client of one nextbest server. It is safe for concurrent use; make one and
// share it, so that its connections are reused.
type Client struct {
	base      string   // scheme://host[:port][/prefix], without a trailing slash
	auth      []string // the Authorization header's value, or nil
	userAgent []string
	hc        *http.Client
	retries   int // resends after a 429
}

// Option configures a Client.
type Option func(*Client)

// WithKey sends key as the bearer token of every request (Authorization: Bearer key). An
// empty key sends none, which a server started with --insecure-local accepts from
// loopback.
func WithKey(key string) Option {
	return func(c *Client) {
		c.auth = nil
		if key != "" {
			c.auth = []string{"Bearer " + key}
		}
	}
}

// WithHTTPClient sends the requests with hc instead of the default (a keep-alive transport
// that holds up to 100 idle connections to the server, and no timeout other than the
// context's).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithUserAgent sets the User-Agent header (default "nextbest-client").
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = []string{ua} }
}

// WithRateLimitRetries resends a request that the server refused with 429 (its key is over
// its rate limit) up to n times, each after the wait the server asks for in Retry-After
// (a second if it does not say). Without it a 429 is returned at once as an error
// (engine.ErrRateLimited, with Error.RetryAfter).
func WithRateLimitRetries(n int) Option {
	return func(c *Client) { c.retries = max(n, 0) }
}

// New returns a client of the server at baseURL, such as "http://127.0.0.1:8080" (a bare
// "host:port" means http). It sends nothing until a method is called.
func New(baseURL string, opts ...Option) *Client {
	if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
		baseURL = "http://" + baseURL
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), userAgent: []string{"nextbest-client"}}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: defaultTransport()}
	}
	return c
}

// defaultTransport is http.DefaultTransport's configuration with room for many idle
// connections to the one server a Client talks to: the default keeps 2, and concurrent
// callers would open a new connection for most requests.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 100, 100
	return t
}

// BaseURL returns the server's URL, as requests are sent to it.
func (c *Client) BaseURL() string { return c.base }

// CloseIdleConnections closes the idle keep-alive connections of the client's transport.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// esc escapes one path segment, such as an id.
func esc[S ~string](s S) string { return url.PathEscape(string(s)) }

// buffers holds request and response bodies between requests: the hot paths (decide,
// feedback) then allocate no buffer per request.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// body is a request body given as bytes, sent as they are.
type body struct {
	data        []byte
	contentType string // "" sends none
}

// do sends a request with in (nil, a body, or a value to encode as JSON) and decodes a 2xx
// answer's JSON into out (nil: the answer is read and dropped). Any other status is an
// *Error. path is escaped and may carry a query.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var data []byte
	contentType := "application/json"
	switch b := in.(type) {
	case nil:
		contentType = ""
	case body:
		data, contentType = b.data, b.contentType
	default:
		buf := buffers.Get().(*bytes.Buffer)
		defer buffers.Put(buf)
		buf.Reset()
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false) // rules read "a > b", as the server writes them
		if err := enc.Encode(in); err != nil {
			return fmt.Errorf("%s %s: encode the body: %w", method, trimQuery(path), err)
		}
		data = buf.Bytes()
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.send(ctx, method, path, data, contentType)
		if err != nil {
			return err
		}
		err = c.read(resp, method, path, out)
		var e *Error
		if attempt < c.retries && resp.StatusCode == http.StatusTooManyRequests && errors.As(err, &e) {
			if err := sleep(ctx, cmp.Or(e.RetryAfter, time.Second)); err != nil {
				return err
			}
			continue
		}
		return err
	}
}

// send sends one request and returns the answer, whatever its status.
func (c *Client) send(ctx context.Context, method, path string, data []byte, contentType string) (*http.Response, error) {
	var rd io.Reader
	if data != nil {
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, trimQuery(path), err)
	}
	// Set directly: the keys are canonical, and the values are shared, not copied.
	if contentType != "" {
		req.Header["Content-Type"] = contentTypes(contentType)
	}
	if c.auth != nil {
		req.Header["Authorization"] = c.auth
	}
	req.Header["User-Agent"] = c.userAgent
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, trimQuery(path), err)
	}
	return resp, nil
}

var jsonContentType = []string{"application/json"}

func contentTypes(ct string) []string {
	if ct == "application/json" {
		return jsonContentType
	}
	return []string{ct}
}

// read reads and closes an answer: a 2xx's JSON into out (if not nil), anything else into
// an *Error.
func (c *Client) read(resp *http.Response, method, path string, out any) error {
	defer resp.Body.Close()
	buf := buffers.Get().(*bytes.Buffer)
	defer buffers.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, trimQuery(path), err)
	}
	if resp.StatusCode/100 != 2 {
		return newError(method, path, resp, buf.Bytes())
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, trimQuery(path), err)
	}
	return nil
}

// stream sends a GET and returns the 2xx answer, whose body the caller reads and closes.
func (c *Client) stream(ctx context.Context, path string) (*http.Response, error) {
	resp, err := c.send(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, c.read(resp, http.MethodGet, path, nil)
	}
	return resp, nil
}

// copyTo writes the body of a GET's 2xx answer to w.
func (c *Client) copyTo(ctx context.Context, path string, w io.Writer) error {
	resp, err := c.stream(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("GET %s: %w", trimQuery(path), err)
	}
	return nil
}

// lines decodes a 2xx answer of JSON lines, calling fn with each value (a fresh *T); an
// error of fn stops the stream and is returned.
func lines[T any](ctx context.Context, c *Client, path string, fn func(*T) error) error {
	resp, err := c.stream(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		v := new(T)
		if err := dec.Decode(v); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("GET %s: %w", trimQuery(path), err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
}

func trimQuery(path string) string {
	p, _, _ := strings.Cut(path, "?")
	return p
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// query builds a query string ("?a=1&b=2", or "" for no values) from name, value pairs;
// empty values are left out.
func query(pairs ...string) string {
	var q url.Values
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			if q == nil {
				q = url.Values{}
			}
			q.Set(pairs[i], pairs[i+1])
		}
	}
	if q == nil {
		return ""
	}
	return "?" + q.Encode()
}

// sinceParam formats a since parameter; the zero time is none.
func sinceParam(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}
