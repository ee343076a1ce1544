package engine

import (
	"math"
)

// CheckValues checks decoded JSON values for what the engine refuses: NaN or infinite
// numbers, strings longer than maxString, nesting deeper than depth, and more than
// maxString elements in one array. Errors name the offending path, e.g. context.plan.price.
func CheckValues(path string, m map[string]any, maxString, depth int) error {
	for k, v := range m {
		if len(k) > maxString {
			return errorf(ErrTooLarge, "string_too_long", "%s: a key is longer than %d bytes", path, maxString)
		}
		if err := checkValue(path+"."+k, v, maxString, depth-1); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(path string, v any, maxString, depth int) error {
	switch t := v.(type) {
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return Invalid("invalid_number", "%s: NaN and infinite numbers are not accepted", truncate(path, 200))
		}
	case string:
		if len(t) > maxString {
			return errorf(ErrTooLarge, "string_too_long", "%s: string of %d bytes, at most %d", truncate(path, 200), len(t), maxString)
		}
	case map[string]any:
		if depth <= 0 {
			return Invalid("too_deep", "%s: objects nested too deeply", truncate(path, 200))
		}
		return CheckValues(path, t, maxString, depth)
	case []any:
		if depth <= 0 {
			return Invalid("too_deep", "%s: arrays nested too deeply", truncate(path, 200))
		}
		if len(t) > maxString {
			return errorf(ErrTooLarge, "too_many_fields", "%s: array of %d elements, at most %d", truncate(path, 200), len(t), maxString)
		}
		for _, e := range t {
			if err := checkValue(path+"[]", e, maxString, depth-1); err != nil {
				return err
			}
		}
	}
	return nil
}
