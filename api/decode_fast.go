package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
)

// The decide and feedback bodies are decoded on every request of the hot path, and
// decode (encoding/json with DisallowUnknownFields, then object for the context) cost
// about a tenth of a decide's CPU in the load test. So these two bodies first try a fast
// path, about twice as fast: encoding/json's json.Valid checks the syntax strictly (go-json
// alone is lenient), knownMembers checks the top-level keys and finds the raw values, and
// goccy/go-json decodes the body, context included, in one pass. The fast path gives
// exactly what the strict path gives, or declines; on a decline, and so on every error,
// the strict path decodes the body again and reports the problem as it always has.
// FuzzDecideFast and FuzzFeedbackFast hold the two paths to that.
//
// Where the two libraries could differ on valid JSON, the fast path does not let them:
//   - top-level keys: only the exact lower-case names of the fields, each at most once.
//     encoding/json also matches "Customer_ID", "\u0063hannel", "ſource" or "lİmit"
//     (Unicode folding), refuses unknown names and lets the last of duplicate keys win;
//     any of those declines.
//   - limit, time and reward are decoded here from their raw bytes with the functions
//     encoding/json calls (strconv.ParseInt, strconv.ParseFloat, time.Time.UnmarshalJSON),
//     so overflow, "1e2" for an int and RFC 3339 parsing are encoding/json's by
//     construction; anything they refuse declines.
//   - context: an object or null, else declines (the strict path's invalid_type). The
//     object is decoded by go-json as object decodes it (FuzzObject): numbers into the
//     same float64, out of range declines. RawContext is a copy of the context's bytes
//     as sent, as encoding/json's json.RawMessage is. knownMembers finds them for about
//     0.4 µs on the load test's body, where decoding a json.RawMessage and then the
//     context from it in a second go-json call costs about 1.3 µs more.
//   - strings: go-json unescapes as encoding/json does, and replaces invalid UTF-8 and
//     lone surrogates with U+FFFD as it does (seeds invalid-utf8 and lone-surrogates).

// decideFields is what go-json decodes of a decide body; limit and time are left to
// decideFast. The names must be the keys of decideKeys.
type decideFields struct {
	CustomerID string            `json:"customer_id"`
	Channel    string            `json:"channel"`
	Context    map[string]any    `json:"context"`
	Actions    []engine.ActionID `json:"actions"`
	Source     string            `json:"source"`
}

// The keys of a decide body, in the order of decideKeys.
const (
	keyCustomerID = iota
	keyChannel
	keyContext
	keyActions
	keyLimit
	keyTime
	keySource
)

var decideKeys = []string{"customer_id", "channel", "context", "actions", "limit", "time", "source"}

// decideRequest decodes a decide body into an engine request: on the fast path if it
// can, else with decode and object.
func decideRequest(body []byte) (engine.DecideRequest, error) {
	if req, ok := decideFast(body); ok {
		return req, nil
	}
	return decideStrict(body)
}

// decideBody is the body of POST /v1/decide (wire.DecideRequest) as the strict path
// decodes it: the context is kept raw, as the decision log keeps it, and decoded by object.
type decideBody struct {
	wire.DecideRequest
	Context json.RawMessage `json:"context"`
}

// decideStrict is the reference decoding of a decide body, and the one that reports errors.
func decideStrict(body []byte) (engine.DecideRequest, error) {
	var b decideBody
	if err := decode(body, &b); err != nil {
		return engine.DecideRequest{}, err
	}
	ctxMap, err := object("context", b.Context)
	if err != nil {
		return engine.DecideRequest{}, err
	}
	req := engine.DecideRequest{
		CustomerID: b.CustomerID,
		Channel:    b.Channel,
		Context:    ctxMap,
		Limit:      b.Limit,
		Source:     b.Source,
	}
	if len(ctxMap) > 0 {
		req.RawContext = b.Context
	}
	if b.Time != nil {
		req.Time = *b.Time
	}
	if len(b.Actions) > 0 {
		req.Actions = b.Actions
	}
	return req, nil
}

// decideFast decodes a decide body as decideStrict does, or reports false.
func decideFast(body []byte) (engine.DecideRequest, bool) {
	var req engine.DecideRequest
	if !json.Valid(body) {
		return req, false
	}
	var rawContext []byte
	ok := knownMembers(body, decideKeys, func(key int, value []byte) bool {
		switch key {
		case keyContext:
			if value[0] != '{' && string(value) != "null" {
				return false
			}
			rawContext = value
		case keyLimit:
			var ok bool
			req.Limit, ok = intLiteral(value)
			return ok
		case keyTime:
			var ok bool
			req.Time, ok = timeLiteral(value)
			return ok
		}
		return true
	})
	if !ok {
		return req, false
	}
	var f decideFields
	if err := gojson.UnmarshalOf(body, &f); err != nil {
		return req, false
	}
	req.CustomerID, req.Channel, req.Source = engine.CustomerID(f.CustomerID), f.Channel, f.Source
	req.Context = f.Context
	if len(f.Context) > 0 {
		req.RawContext = bytes.Clone(rawContext)
	} else if f.Context == nil {
		req.Context = map[string]any{}
	}
	if len(f.Actions) > 0 {
		req.Actions = f.Actions
	}
	return req, true
}

// feedbackFields is what go-json decodes of a feedback body; reward and time are left
// to feedbackFast.
type feedbackFields struct {
	DecisionID string `json:"decision_id"`
	ActionID   string `json:"action_id"`
	Outcome    string `json:"outcome"`
}

// The keys of a feedback body, in the order of feedbackKeys.
const (
	keyDecisionID = iota
	keyActionID
	keyOutcome
	keyReward
	keyFeedbackTime
)

var feedbackKeys = []string{"decision_id", "action_id", "outcome", "reward", "time"}

// feedbackRequest decodes a feedback body into an engine request: on the fast path if it
// can, else with decode.
func feedbackRequest(body []byte) (engine.FeedbackRequest, error) {
	if req, ok := feedbackFast(body); ok {
		return req, nil
	}
	return feedbackStrict(body)
}

// feedbackStrict is the reference decoding of a feedback body, and the one that reports
// errors.
func feedbackStrict(body []byte) (engine.FeedbackRequest, error) {
	var b wire.FeedbackRequest
	if err := decode(body, &b); err != nil {
		return engine.FeedbackRequest{}, err
	}
	req := engine.FeedbackRequest{DecisionID: b.DecisionID, ActionID: b.ActionID, Outcome: b.Outcome, Reward: b.Reward}
	if b.Time != nil {
		req.Time = *b.Time
	}
	return req, nil
}

// feedbackFast decodes a feedback body as feedbackStrict does, or reports false.
func feedbackFast(body []byte) (engine.FeedbackRequest, bool) {
	var req engine.FeedbackRequest
	if !json.Valid(body) {
		return req, false
	}
	ok := knownMembers(body, feedbackKeys, func(key int, value []byte) bool {
		var ok bool
		switch key {
		case keyReward:
			req.Reward, ok = floatLiteral(value)
			return ok
		case keyFeedbackTime:
			req.Time, ok = timeLiteral(value)
			return ok
		}
		return true
	})
	if !ok {
		return req, false
	}
	var f feedbackFields
	if err := gojson.UnmarshalOf(body, &f); err != nil {
		return req, false
	}
	req.DecisionID, req.ActionID, req.Outcome = engine.DecisionID(f.DecisionID), engine.ActionID(f.ActionID), engine.Outcome(f.Outcome)
	return req, true
}

// intLiteral decodes a JSON value into an int as encoding/json does (null leaves the zero
// value), or reports false where encoding/json gives an error.
func intLiteral(value []byte) (int, bool) {
	if string(value) == "null" {
		return 0, true
	}
	n, err := strconv.ParseInt(string(value), 10, strconv.IntSize)
	return int(n), err == nil
}

// floatLiteral decodes a JSON value into a *float64 as encoding/json does (null gives
// nil), or reports false where encoding/json gives an error. value is valid JSON, so
// strconv.ParseFloat sees only JSON numbers or refuses.
func floatLiteral(value []byte) (*float64, bool) {
	if string(value) == "null" {
		return nil, true
	}
	x, err := strconv.ParseFloat(string(value), 64)
	if err != nil {
		return nil, false
	}
	return &x, true
}

// timeLiteral decodes a JSON value into a *time.Time as encoding/json does, through
// time.Time.UnmarshalJSON (null gives the zero time, as a nil *time.Time does in the
// request), or reports false where encoding/json gives an error.
func timeLiteral(value []byte) (time.Time, bool) {
	var t time.Time
	if string(value) == "null" {
		return t, true
	}
	return t, t.UnmarshalJSON(value) == nil
}

// knownMembers calls f with the index in names and the raw value of each member of the
// JSON object body, in order. It reports false, at once, if body is not an object, if a
// key is not one of names byte for byte (an escape, another case, an unknown name), if a
// key comes twice, or if f returns false. body must be valid JSON (json.Valid): the
// scan trusts the syntax and only finds where each part ends. names has at most 64
// entries.
func knownMembers(body []byte, names []string, f func(key int, value []byte) bool) bool {
	var seen uint64
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	if i = skipSpace(body, i+1); body[i] == '}' {
		return true
	}
	for {
		end := skipString(body, i)
		key := memberIndex(names, body[i+1:end-1])
		if key < 0 || seen&(1<<key) != 0 {
			return false
		}
		seen |= 1 << key
		i = skipSpace(body, skipSpace(body, end)+1) // past the colon
		end = skipValue(body, i)
		if !f(key, body[i:end]) {
			return false
		}
		if i = skipSpace(body, end); body[i] == '}' {
			return true
		}
		i = skipSpace(body, i+1) // past the comma
	}
}

// memberIndex returns the index of key in names, byte for byte, or -1.
func memberIndex(names []string, key []byte) int {
	for k, name := range names {
		if string(key) == name {
			return k
		}
	}
	return -1
}

// skipSpace returns the index of the first byte at or after i that is not JSON white
// space, or len(b).
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped byte, which may be a quote
		case '"':
			return i + 1
		}
	}
}

// skipValue returns the index just past the JSON value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for {
			for !structural[b[i]] {
				i++
			}
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t' {
		i++
	}
	return i
}

// structural marks the bytes that skipValue stops at inside an object or an array.
var structural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}
