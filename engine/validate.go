package engine

import (
	"math"
	"time"
)

// The event times the engine accepts, in Unix seconds: 1970-01-01 to 2200-01-01. Decision
// ids and pending-response keys order times by uint64(t.UnixNano()), which keeps time
// order only from 1970 to 2262, and the log writes times in RFC 3339, whose years stop
// at 9999. Outside them a decision cannot be logged, and an event that cannot be encoded
// would fail the whole group commit it is in.
const (
	minEventUnix = 0
	maxEventUnix = 7258118400
)

// checkTime refuses an event time outside 1970-2200; the zero time (now) is accepted.
func checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if s := t.Unix(); s < minEventUnix || s >= maxEventUnix {
		return Invalid("invalid_field", "%s: %s is outside the accepted range, 1970 to 2200", field, t.Format(time.RFC3339))
	}
	return nil
}

// CheckValues checks decoded JSON values for what the engine refuses: NaN or infinite
// numbers, strings longer than maxString, nesting deeper than depth, and more than
// maxString elements in one array. Errors name the offending path, e.g. context.plan.price.
func CheckValues(path string, m map[string]any, maxString, depth int) error {
	for k, v := range m {
		if len(k) > maxString {
			return errorf(ErrTooLarge, "string_too_long", "%s: a key is longer than %d bytes", path, maxString)
		}
		if err := checkValue(path, "."+k, v, maxString, depth-1); err != nil {
			return err
		}
	}
	return nil
}

// checkValue checks the value v at parent+key. The name is joined only for an error or a
// nested value, so that checking a flat context of valid values allocates nothing.
func checkValue(parent, key string, v any, maxString, depth int) error {
	path := func() string { return truncate(parent+key, 200) }
	switch t := v.(type) {
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return Invalid("invalid_number", "%s: NaN and infinite numbers are not accepted", path())
		}
	case string:
		if len(t) > maxString {
			return errorf(ErrTooLarge, "string_too_long", "%s: string of %d bytes, at most %d", path(), len(t), maxString)
		}
	case map[string]any:
		if depth <= 0 {
			return Invalid("too_deep", "%s: objects nested too deeply", path())
		}
		return CheckValues(parent+key, t, maxString, depth)
	case []any:
		if depth <= 0 {
			return Invalid("too_deep", "%s: arrays nested too deeply", path())
		}
		if len(t) > maxString {
			return errorf(ErrTooLarge, "too_many_fields", "%s: array of %d elements, at most %d", path(), len(t), maxString)
		}
		for _, e := range t {
			if err := checkValue(parent, key+"[]", e, maxString, depth-1); err != nil {
				return err
			}
		}
	}
	return nil
}
