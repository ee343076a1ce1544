package features

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns wraps one of them; errors about one
// field are *FieldError values that also name the field.
var (
	// ErrType means an input value has the wrong type for its field, for example a
	// string where the schema declares a number.
	ErrType = errors.New("wrong type")
	// ErrValue means an input value has the right type but cannot be encoded: NaN,
	// ±Inf, a log1p argument <= -1, or a result that overflows float64.
	ErrValue = errors.New("bad value")
	// ErrSchema means a schema, or encoder state saved for a schema, is invalid or
	// does not match.
	ErrSchema = errors.New("invalid schema")
)

// FieldError is an error about one named field. Err is ErrType, ErrValue or
// ErrSchema, so errors.Is works on it, and errors.As recovers the field name.
type FieldError struct {
	Field string // field name; for the auto encoder, the dotted name with its source, "context.geo.city"
	Line  int    // schema line for schema errors, when known; 0 otherwise
	Msg   string // what is wrong, without the field name
	Err   error  // ErrType, ErrValue or ErrSchema
}

// Error returns `field "name": msg`, prefixed with the line when it is known.
func (e *FieldError) Error() string {
	var s string
	if e.Field != "" {
		s = fmt.Sprintf("field %q: %s", e.Field, e.Msg)
	} else {
		s = e.Msg
	}
	if e.Line > 0 {
		s = fmt.Sprintf("line %d: %s", e.Line, s)
	}
	if errors.Is(e.Err, ErrSchema) {
		s = "invalid schema: " + s
	}
	return s
}

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// typeError reports that field holds v where want was expected.
func typeError(field, want string, v any) error {
	return &FieldError{Field: field, Msg: "want " + want + ", got " + typeName(v), Err: ErrType}
}

// valueError reports a value that cannot be encoded.
func valueError(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrValue}
}

// schemaError reports a schema problem with field (may be empty) at line (may be 0).
func schemaError(field string, line int, format string, args ...any) error {
	return &FieldError{Field: field, Line: line, Msg: fmt.Sprintf(format, args...), Err: ErrSchema}
}

// typeName names the JSON type of v, or its Go type when it is not one.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, float32, int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8, json.Number:
		return "number"
	case map[string]any:
		return "object"
	case []any, []string:
		return "array"
	default:
		return fmt.Sprintf("%T", v)
	}
}
