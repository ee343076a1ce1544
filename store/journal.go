package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/dgraph-io/badger/v4"
	gojson "github.com/goccy/go-json"

	"github.com/nextbest/nextbest/engine"
)

// Budgets for one transaction. Badger refuses a transaction over 15% of the memtable size
// (ErrTxnTooBig); the byte budget is 12% of it (about 1 MB with the default 8 MB memtable),
// so a group commit of the engine's size (at most about 512 KB plus bookkeeping) is one transaction: atomic
// as a whole. A larger batch is split between groups, never inside one.
const (
	txnCountBudget = 20000
	entryOverhead  = 64 // Badger's per-entry header and skiplist node, roughly
)

func (s *Store) txnByteBudget() int {
	return int(max(s.opts.MemTableSize, 8<<20) * 12 / 100)
}

type write struct {
	key, value []byte
	del        bool
	ttl        bool
}

// Commit writes the batch durably: before it returns, or, for a Lazy batch, within
// Options.LazySync (see syncer). Decisions, events, outcome states and contacts are
// written in the engine's binary forms; the rest (snapshot metadata, experiment
// bookkeeping) as JSON by goccy/go-json, which writes what encoding/json writes in about
// half the time. Each decision, event group and snapshot is atomic; a large batch is split
// between them, never inside one.
func (s *Store) Commit(ctx context.Context, b *engine.Batch) error {
	var groups [][]write
	for _, d := range b.Decisions {
		groups = append(groups, s.decisionWrites(d))
	}
	for _, ew := range b.Events {
		groups = append(groups, eventWrites(ew))
	}
	for _, l := range b.Labels {
		groups = append(groups, labelWrites(l))
	}
	for i := range b.DropLabels {
		groups = append(groups, labelDeletes(&b.DropLabels[i]))
	}
	for c, t := range b.Left {
		groups = append(groups, []write{{key: leftKey(c), value: binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())), ttl: true}})
	}
	for _, sn := range b.Snapshots {
		meta, err := gojson.Marshal(sn)
		if err != nil {
			return fmt.Errorf("encode snapshot %q v%d: %w", sn.Action, sn.Version, err)
		}
		vk := engine.VersionKey{Action: sn.Action, Version: sn.Version}
		groups = append(groups, []write{
			{key: versionKey(tModelBytes, vk), value: sn.Model},
			{key: versionKey(tModelMeta, vk), value: meta},
		})
	}
	for name, v := range b.Settings {
		groups = append(groups, []write{{key: settingKey(name), value: v}})
	}
	for _, vk := range b.Prune {
		groups = append(groups, []write{{key: versionKey(tModelBytes, vk), del: true}, {key: versionKey(tModelMeta, vk), del: true}})
	}
	// Experiment bookkeeping: each record stands alone (the rollups and enrollments are the
	// state after the whole batch), so they are grouped only to keep transactions few.
	var book []write
	for i := range b.Enrollments {
		v, err := gojson.Marshal(b.Enrollments[i])
		if err != nil {
			return fmt.Errorf("encode enrollment: %w", err)
		}
		book = append(book, write{key: enrollmentKey(b.Enrollments[i].Experiment, b.Enrollments[i].Customer), value: v})
	}
	for i := range b.Rollups {
		v, err := gojson.Marshal(b.Rollups[i])
		if err != nil {
			return fmt.Errorf("encode rollup: %w", err)
		}
		book = append(book, write{key: rollupKey(&b.Rollups[i]), value: v})
	}
	for i := range b.Contacts {
		book = append(book, write{key: contactKey(&b.Contacts[i], i), value: engine.EncodeContact(nil, &b.Contacts[i]), ttl: true})
	}
	for i := range b.Outcomes {
		o := &b.Outcomes[i]
		v, err := gojson.Marshal(o)
		if err != nil {
			return fmt.Errorf("encode outcome: %w", err)
		}
		k := binary.BigEndian.AppendUint64([]byte(tCOutcome), uint64(o.Time.UnixNano()))
		k = binary.BigEndian.AppendUint64(k, rand.Uint64())
		book = append(book, write{key: k, value: v, ttl: true})
		if o.ID != "" {
			book = append(book, write{key: []byte(tCOutcomeID + o.ID), ttl: true})
		}
	}
	for len(book) > 0 {
		n := min(len(book), 256)
		groups = append(groups, book[:n])
		book = book[n:]
	}
	// The dictionary's new strings go first: the records above may use them (they were
	// encoded before this commit began, or just now by decisionWrites).
	strs, lastString := s.stringWrites()
	groups = append(strs, groups...)
	size := 0
	for _, g := range groups {
		for _, w := range g {
			size += len(w.key) + len(w.value) + entryOverhead
		}
	}
	if err := s.disk.admit(size); err != nil {
		// Nothing is written. Decision records are not retried: decide answered without
		// waiting for them (docs/durability.md, "A full disk").
		s.disk.dropped.Add(uint64(len(b.Decisions)))
		return fmt.Errorf("commit: %w", err)
	}
	if err := s.writeGroups(ctx, groups); err != nil {
		return err // the strings stay pending, for the next commit
	}
	s.strings.Stored(lastString)
	if b.Lazy {
		s.lazy()
		return nil
	}
	return s.durable()
}

func (s *Store) writeGroups(ctx context.Context, groups [][]write) error {
	for len(groups) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, size, count := 0, 0, 0
		for n < len(groups) {
			gs, gc := 0, len(groups[n])
			for _, w := range groups[n] {
				gs += len(w.key) + len(w.value) + entryOverhead
			}
			if n > 0 && (size+gs > s.txnByteBudget() || count+gc > txnCountBudget) {
				break
			}
			size, count, n = size+gs, count+gc, n+1
		}
		txn := s.db.NewTransaction(true)
		for _, g := range groups[:n] {
			for _, w := range g {
				var err error
				switch {
				case w.del:
					err = txn.Delete(w.key)
				case w.ttl:
					err = txn.SetEntry(s.ttlEntry(w.key, w.value))
				default:
					err = txn.Set(w.key, w.value)
				}
				if err != nil {
					txn.Discard()
					return fmt.Errorf("commit: %w", err)
				}
			}
		}
		if err := txn.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		groups = groups[n:]
	}
	return nil
}

func (s *Store) decisionWrites(d *engine.Decision) []write {
	b := d.Encoded
	if b == nil {
		b = engine.EncodeDecision(nil, d, s.strings) // without outcomes: they live in the journal
	}
	g := []write{{key: decisionKey(d.ID), value: b, ttl: true}}
	if d.Source != "inbound" && len(d.Chosen) > 0 {
		g = append(g, write{key: outboxKey(d.Channel, d.ID), ttl: true})
	}
	if !d.Deadline.IsZero() {
		for _, a := range d.Chosen {
			g = append(g, write{key: pendingKey(engine.PendingKey{Deadline: d.Deadline, Decision: d.ID, Action: a}), ttl: true})
		}
	}
	return g
}

func eventWrites(ew engine.EventWrite) []write {
	e := ew.Event
	if ew.ResolveLabel != nil {
		// A label event: the event, its place among the decision's events, and the open
		// label it resolves; no outcome state (that is feedback's idempotency).
		g := []write{{key: eventKey(e.Seq), value: engine.EncodeEvent(nil, e)}, {key: decisionEventKey(e.DecisionID, e.Seq), ttl: true}}
		return append(g, labelDeletes(ew.ResolveLabel)...)
	}
	g := []write{
		// No TTL on the event itself: the journal keeps an event until a model snapshot
		// covers it and it is older than the retention (TrimJournal). The rest expires.
		{key: eventKey(e.Seq), value: engine.EncodeEvent(nil, e)},
		{key: outcomeKey(engine.OutcomeKey{Decision: e.DecisionID, Action: e.ActionID}), value: engine.EncodeOutcomeState(nil, &ew.Outcome), ttl: true},
		{key: decisionEventKey(e.DecisionID, e.Seq), ttl: true},
	}
	if ew.Resolve != nil {
		g = append(g, write{key: pendingKey(*ew.Resolve), del: true})
	}
	return g
}

// LastSeq returns the highest event sequence number in the journal, 0 if it is empty.
func (s *Store) LastSeq(_ context.Context) (uint64, error) {
	var seq uint64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tEvent), Reverse: true})
		defer it.Close()
		// A reverse iterator seeks to the last key <= the seek key: one past the table.
		it.Seek(append([]byte(tEvent), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		if !it.Valid() {
			return nil
		}
		var err error
		seq, err = parseEventKey(it.Item().Key())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("last event: %w", err)
	}
	return seq, nil
}

// Replay calls fn for each event with Seq > after, in sequence order.
func (s *Store) Replay(ctx context.Context, after uint64, fn func(*engine.Event) error) error {
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tEvent), PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Seek(eventKey(after + 1)); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var e engine.Event
			// DecodeEvent keeps nothing of Badger's buffer.
			if err := it.Item().Value(func(b []byte) error { return engine.DecodeEvent(b, &e) }); err != nil {
				return fmt.Errorf("decode event %s: %w", keyName(it.Item().Key()), err)
			}
			if err := fn(&e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay journal after %d: %w", after, err)
	}
	return nil
}

// Event returns one journal event, ErrNotFound if absent.
func (s *Store) Event(_ context.Context, seq uint64) (*engine.Event, error) {
	var e engine.Event
	if err := s.getRecord(eventKey(seq), func(b []byte) error { return engine.DecodeEvent(b, &e) }); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("get event %d: %w", seq, err)
	}
	return &e, nil
}

// Outcome returns the recorded state of a (decision, action) pair, ErrNotFound if none.
func (s *Store) Outcome(_ context.Context, k engine.OutcomeKey) (engine.OutcomeState, error) {
	var o engine.OutcomeState
	if err := s.getRecord(outcomeKey(k), func(b []byte) error { return engine.DecodeOutcomeState(b, &o) }); err != nil {
		if errors.Is(err, ErrNotFound) {
			return o, err
		}
		return o, fmt.Errorf("get outcome %s/%s: %w", k.Decision, k.Action, err)
	}
	return o, nil
}
