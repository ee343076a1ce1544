package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzObject checks object's fast path against encoding/json on what object receives,
// values that encoding/json has validated: the same value where encoding/json decodes
// the object into a map, an error where it refuses (a number out of range).
func FuzzObject(f *testing.F) {
	for _, s := range []string{
		`{"segment": "student", "hour": 13, "basket_eur": 42.5, "tags": ["a", "b"], "plan": {"tier": "pro"}}`,
		`{"n": -1e999}`, `{"n": 1e308, "m": -0, "e": 1E-400}`, `{"s": "\u00e9\ud83d\ude00 \"q\" \\ \/"}`,
		`{"bad": "\xff\xfe"}`, `{"dup": 1, "dup": 2}`, `{"a": null, "b": true, "c": false}`,
		`{"a": [1, {"b": [null]}]}`, `{"a": 01}`, `{"a": 1,}`, `{"a" 1}`, `{}`, `{"a": "x"} `,
		`{"a": .5}`, `{"a": 1.}`, `{"a": +1}`, `{"a": NaN}`, `{"a": "\u0000"}`, `{"a": "tab	in"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) == 0 || body[0] != '{' || !json.Valid(body) {
			return
		}
		got, gotErr := object("context", body)
		var want map[string]any
		wantErr := json.Unmarshal(bytes.TrimSpace(body), &want) // object trims as well
		if want == nil && wantErr == nil {
			want = map[string]any{}
		}
		switch {
		case wantErr != nil && gotErr == nil:
			t.Fatalf("%q: encoding/json refuses it (%v), object accepts %v", body, wantErr, got)
		case wantErr == nil && gotErr != nil:
			t.Fatalf("%q: encoding/json accepts it, object refuses: %v", body, gotErr)
		case wantErr == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("%q: object gives %#v, encoding/json %#v", body, got, want)
		}
	})
}
