package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
)

// Money is an amount of money for one customer: a constant, or an expression in the rule
// language (docs/security.md, "Rules") over profile.*, context.*, channel and
// customer_id that gives a number, evaluated at decision time. In JSON it is a number or
// a string:
//
//	"cost": 12.5
//	"cost": "0.2 * (profile.monthly_spend ?? 0) * 12"
type Money struct {
	Const float64
	Expr  string
}

// IsZero reports whether m is the constant 0 with no expression.
func (m Money) IsZero() bool { return m.Expr == "" && m.Const == 0 }

// MarshalJSON writes the expression as a string, or the constant as a number.
func (m Money) MarshalJSON() ([]byte, error) {
	if m.Expr != "" {
		return MarshalNoEscape(m.Expr)
	}
	if !finite(m.Const) {
		return nil, fmt.Errorf("money: %v is not finite", m.Const)
	}
	return strconv.AppendFloat(nil, m.Const, 'g', -1, 64), nil
}

// MarshalNoEscape is json.Marshal without HTML escaping, the JSON the API writes
// (api.marshalJSON): an expression's "a >= b" stays readable, not "a \u003e= b".
func MarshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// UnmarshalJSON reads a number or a string. An empty string or null is zero.
func (m *Money) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*m = Money{}
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		return json.Unmarshal(b, &m.Expr)
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// The decoder names the field; the type says what is wanted (api's
			// decodeError words it).
			return &json.UnmarshalTypeError{Value: te.Value, Type: reflect.TypeFor[Money]()}
		}
		return err
	}
	m.Const = f
	return nil
}

// finite reports whether f is neither NaN nor infinite.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
