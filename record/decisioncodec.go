package record

import (
	"bytes"
	"cmp"
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

// The decision record's stored form. A decision is logged on every contact, so its record
// is on the hot path twice (written by decide, read back by late feedback) and makes up
// most of the store. Records of every earlier form are still read: JSON (always starting
// with '{'), and versions 1 to 3 below.
//
// Versions 1 to 3. After the version byte: strings and byte strings as uvarint length then
// bytes; counts as uvarints; times as a presence byte then a varint of Unix nanoseconds
// (UTC); floats as 8 bytes little-endian IEEE 754. Version 2 is version 1 followed by a
// CRC-32C of the record, version byte included (binrec.AppendChecksum): a record damaged
// on disk is an error, never decoded into wrong values; version 1 records are still read.
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
//
// Version 4 (decisionRecordV4, below) is about a fifth of version 3's size: names by
// number through the store's dictionary (Strings), the context as a token stream
// (contextcodec.go), estimates as float32, defaults left out, and nothing stored twice.
const (
	decisionRecordV1 = 1
	decisionRecordV2 = 2
	decisionRecordV3 = 3
	decisionRecordV4 = 4
)

// errRecord reports a decision record that cannot be decoded.
var errRecord = errors.New("decision record")

// Version 4. After the version byte, a uvarint of header flags (h* below), then:
//
//	customer                       string: uvarint length, bytes
//	[time]                         unless hIDTime: presence byte, varint Unix ns
//	channel arm source             strref (contextcodec.go): a dictionary number or the string
//	[experiment]                   strref, if hExperiment
//	schema                         strref
//	candidates                     uvarint(n<<1 | ranks left out); if n > 0 the largest
//	                               model_seq, then each candidate
//	[context]                      contextcodec.go, if hContext
//	[features]                     if hFeatures: n, a form byte, n indexes (uvarint deltas
//	                               if ascending, else zigzag), n kinds (1.0, float32,
//	                               float64) packed into bytes, 1 bit each (2 if any is a
//	                               float64), the values not 1.0
//	chosen                         n, each uvarint(k): candidate k-1, or 0 and a strref
//	[reason]                       strref, if hReason
//	[deadline]                     if hDeadline: appendDeadline
//	[no_action_probability]        float32, if hNoActionP
//	CRC-32C of all the above       binrec.AppendChecksum
//
// A candidate is its head, uvarint(strref<<1 | same) with its id's strref (its uvarint,
// then any bytes of a string spelt out), then, unless same says they are the previous
// candidate's, a uvarint of flags (c* below), and, as the flags say: the
// filter reason and detail (strrefs); if scored, varint(rank), the propensity (float32),
// the score and priority (float32: one, the other computed from it, or both, cMode*), the
// value (cValue kind, appendAmount) and uvarint(largest model_seq - model_seq); the
// weight if it is not the default (appendAmount with its kind byte: 1 when scored, 0
// when not); the probability (float32); the priced terms (cost and contact cost by
// appendAmount, effect, effect SD, effect value and net value as float32).
//
// What is not stored: the decision id, which is the record's key (the caller gives it to
// DecodeDecision); the time, when it is the time the id carries (NewDecisionID); a
// candidate's priority when it is score x (value x weight), as nbaChoice computes it, or
// its score when it is priority / weight, as netChoice does; defaults (weight 1, zero
// fields of a filtered candidate); the chosen actions' ids, which are candidates'.
//
// Precision. Amounts given by the catalog or the customer (value, weight, cost, contact
// cost) are stored exactly (appendAmount). Estimates are stored as float32, whose 24-bit
// significand keeps a relative error under 2^-24 = 6e-8: the propensity, score, priority,
// selection probability and no-action probability (inverse propensity weights of 1/p then
// carry a relative error of 6e-8, against the 1e-3 that would begin to matter next to an
// estimator's own sampling error), the net-value terms (posterior means and standard
// deviations), and feature values other than 1 (z-scores, clipped to a few units, and
// bucket and hash values: their models' logits move by under 1e-6). A value outside
// float32's normal range keeps its float64 (features) or becomes ±Inf or 0 (estimates,
// which are probabilities and money and never reach 3.4e38).
const (
	hIDTime     = 1 << 0
	hExperiment = 1 << 1
	hContext    = 1 << 2
	hFeatures   = 1 << 3
	hDeadline   = 1 << 4
	hNoAction   = 1 << 5
	hReason     = 1 << 6
	hNoActionP  = 1 << 7
	hAll        = 1<<8 - 1

	cScored      = 1 << 0
	cProbability = 1 << 1
	cModeShift   = 2 // 2 bits: cModePriority, cModeScore, cModeBoth
	cValueShift  = 4 // 3 bits: the value's amount kind
	cFiltered    = 1 << 7
	cDetail      = 1 << 8
	cWeight      = 1 << 9
	cPriced      = 1 << 10
	cAll         = 1<<11 - 1

	cModePriority = 0 // priority = score x (value x weight): only the score is stored
	cModeScore    = 1 // score = priority / weight: only the priority is stored
	cModeBoth     = 2

	// The limit of the dictionary for strings that may take any value (details, reasons),
	// as for context keys: half of it, so that action ids always find room.
	freeTextLimit = MaxStrings / 2
)

// EncodeDecision appends the stored form of d (version 4, without its id, which is the
// record's key, and without its outcomes, which live in the journal) to b. Names are
// numbered through strs, which may give new numbers (Strings); nil spells every name out.
func EncodeDecision(b []byte, d *Decision, strs *Strings) []byte {
	start := len(b)
	b = append(b, decisionRecordV4)
	var h uint64
	if ns, ok := decisionIDTime(d.ID); ok && !d.Time.IsZero() && d.Time.UnixNano() == ns && d.Time.Location() == time.UTC {
		h |= hIDTime
	}
	for _, f := range [...]struct {
		on  bool
		bit uint64
	}{
		{d.Experiment != "", hExperiment}, {len(d.Context) > 0, hContext}, {len(d.Features.Index) > 0, hFeatures},
		{!d.Deadline.IsZero(), hDeadline}, {d.NoAction, hNoAction}, {d.Reason != "", hReason}, {float32(d.NoActionProbability) != 0, hNoActionP},
	} {
		if f.on {
			h |= f.bit
		}
	}
	b = binary.AppendUvarint(b, h)
	b = appendString(b, string(d.CustomerID))
	if h&hIDTime == 0 {
		b = appendTime(b, d.Time)
	}
	b = appendStrRef(b, d.Channel, strs, MaxStrings)
	b = appendStrRef(b, d.Arm, strs, MaxStrings)
	b = appendStrRef(b, d.Source, strs, MaxStrings)
	if h&hExperiment != 0 {
		b = appendStrRef(b, string(d.Experiment), strs, MaxStrings)
	}
	b = appendStrRef(b, d.Schema, strs, MaxStrings)
	// The candidates before the context: a fresh store numbers the action ids first,
	// with numbers that fit a candidate's head in one byte.
	b = appendCandidates(b, d.Candidates, strs)
	if h&hContext != 0 {
		b = appendContext(b, d.Context, strs)
	}
	if h&hFeatures != 0 {
		b = appendCompactFeatures(b, d.Features)
	}
	b = binary.AppendUvarint(b, uint64(len(d.Chosen)))
	for _, id := range d.Chosen {
		k := slices.IndexFunc(d.Candidates, func(c Candidate) bool { return c.ID == id })
		b = binary.AppendUvarint(b, uint64(k+1))
		if k < 0 {
			b = appendStrRef(b, string(id), strs, MaxStrings)
		}
	}
	if h&hReason != 0 {
		b = appendStrRef(b, d.Reason, strs, freeTextLimit)
	}
	if h&hDeadline != 0 {
		b = appendDeadline(b, d.Time, d.Deadline)
	}
	if h&hNoActionP != 0 {
		b = appendFloat32(b, d.NoActionProbability)
	}
	return binrec.AppendChecksum(b, start)
}

// candidateForm is how a record of version 4 stores one candidate.
type candidateForm struct {
	flags          uint64
	mode           int
	prop, s32, p32 float32
	valueKind      byte
	priority       float64 // as the record reads back
}

// appendCandidates appends the candidates of a version 4 record: their count n as
// uvarint(n<<1 | r), r = 1 when the ranks are left out because they are what
// derivedRanks computes from the priorities the record reads back.
func appendCandidates(b []byte, cs []Candidate, strs *Strings) []byte {
	if len(cs) == 0 {
		return binary.AppendUvarint(b, 0)
	}
	var stack [32]candidateForm
	forms := stack[:0]
	if len(cs) > len(stack) {
		forms = make([]candidateForm, 0, len(cs))
	}
	var base uint64
	for i := range cs {
		c := &cs[i]
		base = max(base, c.ModelSeq)
		f := candidateForm{prop: float32(c.Propensity), mode: scoreMode(c.Score, c.Priority, c.Value, c.Weight),
			s32: float32(c.Score), p32: float32(c.Priority), valueKind: amountKind(c.Value)}
		var score float64
		score, f.priority = scorePriority(f.mode, f.s32, f.p32, c.Value, c.Weight)
		// Scored or not as the record will read: a value float32 rounds to 0 is 0.
		scored := c.Rank != 0 || f.prop != 0 || score != 0 || f.priority != 0 || c.Value != 0 || c.ModelSeq != 0
		weight := 0.0
		if scored {
			weight = 1
			f.flags |= cScored | uint64(f.mode)<<cModeShift | uint64(f.valueKind)<<cValueShift
		}
		for _, bit := range [...]struct {
			on   bool
			flag uint64
		}{{float32(c.Probability) != 0, cProbability}, {c.Filtered != "", cFiltered}, {c.Detail != "", cDetail},
			{c.Weight != weight, cWeight}, {c.priced(), cPriced}} {
			if bit.on {
				f.flags |= bit.flag
			}
		}
		forms = append(forms, f)
	}
	derived := uint64(1)
	if len(cs) > 32 {
		derived = 0 // rare: written out rather than sorted
	} else {
		var priority [32]float64
		var scored [32]bool
		var ranks [32]int
		for i := range forms {
			priority[i], scored[i] = forms[i].priority, forms[i].flags&cScored != 0
		}
		derivedRanks(priority[:len(cs)], scored[:len(cs)], ranks[:len(cs)])
		for i := range cs {
			if ranks[i] != cs[i].Rank {
				derived = 0
				break
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(len(cs))<<1|derived)
	b = binary.AppendUvarint(b, base)
	for i := range cs {
		c, f := &cs[i], &forms[i]
		// The head: the id's strref, shifted to say whether the flags are the previous
		// candidate's (then left out), which they mostly are.
		same := uint64(0)
		if i > 0 && f.flags == forms[i-1].flags {
			same = 1
		}
		ref, spelt := strRef(string(c.ID), strs, MaxStrings)
		b = binary.AppendUvarint(b, ref<<1|same)
		if spelt {
			b = append(b, c.ID...)
		}
		if same == 0 {
			b = binary.AppendUvarint(b, f.flags)
		}
		if f.flags&cFiltered != 0 {
			b = appendStrRef(b, c.Filtered, strs, MaxStrings)
		}
		if f.flags&cDetail != 0 {
			b = appendStrRef(b, c.Detail, strs, freeTextLimit)
		}
		if f.flags&cScored != 0 {
			if derived == 0 {
				b = binary.AppendVarint(b, int64(c.Rank))
			}
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f.prop))
			if f.mode != cModeScore {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f.s32))
			}
			if f.mode != cModePriority {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f.p32))
			}
			b = appendAmountOf(b, f.valueKind, c.Value)
			b = binary.AppendUvarint(b, base-c.ModelSeq)
		}
		if f.flags&cWeight != 0 {
			b = appendAmount(b, c.Weight)
		}
		if f.flags&cProbability != 0 {
			b = appendFloat32(b, c.Probability)
		}
		if f.flags&cPriced != 0 {
			b = appendAmount(appendAmount(b, c.Cost), c.ContactCost)
			for _, v := range [...]float64{c.Effect, c.EffectSD, c.EffectValue, c.Net} {
				b = appendFloat32(b, v)
			}
		}
	}
	return b
}

// derivedRanks sets ranks[i], for each candidate, to its place from 1 among the scored
// ones sorted by priority, highest first, ties in candidate order (cmp.Compare's order,
// NaN lowest), as nbaChoice and netChoice rank them; 0 if it is not scored. At most 32
// candidates: an insertion sort of their indexes.
func derivedRanks(priority []float64, scored []bool, ranks []int) {
	var order [32]int
	n := 0
	for i, ok := range scored {
		ranks[i] = 0
		if !ok {
			continue
		}
		j := n
		for j > 0 && cmp.Compare(priority[order[j-1]], priority[i]) < 0 {
			order[j] = order[j-1]
			j--
		}
		order[j] = i
		n++
	}
	for r, i := range order[:n] {
		ranks[i] = r + 1
	}
}

// DecodeDecision decodes the stored record of decision id, of any version, into d: id is
// the record's key (version 4 records leave it out; earlier ones carry their own), and
// strs the dictionary of the store it was read from. d keeps nothing of b, so b may be a
// buffer the caller reuses. It never panics on bad input; the error wraps errRecord.
func DecodeDecision(b []byte, id DecisionID, strs *Strings, d *Decision) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty", errRecord)
	}
	if b[0] == decisionRecordV4 {
		return decodeDecisionV4(b, id, strs, d)
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
			c.Rank = r.rank()
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

// decodeDecisionV4 decodes a record of version 4.
func decodeDecisionV4(b []byte, id DecisionID, strs *Strings, d *Decision) error {
	body, err := binrec.Checked(b, errRecord)
	if err != nil {
		return err
	}
	r := recordReader{binrec.NewReader(body[1:], errRecord)}
	h := r.Uvarint("flags")
	if h&^hAll != 0 {
		return fmt.Errorf("%w: unknown flags %#x", errRecord, h)
	}
	out := Decision{ID: id, CustomerID: CustomerID(r.str())}
	if h&hIDTime != 0 {
		ns, ok := decisionIDTime(id)
		if !ok {
			return fmt.Errorf("%w: the record takes its time from its id, and %q holds none", errRecord, truncate(string(id), 64))
		}
		out.Time = time.Unix(0, ns).UTC()
	} else {
		out.Time = r.time()
	}
	out.Channel = r.strRef(strs)
	out.Arm = r.strRef(strs)
	out.Source = r.strRef(strs)
	if h&hExperiment != 0 {
		out.Experiment = ExperimentID(r.strRef(strs))
	}
	out.Schema = r.strRef(strs)
	out.Candidates = r.candidates(strs)
	if h&hContext != 0 {
		out.Context = r.context(strs)
	}
	if h&hFeatures != 0 {
		out.Features = r.compactFeatures()
	}
	if n := r.Count(1, "count"); n > 0 {
		out.Chosen = make([]ActionID, n)
		for i := range out.Chosen {
			k := r.Uvarint("chosen")
			switch {
			case k == 0:
				out.Chosen[i] = ActionID(r.strRef(strs))
			case k <= uint64(len(out.Candidates)):
				out.Chosen[i] = out.Candidates[k-1].ID
			default:
				r.Fail("chosen candidate %d of %d", k, len(out.Candidates))
			}
		}
	}
	out.NoAction = h&hNoAction != 0
	if h&hReason != 0 {
		out.Reason = r.strRef(strs)
	}
	if h&hDeadline != 0 {
		out.Deadline = r.deadline(out.Time)
	}
	if h&hNoActionP != 0 {
		out.NoActionProbability = r.float32()
	}
	if err := r.Done(); err != nil {
		return err
	}
	*d = out
	return nil
}

// candidates reads what appendCandidates wrote.
func (r *recordReader) candidates(strs *Strings) []Candidate {
	head := r.Uvarint("count")
	n, derived := head>>1, head&1 != 0
	if r.Err() == nil && (n > uint64(r.Len()/2) || derived && n > 32) {
		r.Fail("candidate count %d: the record has %d bytes left", n, r.Len())
	}
	if r.Err() != nil {
		return nil
	}
	out := make([]Candidate, n)
	if n == 0 {
		return out
	}
	base := r.Uvarint("model_seq")
	var scoredStack [32]bool
	scored := scoredStack[:0]
	if n <= 32 {
		scored = scoredStack[:n]
	} else {
		scored = make([]bool, n)
	}
	var f uint64
	for i := range out {
		c := &out[i]
		head := r.Uvarint("candidate")
		c.ID = ActionID(r.strRefOf(head>>1, strs))
		if head&1 == 0 {
			f = r.Uvarint("flags")
		} else if i == 0 {
			r.Fail("the first candidate has no flags")
		}
		if f&^cAll != 0 {
			r.Fail("unknown candidate flags %#x", f)
			return nil
		}
		if f&cFiltered != 0 {
			c.Filtered = r.strRef(strs)
		}
		if f&cDetail != 0 {
			c.Detail = r.strRef(strs)
		}
		if f&cScored != 0 {
			c.Weight = 1
			if !derived {
				c.Rank = r.rank()
			}
			c.Propensity = r.float32()
			mode := int(f >> cModeShift & 3)
			var s32, p32 float32
			if mode != cModeScore {
				s32 = math.Float32frombits(r.Uint32("number"))
			}
			if mode != cModePriority {
				p32 = math.Float32frombits(r.Uint32("number"))
			}
			if mode > cModeBoth {
				r.Fail("candidate mode %d", mode)
			}
			c.Value = r.amountOf(byte(f >> cValueShift & 7))
			seq := r.Uvarint("model_seq")
			if seq > base {
				r.Fail("model_seq below zero")
			}
			c.ModelSeq = base - seq
			if f&cWeight != 0 {
				c.Weight = r.amount()
			}
			c.Score, c.Priority = scorePriority(mode, s32, p32, c.Value, c.Weight)
		} else if f&cWeight != 0 {
			c.Weight = r.amount()
		}
		if f&cProbability != 0 {
			c.Probability = r.float32()
		}
		if f&cPriced != 0 {
			c.Cost, c.ContactCost = r.amount(), r.amount()
			c.Effect, c.EffectSD, c.EffectValue, c.Net = r.float32(), r.float32(), r.float32(), r.float32()
		}
		scored[i] = f&cScored != 0
	}
	if derived {
		var priority [32]float64
		var ranks [32]int
		for i := range out {
			priority[i] = out[i].Priority
		}
		derivedRanks(priority[:n], scored[:n], ranks[:n])
		for i := range out {
			out[i].Rank = ranks[i]
		}
	}
	return out
}

// scoreMode says which of a candidate's score and priority a record stores: the score
// alone when priority = score x (value x weight), as nbaChoice computes it, the priority
// alone when score = priority / weight, as netChoice does, else both. When both relations
// hold it stores the one float32 keeps exactly, so that a record read and written again
// reads the same.
func scoreMode(score, priority, value, weight float64) int {
	nba := priority == score*(value*weight)
	switch {
	case nba && (float64(float32(score)) == score || float64(float32(priority)) != priority):
		return cModePriority
	case weight != 0 && score == priority/weight:
		return cModeScore
	case nba:
		return cModePriority
	}
	return cModeBoth
}

// scorePriority returns the score and priority a record stores as mode, s32 and p32.
func scorePriority(mode int, s32, p32 float32, value, weight float64) (score, priority float64) {
	switch mode {
	case cModePriority:
		return float64(s32), float64(s32) * (value * weight)
	case cModeScore:
		return float64(p32) / weight, float64(p32)
	}
	return float64(s32), float64(p32)
}

// DecisionIDTime returns the time a decision id made by NewDecisionID carries, and
// whether id is such an id.
func DecisionIDTime(id DecisionID) (time.Time, bool) {
	ns, ok := decisionIDTime(id)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, ns).UTC(), true
}

// decisionIDTime returns the Unix nanoseconds a decision id made by NewDecisionID
// carries: its first 16 hex digits.
func decisionIDTime(id DecisionID) (int64, bool) {
	if len(id) != 32 {
		return 0, false
	}
	var ns uint64
	for i := range 16 {
		c := id[i]
		switch {
		case c >= '0' && c <= '9':
			ns = ns<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			ns = ns<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return int64(ns), true
}

// appendStrRef appends s as a dictionary number (giving it one, below limit, if it has
// none) or spelt out: uvarint(id<<1), or uvarint(len<<1|1) and the bytes.
func appendStrRef(b []byte, s string, strs *Strings, limit int) []byte {
	ref, spelt := strRef(s, strs, limit)
	b = binary.AppendUvarint(b, ref)
	if spelt {
		b = append(b, s...)
	}
	return b
}

// strRef returns the uvarint of s's strref, and whether its bytes follow.
func strRef(s string, strs *Strings, limit int) (ref uint64, spelt bool) {
	if s != "" {
		if id := strs.Ref(s, limit); id != 0 {
			return uint64(id) << 1, false
		}
	}
	return uint64(len(s))<<1 | 1, true
}

// appendStrRefBytes is appendStrRef of string(s), without making the string unless it is
// new to the dictionary.
func appendStrRefBytes(b []byte, s []byte, strs *Strings, limit int) []byte {
	if strs != nil && len(s) > 0 {
		if id := strs.refBytes(s, limit); id != 0 {
			return binary.AppendUvarint(b, uint64(id)<<1)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(s))<<1|1)
	return append(b, s...)
}

// strRef reads what appendStrRef wrote.
func (r *recordReader) strRef(strs *Strings) string { return r.strRefOf(r.Uvarint("string"), strs) }

// strRefOf reads the rest of a strref whose uvarint is n.
func (r *recordReader) strRefOf(n uint64, strs *Strings) string {
	if n&1 != 0 {
		if n>>1 > uint64(r.Len()) {
			r.Fail("truncated string: need %d bytes, have %d", n>>1, r.Len())
			return ""
		}
		return string(r.Bytes(int(n>>1), "string"))
	}
	return r.strByID(strs, n>>1)
}

func (r *recordReader) rank() int {
	rank := r.Varint("number")
	if rank < math.MinInt32 || rank > math.MaxInt32 {
		r.Fail("rank out of range")
	}
	return int(rank)
}

// appendFloat32 appends v rounded to float32, little-endian.
func appendFloat32(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
}

func (r *recordReader) float32() float64 {
	return float64(math.Float32frombits(r.Uint32("number")))
}

// Amount kinds: how appendAmount stores a float64 exactly in few bytes.
const (
	amountZero      = 0 // +0 (or -0, read as +0, which == it)
	amountInteger   = 1 // zigzag varint: an integer of magnitude up to 2^53
	amountHundredth = 2 // zigzag varint of 100v: a whole number of cents
	amountFloat32   = 3 // 4 bytes: a float32 exactly
	amountFloat64   = 4 // 8 bytes
	amountKinds     = 5
)

// amountKind returns the shortest kind that stores v exactly.
func amountKind(v float64) byte {
	const maxExact = 1 << 53
	switch {
	case v == 0:
		return amountZero
	case v == math.Trunc(v) && math.Abs(v) <= maxExact:
		return amountInteger
	}
	if c := math.Round(v * 100); math.Abs(c) <= maxExact && c/100 == v {
		return amountHundredth
	}
	if float64(float32(v)) == v {
		return amountFloat32
	}
	return amountFloat64
}

// appendAmount appends v exactly: its kind byte, then appendAmountOf.
func appendAmount(b []byte, v float64) []byte {
	k := amountKind(v)
	return appendAmountOf(append(b, k), k, v)
}

// appendAmountOf appends v as kind k (amountKind) without the kind.
func appendAmountOf(b []byte, k byte, v float64) []byte {
	switch k {
	case amountInteger:
		return binary.AppendVarint(b, int64(v))
	case amountHundredth:
		return binary.AppendVarint(b, int64(math.Round(v*100)))
	case amountFloat32:
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
	case amountFloat64:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

func (r *recordReader) amount() float64 { return r.amountOf(r.Byte("amount")) }

func (r *recordReader) amountOf(k byte) float64 {
	switch k {
	case amountZero:
		return 0
	case amountInteger:
		return float64(r.Varint("number"))
	case amountHundredth:
		return float64(r.Varint("number")) / 100
	case amountFloat32:
		return r.float32()
	case amountFloat64:
		return r.Float64("number")
	}
	r.Fail("amount kind %d", k)
	return 0
}

// appendCompactFeatures appends a non-empty feature vector in version 4's form.
func appendCompactFeatures(b []byte, x features.Vector) []byte {
	n := len(x.Index)
	b = binary.AppendUvarint(b, uint64(n))
	ascending := true
	for i := 1; i < n && ascending; i++ {
		ascending = x.Index[i] > x.Index[i-1]
	}
	ascending = ascending && x.Index[0] >= 0
	form := len(b)
	if ascending {
		b = append(b, 1)
		prev := int32(0)
		for _, i := range x.Index {
			b = binary.AppendUvarint(b, uint64(i-prev))
			prev = i
		}
	} else {
		b = append(b, 0)
		prev := int64(0)
		for _, i := range x.Index {
			b = binary.AppendVarint(b, int64(i)-prev)
			prev = int64(i)
		}
	}
	// Two bits a value (1.0, float32, float64), or one when none needs a float64.
	bits := 1
	for _, v := range x.Value {
		if v != 1 && !fitsFloat32(v) {
			bits = 2
			b[form] |= 2
			break
		}
	}
	kinds := len(b)
	b = append(b, make([]byte, (n*bits+7)/8)...)
	for i, v := range x.Value {
		var k byte
		switch {
		case v == 1:
			k = 0
		case fitsFloat32(v):
			k = 1
			b = appendFloat32(b, v)
		default:
			k = 2
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		b[kinds+i*bits/8] |= k << (i * bits % 8)
	}
	return b
}

// RoundFeatures rounds x's values in place to what a version 4 record keeps of them
// (float32 where that keeps the value to float32's relative precision), so that a decision
// kept in memory holds what its record will give back.
func RoundFeatures(x features.Vector) {
	for i, v := range x.Value {
		if fitsFloat32(v) {
			x.Value[i] = float64(float32(v))
		}
	}
}

// fitsFloat32 reports whether float32 keeps v to its relative precision: v is 0, in
// float32's normal range, infinite or NaN.
func fitsFloat32(v float64) bool {
	a := math.Abs(v)
	return a == 0 || a >= 0x1p-126 && a <= math.MaxFloat32 || math.IsInf(v, 0) || math.IsNaN(v)
}

// compactFeatures reads what appendCompactFeatures wrote.
func (r *recordReader) compactFeatures() features.Vector {
	n := r.Count(1, "count")
	if n == 0 {
		r.Fail("empty feature vector")
		return features.Vector{}
	}
	form := r.Byte("form")
	if form > 3 {
		r.Fail("feature form %d", form)
		return features.Vector{}
	}
	x := features.Vector{Index: make([]int32, n), Value: make([]float64, n)}
	var prev int64
	for i := range n {
		switch form & 1 {
		case 1:
			d := r.Uvarint("number")
			if i > 0 && d == 0 {
				r.Fail("feature indexes not ascending")
			}
			prev += int64(min(d, math.MaxInt32+1))
		default:
			prev += r.Varint("number")
		}
		if prev < math.MinInt32 || prev > math.MaxInt32 {
			r.Fail("feature index out of range")
			return features.Vector{}
		}
		x.Index[i] = int32(prev)
	}
	bits := 1 + int(form>>1)
	kinds := r.Bytes((n*bits+7)/8, "kinds")
	if r.Err() != nil {
		return features.Vector{}
	}
	for i := range n {
		switch kinds[i*bits/8] >> (i * bits % 8) & (1<<bits - 1) {
		case 0:
			x.Value[i] = 1
		case 1:
			x.Value[i] = r.float32()
		case 2:
			x.Value[i] = r.Float64("number")
		default:
			r.Fail("feature value kind 3")
		}
	}
	return x
}

// appendDeadline appends the deadline relative to the decision's time: uvarint(s<<2) for
// a whole number of seconds after it (the channel timeouts), uvarint(ms<<2|1) for whole
// milliseconds, zigzag(ns)<<2|2 for other differences under 2^60 ns, or 3 and the
// absolute time (varint Unix ns).
func appendDeadline(b []byte, t, deadline time.Time) []byte {
	if !t.IsZero() {
		tn := t.UnixNano()
		diff := deadline.UnixNano() - tn
		if diff > -1<<60 && diff < 1<<60 && time.Unix(0, tn+diff).Equal(deadline) { // as deadline reads it
			switch {
			case diff >= 0 && diff%int64(time.Second) == 0:
				return binary.AppendUvarint(b, uint64(diff/int64(time.Second))<<2)
			case diff >= 0 && diff%int64(time.Millisecond) == 0:
				return binary.AppendUvarint(b, uint64(diff/int64(time.Millisecond))<<2|1)
			}
			return binary.AppendUvarint(b, uint64(diff<<1^diff>>63)<<2|2)
		}
	}
	return binary.AppendVarint(binary.AppendUvarint(b, 3), deadline.UnixNano())
}

// deadline reads what appendDeadline wrote.
func (r *recordReader) deadline(t time.Time) time.Time {
	v := r.Uvarint("deadline")
	if r.Err() != nil {
		return time.Time{}
	}
	var diff int64
	switch v & 3 {
	case 0:
		diff = int64(v>>2) * int64(time.Second)
		if v>>2 > 1<<60/uint64(time.Second) {
			r.Fail("deadline out of range")
		}
	case 1:
		diff = int64(v>>2) * int64(time.Millisecond)
		if v>>2 > 1<<60/uint64(time.Millisecond) {
			r.Fail("deadline out of range")
		}
	case 2:
		z := v >> 2
		diff = int64(z>>1) ^ -int64(z&1)
	case 3:
		if v != 3 {
			r.Fail("deadline form")
		}
		return time.Unix(0, r.Varint("time")).UTC()
	}
	if t.IsZero() {
		r.Fail("a relative deadline without a time")
		return time.Time{}
	}
	return time.Unix(0, t.UnixNano()+diff).UTC()
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

// truncate shortens s to n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
