package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	gojson "github.com/goccy/go-json"

	"github.com/nextbest/nextbest/engine"
)

// decode parses a JSON object strictly: unknown fields and trailing data are errors.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return decodeError(errEmptyBody)
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
			return engine.Invalid("unknown_field", "%s: the accepted fields are listed in the API reference at /docs", strings.TrimPrefix(msg, "json: "))
		}
		return decodeError(err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return engine.Invalid("invalid_json", "trailing data after the JSON object")
	}
	return nil
}

// object decodes a JSON object of free-form values (a context or attributes). null and an
// absent value give an empty map. raw is a json.RawMessage that decode (encoding/json)
// filled, so it is valid JSON.
func object(field string, raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	if raw[0] != '{' {
		return nil, engine.Invalid("invalid_type", "field %q: want a JSON object", field)
	}
	// goccy/go-json decodes free-form objects about twice as fast as encoding/json, into the
	// same values (float64, string, bool, nil, []any, map[string]any); it is more lenient
	// about malformed input, which encoding/json has already refused by the time raw gets
	// here. On an error, encoding/json decodes again so that the error names the problem
	// the same way as everywhere else. FuzzObject checks the two against each other on
	// valid JSON.
	var m map[string]any
	if err := gojson.Unmarshal(raw, &m); err == nil && m != nil {
		return m, nil
	}
	m = nil
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, decodeError(err)
	}
	return m, nil
}
