package store

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/features"
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
	if err := s.PutAction(ctx, engine.Action{ID: "offer", Value: 3, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCustomer(ctx, engine.Customer{ID: "c1", Attributes: map[string]any{"plan": "small"}}); err != nil {
		t.Fatal(err)
	}
	d := &engine.Decision{ID: "0000000000000001aa", CustomerID: "c1", Channel: "web", Time: time.Unix(1, 0).UTC(), Chosen: []engine.ActionID{"offer"}, Deadline: time.Unix(100, 0).UTC(),
		Features: features.Vector{Index: []int32{0, 3}, Value: []float64{1, 0.5}}}
	ev := &engine.Event{Seq: 1, DecisionID: d.ID, ActionID: "offer", Outcome: engine.Accepted, Learned: true, Features: d.Features}
	b := &engine.Batch{
		Decisions: []*engine.Decision{d},
		Events:    []engine.EventWrite{{Event: ev, Outcome: engine.OutcomeState{Seq: 1, Outcome: engine.Accepted}}},
		Snapshots: []engine.Snapshot{{Action: "offer", Version: 1, Seq: 1, Model: []byte{1, 2, 3}}},
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
	dst := openTest(t, t.TempDir())
	defer dst.Close()
	if err := dst.Restore(context.Background(), bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
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
	if err != nil || len(d.Outcomes) != 1 || d.Outcomes[0].Outcome != engine.Accepted {
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
			dst := openTest(t, t.TempDir())
			defer dst.Close()
			if err := dst.PutSetting(context.Background(), "marker", []byte("before")); err != nil {
				t.Fatal(err)
			}
			before := dump(t, dst)
			err := dst.Restore(context.Background(), bytes.NewReader(data))
			if !errors.Is(err, ErrBadBackup) {
				t.Fatalf("restore returned %v, want ErrBadBackup", err)
			}
			after := dump(t, dst)
			if len(after) != len(before) || after["v1/setting/marker"] != "before" {
				t.Fatalf("a refused restore changed the store: %d keys before, %d after", len(before), len(after))
			}
		})
	}
}

func TestKeyCodecsRoundTrip(t *testing.T) {
	p := engine.PendingKey{Deadline: time.Unix(1700000000, 123).UTC(), Decision: "18e3e0363247a000a5e5908225471aec", Action: "retention-10"}
	got, err := parsePendingKey(pendingKey(p))
	if err != nil || got != p {
		t.Fatalf("pending key round trip: %+v, %v; want %+v", got, err, p)
	}
	v := engine.VersionKey{Action: "plan-upgrade", Version: 42}
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
	early := pendingKey(engine.PendingKey{Deadline: time.Unix(100, 0), Decision: "zzzz", Action: "a"})
	late := pendingKey(engine.PendingKey{Deadline: time.Unix(200, 0), Decision: "aaaa", Action: "a"})
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
	var got []engine.PendingKey
	collect := func(p engine.PendingKey) error { got = append(got, p); return nil }
	if err := s.Expired(ctx, time.Unix(99, 0), 10, collect); err != nil || len(got) != 0 {
		t.Fatalf("before the deadline: %v, %v", got, err)
	}
	if err := s.Expired(ctx, time.Unix(101, 0), 10, collect); err != nil || len(got) != 1 || got[0].Action != "offer" {
		t.Fatalf("after the deadline: %v, %v", got, err)
	}
	if _, err := s.Outcome(ctx, engine.OutcomeKey{Decision: "nope", Action: "offer"}); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("missing outcome: %v, want engine.ErrNotFound", err)
	}
}
