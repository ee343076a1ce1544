package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// Error is an answer of the server with a status other than 2xx. It wraps the server's
// error (Err), so errors.Is(err, engine.ErrNotFound), engine.ErrorCode(err) and
// errors.As(err, &engineErr) see the engine's error as the server had it.
type Error struct {
	Method string // of the request
	Path   string // of the request, without its query
	Status int    // the HTTP status
	// RetryAfter is how long the server asks the client to wait before it tries again
	// (the Retry-After header of a 429 or a 503); 0 if it did not say.
	RetryAfter time.Duration
	// Err is the server's error: the code and message of its JSON error body, and the
	// engine's kind for the status (nil for a status the server maps no kind to, such as
	// 500). For a body that is not nextbest's error JSON, Code is empty and Message
	// quotes the start of the body.
	Err *engine.Error
}

// Error returns "METHOD PATH: STATUS CODE: MESSAGE".
func (e *Error) Error() string {
	if e.Err.Code == "" {
		return fmt.Sprintf("%s %s: %d: %s", e.Method, e.Path, e.Status, e.Err.Message)
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Err.Code, e.Err.Message)
}

// Unwrap returns the engine's error.
func (e *Error) Unwrap() error { return e.Err }

// kinds maps a status to the engine's kind of error: the inverse of api's one mapping
// (api/errors.go).
var kinds = map[int]error{
	http.StatusBadRequest:            engine.ErrInvalid,
	http.StatusUnauthorized:          engine.ErrUnauthenticated,
	http.StatusForbidden:             engine.ErrForbidden,
	http.StatusNotFound:              engine.ErrNotFound,
	http.StatusRequestEntityTooLarge: engine.ErrTooLarge,
	http.StatusUnprocessableEntity:   engine.ErrUnprocessable,
	http.StatusTooManyRequests:       engine.ErrRateLimited,
	http.StatusServiceUnavailable:    engine.ErrUnavailable,
	http.StatusInsufficientStorage:   engine.ErrInsufficientStorage,
}

// newError reads an error answer's body (raw).
func newError(method, path string, resp *http.Response, raw []byte) *Error {
	e := &Error{Method: method, Path: trimQuery(path), Status: resp.StatusCode, Err: &engine.Error{Kind: kinds[resp.StatusCode]}}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	var eb wire.ErrorBody
	if json.Unmarshal(raw, &eb) == nil && eb.Error.Code != "" {
		e.Err.Code, e.Err.Message = eb.Error.Code, eb.Error.Message
		return e
	}
	const most = 200
	snippet := raw[:min(len(raw), most)]
	e.Err.Message = fmt.Sprintf("%s, and a body that is not a nextbest error: %q", http.StatusText(resp.StatusCode), snippet)
	if len(snippet) == 0 {
		e.Err.Message = http.StatusText(resp.StatusCode) + ", and no body"
	}
	return e
}
