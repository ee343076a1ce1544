package features

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
)

// number reports whether v has a numeric Go type and returns it as float64. err is
// set for a json.Number that does not parse, or overflows, and for NaN and ±Inf.
func number(field string, v any) (x float64, ok bool, err error) {
	switch t := v.(type) {
	case float64:
		x = t
	case float32:
		x = float64(t)
	case int:
		x = float64(t)
	case int64:
		x = float64(t)
	case int32:
		x = float64(t)
	case int16:
		x = float64(t)
	case int8:
		x = float64(t)
	case uint:
		x = float64(t)
	case uint64:
		x = float64(t)
	case uint32:
		x = float64(t)
	case uint16:
		x = float64(t)
	case uint8:
		x = float64(t)
	case json.Number:
		f, perr := strconv.ParseFloat(string(t), 64)
		if perr != nil {
			if errors.Is(perr, strconv.ErrRange) {
				return 0, true, valueError(field, "number %s overflows float64", string(t))
			}
			return 0, true, &FieldError{Field: field, Msg: "want number, got malformed json.Number " + strconv.Quote(string(t)), Err: ErrType}
		}
		x = f
	default:
		return 0, false, nil
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, true, valueError(field, "%v is not a finite number", x)
	}
	return x, true, nil
}

// toNumber returns v as a finite float64 or an error naming field.
func toNumber(field string, v any) (float64, error) {
	x, ok, err := number(field, v)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, typeError(field, "number", v)
	}
	return x, nil
}

// toBool returns v as a boolean. Besides bool it accepts, for data that comes from
// CSV files and forms, the strings "true", "false", "yes" and "no" in any ASCII case,
// and the numbers 0 and 1.
func toBool(field string, v any) (bool, error) {
	switch t := v.(type) {
	case bool:
		return t, nil
	case string:
		switch {
		case equalFold(t, "true"), equalFold(t, "yes"):
			return true, nil
		case equalFold(t, "false"), equalFold(t, "no"):
			return false, nil
		}
		return false, &FieldError{Field: field, Msg: "want boolean, got string " + strconv.Quote(t), Err: ErrType}
	}
	x, ok, err := number(field, v)
	if err != nil {
		return false, err
	}
	if ok && (x == 0 || x == 1) {
		return x == 1, nil
	}
	if ok {
		return false, &FieldError{Field: field, Msg: "want boolean, got number " + strconv.FormatFloat(x, 'g', -1, 64), Err: ErrType}
	}
	return false, typeError(field, "boolean", v)
}

// equalFold is strings.EqualFold for an ASCII lower-case target.
func equalFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// category returns the categorical spelling of v: a string as s, or a number as
// strconv.FormatFloat(x, 'g', -1, 64) spells it, appended to buf (a caller's stack
// buffer) and returned as b, so that no allocation happens. Exactly one of s and b is
// meaningful: b is nil for strings.
func category(field string, v any, buf []byte) (s string, b []byte, err error) {
	if t, ok := v.(string); ok {
		return t, nil, nil
	}
	x, ok, err := number(field, v)
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, typeError(field, "string", v)
	}
	return "", strconv.AppendFloat(buf[:0], x, 'g', -1, 64), nil
}

// formatNumber is the categorical spelling of a number.
func formatNumber(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
