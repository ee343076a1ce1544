package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

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
		// encoding/json returns time.Time's own parse error, which names no field: name
		// the field that holds the bad value.
		var pe *time.ParseError
		if errors.As(err, &pe) {
			switch fields := fieldsHolding(body, pe.Value); len(fields) {
			case 0:
			case 1:
				return engine.Invalid("invalid_type", "field %s: %q is not an RFC 3339 time such as 2026-11-22T10:00:00Z", fields[0], pe.Value)
			default:
				return engine.Invalid("invalid_type", "one of the fields %s: %q is not an RFC 3339 time such as 2026-11-22T10:00:00Z", strings.Join(fields, ", "), pe.Value)
			}
		}
		return decodeError(err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return engine.Invalid("invalid_json", "trailing data after the JSON object")
	}
	return nil
}

// fieldsHolding returns the dotted paths ("window.since") of the object members of the
// JSON text body whose value is the string value (an array element counts as its
// member's), each once, in order.
func fieldsHolding(body []byte, value string) []string {
	var found []string
	d := json.NewDecoder(bytes.NewReader(body))
	var keys []string   // the current key of each open container ("" for an array)
	var inObject []bool // whether each open container is an object
	expectKey := false
	for {
		tok, err := d.Token()
		if err != nil {
			return found
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				keys, inObject = append(keys, ""), append(inObject, t == '{')
				expectKey = t == '{'
				continue
			default:
				keys, inObject = keys[:len(keys)-1], inObject[:len(inObject)-1]
			}
		case string:
			if expectKey {
				keys[len(keys)-1], expectKey = t, false
				continue
			}
			if t == value {
				var path []string
				for _, k := range keys {
					if k != "" {
						path = append(path, k)
					}
				}
				if p := strconv.Quote(strings.Join(path, ".")); !slices.Contains(found, p) {
					found = append(found, p)
				}
			}
		}
		// After a value (or a closed container) inside an object, a key comes next.
		expectKey = len(inObject) > 0 && inObject[len(inObject)-1]
	}
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
