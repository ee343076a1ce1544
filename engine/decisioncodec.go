package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/internal/binrec"
)

// The decision record's stored form. A decision is logged on every contact, so its record
// is on the hot path twice (written by decide, read back by late feedback) and makes up
// most of the store. The binary form is about half the size of the JSON and several
// times faster to write and read (BenchmarkDecisionRecord). Records written before it
// (JSON, always starting with '{') are still read.
//
// Layout, after the version byte: strings and byte strings as uvarint length then bytes;
// counts as uvarints; times as a presence byte then a varint of Unix nanoseconds (UTC);
// floats as 8 bytes little-endian IEEE 754. Version 2 is version 1 followed by a CRC-32C
// of the record, version byte included (binrec.AppendChecksum): a record damaged on disk
// is an error, never decoded into wrong values; version 1 records are still read.
//
//	id customer channel time arm experiment source context schema
//	features: n, n x (varint index), n x float
//	candidates: n, n x (id filtered detail varint(rank) propensity score value weight
//	                    priority probability uvarint(model_seq))
//	chosen: n, n x id
//	no_action(byte) reason deadline
//
// Version 3 adds, after each candidate's model_seq, a byte that says whether the
// candidate was priced (engine.netChoice), and if so its cost, contact cost, effect,
// effect SD, effect value and net value as floats; and after the deadline, the
// no-action probability as a float.
const (
	decisionRecordV1 = 1
	decisionRecordV2 = 2
	decisionRecordV3 = 3
)

// errRecord reports a decision record that cannot be decoded.
var errRecord = errors.New("decision record")

// EncodeDecision appends the stored form of d (without its outcomes, which live in the
// journal) to b.
func EncodeDecision(b []byte, d *Decision) []byte {
	start := len(b)
	b = append(b, decisionRecordV3)
	for _, s := range []string{string(d.ID), string(d.CustomerID), d.Channel} {
		b = appendString(b, s)
	}
	b = appendTime(b, d.Time)
	for _, s := range []string{d.Arm, string(d.Experiment), d.Source, string(d.Context), d.Schema} {
		b = appendString(b, s)
	}
	b = appendFeatures(b, d.Features)
	b = binary.AppendUvarint(b, uint64(len(d.Candidates)))
	for i := range d.Candidates {
		c := &d.Candidates[i]
		b = appendString(b, string(c.ID))
		b = appendString(b, c.Filtered)
		b = appendString(b, c.Detail)
		b = binary.AppendVarint(b, int64(c.Rank))
		for _, v := range [...]float64{c.Propensity, c.Score, c.Value, c.Weight, c.Priority, c.Probability} {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		b = binary.AppendUvarint(b, c.ModelSeq)
		if c.priced() {
			b = append(b, 1)
			for _, v := range [...]float64{c.Cost, c.ContactCost, c.Effect, c.EffectSD, c.EffectValue, c.Net} {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
			}
		} else {
			b = append(b, 0)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(d.Chosen)))
	for _, id := range d.Chosen {
		b = appendString(b, string(id))
	}
	if d.NoAction {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendString(b, d.Reason)
	b = appendTime(b, d.Deadline)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(d.NoActionProbability))
	return binrec.AppendChecksum(b, start)
}

// DecodeDecision decodes a stored decision record, binary or (older) JSON, into d. d
// keeps nothing of b, so b may be a buffer the caller reuses. It never panics on bad
// input; the error wraps errRecord.
func DecodeDecision(b []byte, d *Decision) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty", errRecord)
	}
	if b[0] == '{' {
		*d = Decision{}
		// A copy: the decoder may keep slices of its input, which the store may reuse.
		if err := gojson.Unmarshal(bytes.Clone(b), d); err != nil {
			return fmt.Errorf("%w: %v", errRecord, err)
		}
		if err := jsonTimes(errRecord, &d.Time, &d.Deadline); err != nil {
			return err
		}
		// The shape the binary form reads: no outcomes (they live in the journal), a
		// non-nil candidate list, no empty chosen list.
		d.Outcomes = nil
		if d.Candidates == nil {
			d.Candidates = []Candidate{}
		}
		if len(d.Chosen) == 0 {
			d.Chosen = nil
		}
		return jsonFeatures(errRecord, &d.Features)
	}
	v2 := byte(decisionRecordV2)
	if b[0] == decisionRecordV3 {
		v2 = decisionRecordV3 // checksummed like version 2, with the priced terms
	}
	body, err := versioned(b, decisionRecordV1, v2, errRecord)
	if err != nil {
		return err
	}
	r := recordReader{binrec.NewReader(body, errRecord)}
	out := Decision{
		ID:         DecisionID(r.str()),
		CustomerID: CustomerID(r.str()),
		Channel:    r.str(),
		Time:       r.time(),
		Arm:        r.str(),
		Experiment: ExperimentID(r.str()),
		Source:     r.str(),
	}
	if ctx := r.bytes(); len(ctx) > 0 {
		out.Context = bytes.Clone(ctx) // b may be a buffer the store reuses
	}
	out.Schema = r.str()
	out.Features = r.features()
	if n := r.Count(3+1+6*8+1, "count"); n > 0 || r.Err() == nil {
		out.Candidates = make([]Candidate, n)
		for i := range out.Candidates {
			c := &out.Candidates[i]
			c.ID = ActionID(r.str())
			c.Filtered = r.str()
			c.Detail = r.str()
			rank := r.Varint("number")
			if rank < math.MinInt32 || rank > math.MaxInt32 {
				r.Fail("rank out of range")
			}
			c.Rank = int(rank)
			c.Propensity, c.Score, c.Value = r.Float64("number"), r.Float64("number"), r.Float64("number")
			c.Weight, c.Priority, c.Probability = r.Float64("number"), r.Float64("number"), r.Float64("number")
			c.ModelSeq = r.Uvarint("number")
			if v2 != decisionRecordV3 {
				continue
			}
			switch r.Byte("flag") {
			case 0:
			case 1:
				c.Cost, c.ContactCost, c.Effect = r.Float64("number"), r.Float64("number"), r.Float64("number")
				c.EffectSD, c.EffectValue, c.Net = r.Float64("number"), r.Float64("number"), r.Float64("number")
			default:
				r.Fail("priced flag")
			}
		}
	}
	if n := r.Count(1, "count"); n > 0 {
		out.Chosen = make([]ActionID, n)
		for i := range out.Chosen {
			out.Chosen[i] = ActionID(r.str())
		}
	}
	switch r.Byte("flag") {
	case 0:
	case 1:
		out.NoAction = true
	default:
		r.Fail("no_action flag")
	}
	out.Reason = r.str()
	out.Deadline = r.time()
	if v2 == decisionRecordV3 {
		out.NoActionProbability = r.Float64("number")
	}
	if err := r.Done(); err != nil {
		return err
	}
	*d = out
	return nil
}

// appendFeatures appends a feature vector: its length, the indexes as varints, then the
// values as floats.
func appendFeatures(b []byte, x features.Vector) []byte {
	b = binary.AppendUvarint(b, uint64(len(x.Index)))
	for _, i := range x.Index {
		b = binary.AppendVarint(b, int64(i))
	}
	for _, v := range x.Value {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

// features reads what appendFeatures wrote; an empty vector is nil, as encoding/json
// leaves an absent one.
func (r *recordReader) features() features.Vector {
	var x features.Vector
	if n := r.Count(1+8, "count"); n > 0 {
		x.Index = make([]int32, n)
		x.Value = make([]float64, n)
		for i := range n {
			v := r.Varint("number")
			if v < math.MinInt32 || v > math.MaxInt32 {
				r.Fail("feature index out of range")
			}
			x.Index[i] = int32(v)
		}
		for i := range n {
			x.Value[i] = r.Float64("number")
		}
	}
	return x
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixNano())
}

// recordReader reads a binary decision record (binrec.Reader) with the decision's own
// field kinds.
type recordReader struct{ binrec.Reader }

func (r *recordReader) str() string   { return string(r.LenBytes("string")) }
func (r *recordReader) bytes() []byte { return r.LenBytes("bytes") }

func (r *recordReader) time() time.Time {
	switch r.Byte("time") {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(0, r.Varint("time")).UTC()
	}
	r.Fail("malformed time")
	return time.Time{}
}
