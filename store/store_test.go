package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	gojson "github.com/goccy/go-json"

	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/record"
)

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(DefaultOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fill writes one of everything the store holds.
func fill(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	if err := s.PutAction(ctx, record.Action{ID: "offer", Value: 3, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCustomer(ctx, record.Customer{ID: "c1", Attributes: map[string]any{"plan": "small"}}); err != nil {
		t.Fatal(err)
	}
	d := &record.Decision{ID: "0000000000000001aa", CustomerID: "c1", Channel: "web", Time: time.Unix(1, 0).UTC(), Chosen: []record.ActionID{"offer"}, Deadline: time.Unix(100, 0).UTC(),
		Features: features.Vector{Index: []int32{0, 3}, Value: []float64{1, 0.5}}}
	ev := &record.Event{Seq: 1, DecisionID: d.ID, ActionID: "offer", Outcome: record.Accepted, Learned: true, Features: d.Features}
	b := &record.Batch{
		Decisions: []*record.Decision{d},
		Events:    []record.EventWrite{{Event: ev, Outcome: record.OutcomeState{Seq: 1, Outcome: record.Accepted}}},
		Snapshots: []record.Snapshot{{Action: "offer", Version: 1, Seq: 1, Model: []byte{1, 2, 3}}},
		Settings:  map[string][]byte{"checkpoint": []byte("1")},
	}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
}

// dump returns every key and value in the store.
func dump(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[string(it.Item().KeyCopy(nil))] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	src := openTest(t, t.TempDir())
	defer src.Close()
	fill(t, src)
	var buf bytes.Buffer
	if err := src.Backup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if err := RestoreDir(context.Background(), bytes.NewReader(buf.Bytes()), DefaultOptions(dir)); err != nil {
		t.Fatal(err)
	}
	dst := openTest(t, dir)
	defer dst.Close()
	want, got := dump(t, src), dump(t, dst)
	if len(want) < 8 {
		t.Fatalf("source holds only %d keys; fill wrote fewer than expected", len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("key %q: restored %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("restored %d keys, want %d", len(got), len(want))
	}
	// The restored store answers the engine's reads.
	d, err := dst.Decision(context.Background(), "0000000000000001aa")
	if err != nil || len(d.Outcomes) != 1 || d.Outcomes[0].Outcome != record.Accepted {
		t.Fatalf("restored decision %+v, err %v", d, err)
	}
	// DecisionRecord is the same record without the outcomes.
	r, err := dst.DecisionRecord(context.Background(), "0000000000000001aa")
	if err != nil || len(r.Outcomes) != 0 {
		t.Fatalf("DecisionRecord %+v, err %v; want the record without outcomes", r, err)
	}
	d.Outcomes = nil
	if !reflect.DeepEqual(d, r) {
		t.Errorf("DecisionRecord %+v differs from Decision without outcomes %+v", r, d)
	}
	if _, err := dst.DecisionRecord(context.Background(), "0000000000000002bb"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DecisionRecord of an absent decision: %v, want ErrNotFound", err)
	}
}

func TestRestoreRefusesBadBackups(t *testing.T) {
	src := openTest(t, t.TempDir())
	defer src.Close()
	fill(t, src)
	var buf bytes.Buffer
	if err := src.Backup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flip := bytes.Clone(good)
	flip[len(flip)/2] ^= 0x40
	cases := map[string][]byte{
		"empty":          {},
		"not a backup":   []byte("hello world, this is not a backup file"),
		"truncated":      good[:len(good)*2/3],
		"no trailer":     good[:len(good)-1],
		"flipped bit":    flip,
		"wrong version":  append([]byte("NXBK\x09"), good[5:]...),
		"header only":    good[:5],
		"trailer forged": append(append([]byte{}, good[:len(good)/2]...), good[len(good)-8:]...),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "restored")
			err := RestoreDir(context.Background(), bytes.NewReader(data), DefaultOptions(dir))
			if !errors.Is(err, ErrBadBackup) {
				t.Fatalf("restore returned %v, want ErrBadBackup", err)
			}
			if left, _ := os.ReadDir(parent); len(left) != 0 {
				t.Fatalf("a refused restore wrote %v", left)
			}
		})
	}
	// A good backup into a directory that holds a store is refused, and the store is left
	// as it was.
	dst := openTest(t, t.TempDir())
	if err := dst.PutSetting(context.Background(), "marker", []byte("before")); err != nil {
		t.Fatal(err)
	}
	before := dump(t, dst)
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if err := RestoreDir(context.Background(), bytes.NewReader(good), DefaultOptions(dst.opts.Dir)); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restore into a store: %v, want ErrNotEmpty", err)
	}
	dst = openTest(t, dst.opts.Dir)
	defer dst.Close()
	if after := dump(t, dst); len(after) != len(before) || after["v1/setting/marker"] != "before" {
		t.Fatalf("a refused restore changed the store: %d keys before, %d after", len(before), len(after))
	}
}

func TestKeyCodecsRoundTrip(t *testing.T) {
	p := record.PendingKey{Deadline: time.Unix(1700000000, 123).UTC(), Decision: "18e3e0363247a000a5e5908225471aec", Action: "retention-10"}
	got, err := parsePendingKey(pendingKey(p))
	if err != nil || got != p {
		t.Fatalf("pending key round trip: %+v, %v; want %+v", got, err, p)
	}
	v := record.VersionKey{Action: "plan-upgrade", Version: 42}
	gv, err := parseVersionKey(tModelMeta, versionKey(tModelMeta, v))
	if err != nil || gv != v {
		t.Fatalf("version key round trip: %+v, %v", gv, err)
	}
	seq, err := parseEventKey(eventKey(1 << 40))
	if err != nil || seq != 1<<40 {
		t.Fatalf("event key round trip: %d, %v", seq, err)
	}
	for _, bad := range [][]byte{nil, []byte("v1/event/short"), []byte("v2/event/12345678"), []byte(tPending + "12345678")} {
		if _, err := parseEventKey(bad); err == nil {
			t.Errorf("parseEventKey(%q) accepted a malformed key", bad)
		}
		if _, err := parsePendingKey(bad); err == nil {
			t.Errorf("parsePendingKey(%q) accepted a malformed key", bad)
		}
	}
	// Pending keys sort by deadline, which Expired relies on.
	early := pendingKey(record.PendingKey{Deadline: time.Unix(100, 0), Decision: "zzzz", Action: "a"})
	late := pendingKey(record.PendingKey{Deadline: time.Unix(200, 0), Decision: "aaaa", Action: "a"})
	if bytes.Compare(early, late) >= 0 {
		t.Fatal("pending keys do not sort by deadline")
	}
}

func TestExpiredAndLastSeq(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	if seq, err := s.LastSeq(ctx); err != nil || seq != 0 {
		t.Fatalf("empty journal: last seq %d, %v", seq, err)
	}
	fill(t, s)
	if seq, err := s.LastSeq(ctx); err != nil || seq != 1 {
		t.Fatalf("last seq %d, %v; want 1", seq, err)
	}
	// fill's decision has a deadline at t=100s and one event that does not resolve it.
	var got []record.PendingKey
	collect := func(p record.PendingKey) error { got = append(got, p); return nil }
	if err := s.Expired(ctx, time.Unix(99, 0), 10, collect); err != nil || len(got) != 0 {
		t.Fatalf("before the deadline: %v, %v", got, err)
	}
	if err := s.Expired(ctx, time.Unix(101, 0), 10, collect); err != nil || len(got) != 1 || got[0].Action != "offer" {
		t.Fatalf("after the deadline: %v, %v", got, err)
	}
	if _, err := s.Outcome(ctx, record.OutcomeKey{Decision: "nope", Action: "offer"}); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("missing outcome: %v, want record.ErrNotFound", err)
	}
}

// TestReadsJournalRecordsOfEarlierVersions: a store written before the binary journal
// records holds events, outcome states and contacts as JSON. Every way they are read
// (replay, one event, a decision's outcomes, an outcome state, a customer's contacts)
// reads them, beside records in the binary form.
func TestReadsJournalRecordsOfEarlierVersions(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := context.Background()
	d := &record.Decision{ID: "0000000000000001aa", CustomerID: "c1", Channel: "web", Time: time.Unix(1, 0).UTC(), Chosen: []record.ActionID{"offer"}}
	old := &record.Event{Seq: 1, Time: time.Unix(2, 0).UTC(), DecisionID: d.ID, ActionID: "offer", CustomerID: "c1", Outcome: record.Accepted, Learned: true,
		Features: features.Vector{Index: []int32{0, 3}, Value: []float64{1, 0.5}}}
	oldState := record.OutcomeState{Seq: 1, Outcome: record.Accepted}
	oldContact := record.ContactEvent{Customer: "c1", Time: time.Unix(1, 0).UTC(), Channel: "web"}
	if err := s.Commit(ctx, &record.Batch{Decisions: []*record.Decision{d}}); err != nil {
		t.Fatal(err)
	}
	// What nextbest wrote before: go-json, the encoder it used.
	err := s.db.Update(func(txn *badger.Txn) error {
		for k, v := range map[string]any{
			string(eventKey(1)): old,
			string(outcomeKey(record.OutcomeKey{Decision: d.ID, Action: "offer"})): oldState,
			string(contactKey(&oldContact, 0)):                                     oldContact,
		} {
			b, err := gojson.Marshal(v)
			if err != nil || b[0] != '{' {
				t.Fatalf("old record: %s, %v", b, err)
			}
			if err := txn.Set([]byte(k), b); err != nil {
				return err
			}
		}
		return txn.Set(decisionEventKey(d.ID, 1), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	// And one event, state and contact in the binary form.
	newEv := &record.Event{Seq: 2, Time: time.Unix(3, 0).UTC(), DecisionID: d.ID, ActionID: "other", Outcome: record.Ignored,
		Features: features.Vector{Index: []int32{1}, Value: []float64{-2}}}
	newState := record.OutcomeState{Seq: 2, Outcome: record.Ignored}
	newContact := record.ContactEvent{Customer: "c1", Time: time.Unix(3, 0).UTC(), Negative: true}
	if err := s.Commit(ctx, &record.Batch{Events: []record.EventWrite{{Event: newEv, Outcome: newState}}, Contacts: []record.ContactEvent{newContact}}); err != nil {
		t.Fatal(err)
	}

	var replayed []*record.Event
	if err := s.Replay(ctx, 0, func(e *record.Event) error { replayed = append(replayed, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(replayed, []*record.Event{old, newEv}) {
		t.Fatalf("replay: %+v", replayed)
	}
	if e, err := s.Event(ctx, 1); err != nil || !reflect.DeepEqual(e, old) {
		t.Fatalf("event 1: %+v, %v", e, err)
	}
	for k, want := range map[record.ActionID]record.OutcomeState{"offer": oldState, "other": newState} {
		if o, err := s.Outcome(ctx, record.OutcomeKey{Decision: d.ID, Action: k}); err != nil || !reflect.DeepEqual(o, want) {
			t.Fatalf("outcome of %s: %+v, %v", k, o, err)
		}
	}
	got, err := s.Decision(ctx, d.ID)
	if err != nil || len(got.Outcomes) != 2 || got.Outcomes[0].Outcome != record.Accepted || got.Outcomes[1].Outcome != record.Ignored || got.Outcomes[0].Features.Index != nil {
		t.Fatalf("decision's outcomes: %+v, %v", got, err)
	}
	contacts, err := s.Contacts(ctx, "c1", time.Time{})
	if err != nil || !reflect.DeepEqual(contacts, []record.ContactEvent{oldContact, newContact}) {
		t.Fatalf("contacts: %+v, %v", contacts, err)
	}
}
