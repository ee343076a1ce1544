package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// status maps an error to its HTTP status and code. This is the one place that does so.
func status(err error) (int, string, string) {
	var fe *fiber.Error
	var ee *engine.Error
	code := engine.ErrorCode(err)
	switch {
	case errors.As(err, &fe):
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			return fe.Code, "body_too_large", "request body too large"
		case fiber.StatusNotFound:
			return fe.Code, "not_found", "no such endpoint: " + fe.Message
		case fiber.StatusMethodNotAllowed:
			return fe.Code, "method_not_allowed", fe.Message
		case fiber.StatusTooManyRequests:
			return fe.Code, "rate_limited", "too many requests for this key; retry after the number of seconds in Retry-After"
		case fiber.StatusUnsupportedMediaType:
			return fe.Code, "unsupported_media_type", fe.Message
		}
		return fe.Code, "http_error", fe.Message
	case errors.Is(err, engine.ErrUnauthenticated):
		return fiber.StatusUnauthorized, or(code, "unauthenticated"), err.Error()
	case errors.Is(err, engine.ErrForbidden):
		return fiber.StatusForbidden, or(code, "forbidden"), err.Error()
	case errors.Is(err, engine.ErrRateLimited):
		return fiber.StatusTooManyRequests, or(code, "rate_limited"), err.Error()
	case errors.Is(err, engine.ErrInvalid):
		return fiber.StatusBadRequest, or(code, "invalid_request"), err.Error()
	case errors.Is(err, engine.ErrNotFound):
		return fiber.StatusNotFound, or(code, "not_found"), err.Error()
	case errors.Is(err, engine.ErrUnprocessable):
		return fiber.StatusUnprocessableEntity, or(code, "unprocessable"), err.Error()
	case errors.Is(err, engine.ErrTooLarge):
		return fiber.StatusRequestEntityTooLarge, or(code, "too_large"), err.Error()
	case errors.Is(err, engine.ErrInsufficientStorage):
		// A fixed message: the wrapped error names files and sizes, which are the operator's.
		return fiber.StatusInsufficientStorage, or(code, "insufficient_storage"), "insufficient storage: the server's disk is full, so writes are refused until space is freed; decisions are still answered"
	case errors.Is(err, engine.ErrUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fiber.StatusServiceUnavailable, or(code, "unavailable"), "the service is unavailable: " + err.Error()
	case errors.As(err, &ee):
		return fiber.StatusBadRequest, ee.Code, ee.Message
	}
	return fiber.StatusInternalServerError, "internal", "internal error; the operator's log has the details"
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// errorHandler renders any error as the JSON error body. Internal errors are logged here
// (and only here) with their details; the client sees a generic message.
func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		st, code, msg := status(err)
		// 503 and 507 are states of the service (starting, stopping, disk full) that it
		// reports elsewhere (/readyz, metrics, one log line per change), not failures of
		// this request.
		if st >= 500 && st != fiber.StatusServiceUnavailable && st != fiber.StatusInsufficientStorage {
			log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
		}
		if st == fiber.StatusServiceUnavailable {
			c.Set(fiber.HeaderRetryAfter, "1")
		}
		if st == fiber.StatusUnauthorized {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="nextbest"`)
		}
		return c.Status(st).JSON(wire.ErrorBody{Error: wire.ErrorDetail{Code: code, Message: msg}})
	}
}

// decodeError turns an encoding/json error into a 400 that names the field.
func decodeError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var pe *time.ParseError
	switch {
	case errors.As(err, &pe):
		return engine.Invalid("invalid_type", "a time field: %q is not an RFC 3339 time such as 2026-11-22T10:00:00Z", pe.Value)
	case errors.As(err, &se):
		return engine.Invalid("invalid_json", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te) && strings.HasPrefix(te.Value, "number") && te.Type != nil && (te.Type.Kind() == reflect.Float64 || te.Type.Kind() == reflect.Interface || te.Type == reflect.TypeFor[engine.Money]()):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return engine.Invalid("invalid_number", "field %q: %s is out of range (JSON numbers must fit a 64-bit float)", field, te.Value)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		want := typeName(te.Type)
		if te.Type == reflect.TypeFor[engine.Money]() {
			want = "a number or an expression string"
		}
		return engine.Invalid("invalid_type", "field %q: want %s, got JSON %s", field, want, te.Value)
	case errors.Is(err, errEmptyBody):
		return engine.Invalid("invalid_json", "empty request body: send a JSON object")
	}
	return engine.Invalid("invalid_json", "malformed JSON: %v", err)
}

var errEmptyBody = fmt.Errorf("empty body")

// typeName names a Go type as JSON's reader knows it: a named type of a basic kind by its
// kind (an engine.ActionID is a string), element types likewise.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return "[]" + typeName(t.Elem())
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Bool, reflect.String, reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64:
		return t.Kind().String()
	}
	return t.String()
}
