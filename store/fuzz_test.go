package store

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nextbest/nextbest/record"
)

// FuzzKeyCodecs checks the composite key codecs two ways. Arbitrary bytes: the parsers
// never panic, and whatever they accept encodes back to the same bytes (a key has one
// spelling). Fuzzed components (a deadline, a decision and an action id that pass
// record.ValidID, a number): encoding then parsing gives the components back, and keys
// sort as the store's scans assume (pending keys by deadline, versions and events by
// number, a decision's event keys under its prefix).
func FuzzKeyCodecs(f *testing.F) {
	dec := record.DecisionID("18ea705026b09dea5c0701e10ad26662")
	deadline := time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)
	f.Add(pendingKey(record.PendingKey{Deadline: deadline, Decision: dec, Action: "offer-1"}), deadline.UnixNano(), string(dec), "offer-1", uint64(7))
	f.Add(versionKey(tModelMeta, record.VersionKey{Action: "retention.save", Version: 42}), int64(0), "c-1", "retention.save", uint64(42))
	f.Add(eventKey(1<<40+3), int64(-1), "x", "a:b@c", uint64(math.MaxUint64))
	f.Add([]byte(tPending+"\x00\x00\x00\x00\x00\x00\x00\x01d\x00"), int64(math.MaxInt64), "d", "a", uint64(0))
	f.Add([]byte(tModelBytes+"\x00\x00\x00\x00\x00\x00\x00\x00\x00"), int64(math.MinInt64), "0", "0", uint64(1))
	f.Add([]byte(""), int64(1), strings.Repeat("a", 128), strings.Repeat("b", 128), uint64(1<<63))
	f.Fuzz(func(t *testing.T, raw []byte, ns int64, decision, action string, n uint64) {
		// Arbitrary bytes.
		if p, err := parsePendingKey(raw); err == nil {
			if got := pendingKey(p); !bytes.Equal(got, raw) {
				t.Errorf("pending key %q parses as %+v, which encodes as %q", raw, p, got)
			}
		}
		for _, table := range []string{tModelMeta, tModelBytes} {
			if v, err := parseVersionKey(table, raw); err == nil {
				if got := versionKey(table, v); !bytes.Equal(got, raw) {
					t.Errorf("version key %q parses as %+v, which encodes as %q", raw, v, got)
				}
			}
		}
		if seq, err := parseEventKey(raw); err == nil {
			if got := eventKey(seq); !bytes.Equal(got, raw) {
				t.Errorf("event key %q parses as %d, which encodes as %q", raw, seq, got)
			}
		}

		// Keys built from components.
		if got, err := parseEventKey(eventKey(n)); err != nil || got != n {
			t.Errorf("event key %d parses as %d, %v", n, got, err)
		}
		if n < math.MaxUint64 && bytes.Compare(eventKey(n), eventKey(n+1)) >= 0 {
			t.Errorf("event key %d does not sort before %d", n, n+1)
		}
		if !record.ValidID(decision) || !record.ValidID(action) {
			return
		}
		p := record.PendingKey{Deadline: time.Unix(0, ns).UTC(), Decision: record.DecisionID(decision), Action: record.ActionID(action)}
		got, err := parsePendingKey(pendingKey(p))
		if err != nil || got != p {
			t.Errorf("pending key %+v parses as %+v, %v", p, got, err)
		}
		// Expired scans pending keys in order and stops at the first deadline not yet
		// passed: keys must sort by deadline, whatever the ids (deadlines from 1970 on).
		if ns >= 0 && ns < math.MaxInt64 {
			later := record.PendingKey{Deadline: time.Unix(0, ns+1).UTC(), Decision: "0", Action: "0"}
			if bytes.Compare(pendingKey(p), pendingKey(later)) >= 0 {
				t.Errorf("pending key at %d ns does not sort before one at %d ns", ns, ns+1)
			}
		}
		for _, table := range []string{tModelMeta, tModelBytes} {
			v := record.VersionKey{Action: record.ActionID(action), Version: n}
			got, err := parseVersionKey(table, versionKey(table, v))
			if err != nil || got != v {
				t.Errorf("version key %+v in %s parses as %+v, %v", v, table, got, err)
			}
			if !bytes.HasPrefix(versionKey(table, v), versionPrefix(table, v.Action)) {
				t.Errorf("version key %+v lies outside its action's prefix", v)
			}
			if n < math.MaxUint64 && bytes.Compare(versionKey(table, v), versionKey(table, record.VersionKey{Action: v.Action, Version: n + 1})) >= 0 {
				t.Errorf("version %d of %q does not sort before version %d", n, action, n+1)
			}
		}
		// A decision's event keys lie under its prefix, and no other decision's do: ids
		// hold no NUL, so one id followed by the separator is never a prefix of another.
		k := decisionEventKey(record.DecisionID(decision), n)
		if !bytes.HasPrefix(k, decisionEventPrefix(record.DecisionID(decision))) {
			t.Errorf("event key %q of decision %q lies outside its prefix", k, decision)
		}
		if action != decision && bytes.HasPrefix(k, decisionEventPrefix(record.DecisionID(action))) {
			t.Errorf("event key %q of decision %q lies under the prefix of %q", k, decision, action)
		}
	})
}
