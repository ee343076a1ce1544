package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// FuzzDecideFast holds decideFast and decideRequest to decideStrict: the same request, or
// the same error, for every body. The seed corpus in testdata/fuzz/FuzzDecideFast has a
// body for each way go-json and encoding/json could part (see decode_fast.go).
func FuzzDecideFast(f *testing.F) {
	f.Add(typicalDecideBody())
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFastPath(t, body, decideFast, decideStrict, decideRequest)
	})
}

// FuzzFeedbackFast is FuzzDecideFast for feedback bodies.
func FuzzFeedbackFast(f *testing.F) {
	f.Add([]byte(typicalFeedbackBody))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFastPath(t, body, feedbackFast, feedbackStrict, feedbackRequest)
	})
}

// checkFastPath checks one body: what fast takes, strict gives too, and decode (the
// handler's decoder: fast, else strict) gives what strict gives, error included.
func checkFastPath[R any](t *testing.T, body []byte, fast func([]byte) (R, bool), strict, decode func([]byte) (R, error)) {
	t.Helper()
	got, ok := fast(body)
	want, wantErr := strict(body)
	if ok && wantErr != nil {
		t.Fatalf("%q: the fast path accepts %+v, the strict path refuses: %v", body, got, wantErr)
	}
	if ok && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: the fast path gives\n%#v\nthe strict path\n%#v", body, got, want)
	}
	dec, err := decode(body)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(dec, want) {
		t.Fatalf("%q: the handler's decoder gives %#v, %v; the strict path %#v, %v", body, dec, err, want, wantErr)
	}
}

// TestDecodeFastTakes checks which bodies the fast paths take: the fuzz targets only
// check that what they take is right, and would pass if they took nothing.
func TestDecodeFastTakes(t *testing.T) {
	for _, tc := range []struct {
		body string
		fast bool
	}{
		{string(typicalDecideBody()), true},
		{`{"customer_id": "c1", "channel": "web"}`, true},
		{` {"customer_id":"c1","channel":"web","context":null,"actions":["a","b"],"limit":2,"time":"2026-11-22T10:00:00+01:00","source":"outbound"} ` + "\n", true},
		{`{"customer_id": "c\u00e9\"1", "context": {"s": "\ud83d\ude00", "n": 1e-400}}`, true},
		{`{"customer_id": "c1", "colour": "red"}`, false}, // unknown field
		{`{"Customer_ID": "c1"}`, false},                                 // encoding/json folds case
		{`{"\u0063hannel": "web"}`, false},                               // escaped key
		{`{"channel": "web", "channel": "app"}`, false},                  // duplicate key
		{`{"limit": 1e2}`, false},                                        // not an int for encoding/json
		{`{"limit": 9223372036854775808}`, false},                        // overflows int64
		{`{"time": "2026-11-22 10:00:00Z"}`, false},                      // not RFC 3339
		{`{"context": [1]}`, false},                                      // not an object
		{`{"customer_id": "c1"} {}`, false},                              // trailing data
		{`{"customer_id": "c1",}`, false},                                // malformed
		{`null`, false},                                                  // encoding/json accepts it, as an empty body
		{``, false},                                                      // empty
		{`{"customer_id": 7}`, false},                                    // wrong type
		{`{"context": {"n": 1e999}}`, false},                             // out of range
		{`{"customer_id": "c1", "context": {"a": {"b": [1, 2]}}}`, true}, // nested
	} {
		if _, ok := decideFast([]byte(tc.body)); ok != tc.fast {
			t.Errorf("decideFast(%q): fast path %t, want %t", tc.body, ok, tc.fast)
		}
	}
	for _, tc := range []struct {
		body string
		fast bool
	}{
		{typicalFeedbackBody, true},
		{`{"decision_id": "d", "action_id": "a", "outcome": "converted", "reward": 19.99, "time": "2026-11-22T10:00:00Z"}`, true},
		{`{"decision_id": "d", "reward": null, "time": null}`, true},
		{`{"decision_id": "d", "reward": 1e999}`, false},
		{`{"decision_id": "d", "reward": "1"}`, false},
		{`{"decision_id": "d", "Reward": 1}`, false},
		{`{"decision_id": "d", "extra": 1}`, false},
	} {
		if _, ok := feedbackFast([]byte(tc.body)); ok != tc.fast {
			t.Errorf("feedbackFast(%q): fast path %t, want %t", tc.body, ok, tc.fast)
		}
	}
}

// typicalDecideBody is a decide body as the load test sends them (cmd/nextbest
// loadtest.go, decideBodies): a 30-field context of 12 numbers, 12 strings and 6 booleans.
func typicalDecideBody() []byte {
	words := []string{"student", "family", "retired", "commuter", "traveller"}
	ctx := map[string]any{}
	for j := range 12 {
		ctx[fmt.Sprintf("num_%02d", j+1)] = float64(j*1370%10000)/100 - 12.5
	}
	for j := range 12 {
		ctx[fmt.Sprintf("str_%02d", j+1)] = words[j%len(words)]
	}
	for j := range 6 {
		ctx[fmt.Sprintf("flag_%02d", j+1)] = j%2 == 0
	}
	b, err := json.Marshal(map[string]any{"customer_id": "lt-c0012345", "channel": "web", "context": ctx})
	if err != nil {
		panic(err)
	}
	return b
}

// typicalFeedbackBody is a feedback body as the load test sends them.
const typicalFeedbackBody = `{"decision_id":"0000019a2b3c4d5e6f708192","action_id":"lt-a07","outcome":"accepted"}`

func BenchmarkDecodeDecide(b *testing.B) {
	benchDecode(b, typicalDecideBody(), decideStrict, decideRequest)
}

func BenchmarkDecodeFeedback(b *testing.B) {
	benchDecode(b, []byte(typicalFeedbackBody), feedbackStrict, feedbackRequest)
}

// benchDecode measures the strict decoder and the handler's (fast, then strict) on body.
func benchDecode[T any](b *testing.B, body []byte, strict, fast func([]byte) (T, error)) {
	type decoder struct {
		name   string
		decode func([]byte) (T, error)
	}
	decoders := []decoder{{"strict", strict}, {"fast", fast}}
	for _, bc := range decoders {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := bc.decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
