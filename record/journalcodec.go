package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/internal/binrec"
)

// The stored forms of the records the journal writes besides decisions: each feedback's
// event and the outcome state of its (decision, action) pair, and a contact record for
// each decision that offers something and each negative response. They go to Badger's
// LSM tree, where compactions rewrite them, so their size is what the store's background
// work scales with. The binary forms are half the JSON or less (with 40 features: event
// 958 bytes to 459, outcome state 68 to 15, contact 93 to 23), and encode about 13 times
// and decode about 3 times faster (`go test -run '^$' -bench BenchmarkJournalRecords -v
// ./engine` logs the sizes; docs/benchmarks.md). Records written before them (JSON,
// always starting with '{') are still read. The layout conventions are the decision
// record's (decisioncodec.go), version 2 included: version 1 without the checksum is
// still read.
//
//	event:         seq time decision action customer outcome
//	               reward(presence byte, float) flags(learned, reward_learned)
//	               features: n, n x (varint index), n x float
//	outcome state: seq outcome flags(implicit, rewarded) also: n, n x (outcome seq)
//	contact:       customer time channel flags(negative)
const (
	eventRecordV1   = 1
	outcomeRecordV1 = 1
	contactRecordV1 = 1
	// Version 2 of each is version 1 followed by a CRC-32C of the record (version byte
	// included): a record damaged on disk is an error, never decoded into wrong values.
	eventRecordV2   = 2
	outcomeRecordV2 = 2
	contactRecordV2 = 2
	// Version 3 of the event is version 2 with the objective of a label event
	// (engine/labels.go) after the features; only label events use it.
	eventRecordV3 = 3
)

// errJournalRecord reports a journal record that cannot be decoded.
var errJournalRecord = errors.New("journal record")

// EncodeEvent appends the stored form of e to b.
func EncodeEvent(b []byte, e *Event) []byte {
	b = slices.Grow(b, 48+len(e.DecisionID)+len(e.ActionID)+len(e.CustomerID)+len(e.Outcome)+len(e.Objective)+13*len(e.Features.Index))
	start := len(b)
	version := byte(eventRecordV2)
	if e.Objective != "" {
		version = eventRecordV3
	}
	b = append(b, version)
	b = binary.AppendUvarint(b, e.Seq)
	b = appendTime(b, e.Time)
	for _, s := range [...]string{string(e.DecisionID), string(e.ActionID), string(e.CustomerID), string(e.Outcome)} {
		b = appendString(b, s)
	}
	if e.Reward != nil {
		b = binary.LittleEndian.AppendUint64(append(b, 1), math.Float64bits(*e.Reward))
	} else {
		b = append(b, 0)
	}
	b = append(b, flags(e.Learned, e.RewardLearned))
	b = appendFeatures(b, e.Features)
	if version == eventRecordV3 {
		b = appendString(b, e.Objective)
	}
	return binrec.AppendChecksum(b, start)
}

// DecodeEvent decodes a stored event, binary or (older) JSON, into e. e keeps nothing of
// b. It never panics on bad input; the error wraps errJournalRecord.
func DecodeEvent(b []byte, e *Event) error {
	if isJSON(b) {
		*e = Event{}
		if err := decodeJSONRecord(b, e); err != nil {
			return err
		}
		if err := jsonTimes(errJournalRecord, &e.Time); err != nil {
			return err
		}
		return jsonFeatures(errJournalRecord, &e.Features)
	}
	v2 := byte(eventRecordV2)
	if len(b) > 0 && b[0] == eventRecordV3 {
		v2 = eventRecordV3 // checksummed like version 2, with the objective at the end
	}
	r, err := journalReader(b, eventRecordV1, v2, "event")
	if err != nil {
		return err
	}
	out := Event{
		Seq:        r.Uvarint("seq"),
		Time:       r.time(),
		DecisionID: DecisionID(r.str()),
		ActionID:   ActionID(r.str()),
		CustomerID: CustomerID(r.str()),
		Outcome:    r.outcome(),
	}
	switch r.Byte("reward") {
	case 0:
	case 1:
		v := r.Float64("reward")
		out.Reward = &v
	default:
		r.Fail("reward presence")
	}
	f := r.flags(2)
	out.Learned, out.RewardLearned = f&1 != 0, f&2 != 0
	out.Features = r.features()
	if v2 == eventRecordV3 {
		if out.Objective = r.str(); out.Objective == "" {
			r.Fail("a label event without its objective")
		}
	}
	if err := r.Done(); err != nil {
		return err
	}
	*e = out
	return nil
}

// EncodeOutcomeState appends the stored form of o to b.
func EncodeOutcomeState(b []byte, o *OutcomeState) []byte {
	b = slices.Grow(b, 20+len(o.Outcome)+20*len(o.Also))
	start := len(b)
	b = append(b, outcomeRecordV2)
	b = binary.AppendUvarint(b, o.Seq)
	b = appendString(b, string(o.Outcome))
	b = append(b, flags(o.Implicit, o.Rewarded))
	b = binary.AppendUvarint(b, uint64(len(o.Also)))
	for _, a := range o.Also {
		b = appendString(b, string(a.Outcome))
		b = binary.AppendUvarint(b, a.Seq)
	}
	return binrec.AppendChecksum(b, start)
}

// DecodeOutcomeState decodes a stored outcome state, binary or (older) JSON, into o.
func DecodeOutcomeState(b []byte, o *OutcomeState) error {
	if isJSON(b) {
		*o = OutcomeState{}
		if err := decodeJSONRecord(b, o); err != nil {
			return err
		}
		if len(o.Also) == 0 {
			o.Also = nil // as the binary form reads it
		}
		return nil
	}
	r, err := journalReader(b, outcomeRecordV1, outcomeRecordV2, "outcome state")
	if err != nil {
		return err
	}
	out := OutcomeState{Seq: r.Uvarint("seq"), Outcome: r.outcome()}
	f := r.flags(2)
	out.Implicit, out.Rewarded = f&1 != 0, f&2 != 0
	if n := r.Count(2, "count"); n > 0 {
		out.Also = make([]LoggedOutcome, n)
		for i := range out.Also {
			out.Also[i] = LoggedOutcome{Outcome: r.outcome(), Seq: r.Uvarint("seq")}
		}
	}
	if err := r.Done(); err != nil {
		return err
	}
	*o = out
	return nil
}

// EncodeContact appends the stored form of c to b.
func EncodeContact(b []byte, c *ContactEvent) []byte {
	b = slices.Grow(b, 20+len(c.Customer)+len(c.Channel))
	start := len(b)
	b = append(b, contactRecordV2)
	b = appendString(b, string(c.Customer))
	b = appendTime(b, c.Time)
	b = appendString(b, c.Channel)
	b = append(b, flags(c.Negative, false))
	return binrec.AppendChecksum(b, start)
}

// DecodeContact decodes a stored contact, binary or (older) JSON, into c.
func DecodeContact(b []byte, c *ContactEvent) error {
	if isJSON(b) {
		*c = ContactEvent{}
		if err := decodeJSONRecord(b, c); err != nil {
			return err
		}
		return jsonTimes(errJournalRecord, &c.Time)
	}
	r, err := journalReader(b, contactRecordV1, contactRecordV2, "contact")
	if err != nil {
		return err
	}
	out := ContactEvent{Customer: CustomerID(r.str()), Time: r.time(), Channel: r.str()}
	out.Negative = r.flags(1)&1 != 0
	if err := r.Done(); err != nil {
		return err
	}
	*c = out
	return nil
}

// flags packs booleans into a byte, the first in the lowest bit.
func flags(a, b bool) byte {
	var f byte
	if a {
		f |= 1
	}
	if b {
		f |= 2
	}
	return f
}

// flags reads a flag byte with n defined bits; any other bit set is an error, so that
// a later version's flag is never silently dropped.
func (r *recordReader) flags(n uint) byte {
	f := r.Byte("flags")
	if f>>n != 0 {
		r.Fail("unknown flags %#x", f)
	}
	return f
}

// outcome reads an outcome; the known ones without allocating a string.
func (r *recordReader) outcome() Outcome {
	b := r.LenBytes("string")
	for _, o := range [...]Outcome{Ignored, Accepted, Rejected, Clicked, Converted, Timeout} {
		if string(b) == string(o) {
			return o
		}
	}
	return Outcome(b)
}

func isJSON(b []byte) bool { return len(b) > 0 && b[0] == '{' }

// decodeJSONRecord decodes a record written before the binary forms.
func decodeJSONRecord(b []byte, v any) error {
	// A copy: the decoder may keep slices of its input, which the store may reuse.
	if err := gojson.Unmarshal(bytes.Clone(b), v); err != nil {
		return fmt.Errorf("%w: %v", errJournalRecord, err)
	}
	return nil
}

// jsonTimes puts the times of a JSON record in UTC, as the binary form reads them, and
// refuses one the binary form cannot hold (outside the years 1678 to 2262, which
// time.UnixNano spans): no engine wrote one, so such a record is corrupt, and the error
// wraps sentinel.
func jsonTimes(sentinel error, ts ...*time.Time) error {
	for _, t := range ts {
		if t.IsZero() {
			*t = time.Time{} // the zero instant written with an offset has a location; the binary form's has none
			continue
		}
		if time.Unix(0, t.UnixNano()).Equal(*t) {
			*t = t.UTC()
			continue
		}
		return fmt.Errorf("%w: time %s out of range", sentinel, t.Format(time.RFC3339))
	}
	return nil
}

// jsonFeatures checks a JSON record's feature vector and gives an empty one the binary
// form's shape (nil lists, which encoding/json writes as an absent vector): a vector is
// index and value pairs, and the binary form cannot hold lists that differ in length,
// which no engine ever wrote. The error wraps sentinel.
func jsonFeatures(sentinel error, x *features.Vector) error {
	if len(x.Index) != len(x.Value) {
		return fmt.Errorf("%w: features: %d indexes but %d values", sentinel, len(x.Index), len(x.Value))
	}
	if len(x.Index) == 0 {
		*x = features.Vector{}
	}
	return nil
}

// journalReader checks a binary record's version byte (v1, or v2 with its checksum) and
// returns a reader of the fields after it.
func journalReader(b []byte, v1, v2 byte, what string) (recordReader, error) {
	body, err := versioned(b, v1, v2, errJournalRecord)
	if err != nil {
		return recordReader{}, fmt.Errorf("%s: %w", what, err)
	}
	return recordReader{binrec.NewReader(body, errJournalRecord)}, nil
}

// versioned returns the fields of a binary record after its version byte: for v2, once
// the checksum at its end matches (binrec.Checked); v1 has none. Errors wrap sentinel.
func versioned(b []byte, v1, v2 byte, sentinel error) ([]byte, error) {
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("%w: empty", sentinel)
	case b[0] == v1:
		return b[1:], nil
	case b[0] == v2:
		body, err := binrec.Checked(b, sentinel)
		if err != nil {
			return nil, err
		}
		return body[1:], nil
	}
	return nil, fmt.Errorf("%w: unknown version %d", sentinel, b[0])
}
