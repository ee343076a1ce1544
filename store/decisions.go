package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/nextbest/nextbest/record"
)

// Decision returns one logged decision with its outcomes, ErrNotFound if absent (or expired).
func (s *Store) Decision(_ context.Context, id record.DecisionID) (*record.Decision, error) {
	return s.decision(id, true)
}

// DecisionRecord returns one logged decision without its outcomes: what feedback needs,
// without the iterator over the decision's events that attaching them costs.
func (s *Store) DecisionRecord(_ context.Context, id record.DecisionID) (*record.Decision, error) {
	return s.decision(id, false)
}

func (s *Store) decision(id record.DecisionID, outcomes bool) (*record.Decision, error) {
	var d record.Decision
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(decisionKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		// DecodeDecision copies what it keeps out of Badger's buffer.
		if err := item.Value(func(b []byte) error { return record.DecodeDecision(b, id, s.strings, &d) }); err != nil {
			return err
		}
		if !outcomes {
			return nil
		}
		return attachOutcomes(txn, &d)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("get decision %q: %w", id, err)
	}
	return &d, nil
}

// Decisions calls fn for each logged decision from since on, oldest first, with its outcomes.
func (s *Store) Decisions(ctx context.Context, since time.Time, fn func(*record.Decision) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tDecision), PrefetchValues: true, PrefetchSize: 128})
		defer it.Close()
		start := []byte(tDecision)
		if !since.IsZero() {
			start = decisionKey(record.DecisionIDPrefix(since))
		}
		for it.Seek(start); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			d, err := s.readDecision(txn, it.Item())
			if err != nil {
				return err
			}
			if err := fn(d); err != nil {
				return err
			}
		}
		return nil
	})
}

// attachOutcomes fills d.Outcomes with the journal events recorded for d, in sequence order.
func attachOutcomes(txn *badger.Txn, d *record.Decision) error {
	prefix := decisionEventPrefix(d.ID)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) != len(prefix)+8 {
			continue
		}
		seq := binary.BigEndian.Uint64(k[len(prefix):])
		item, err := txn.Get(eventKey(seq))
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue // expired from the journal
		}
		if err != nil {
			return err
		}
		var e record.Event
		if err := item.Value(func(b []byte) error { return record.DecodeEvent(b, &e) }); err != nil {
			return fmt.Errorf("decode event %d: %w", seq, err)
		}
		e.Features.Index, e.Features.Value = nil, nil // the decision already carries them
		d.Outcomes = append(d.Outcomes, e)
	}
	return nil
}

// Expired calls fn for up to limit pending responses whose deadline is before t, oldest first.
func (s *Store) Expired(ctx context.Context, before time.Time, limit int, fn func(record.PendingKey) error) error {
	n := 0
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tPending)})
		defer it.Close()
		for it.Rewind(); it.Valid() && n < limit; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			p, err := parsePendingKey(it.Item().Key())
			if err != nil {
				s.log.Warn("skipping malformed pending key", "key", fmt.Sprintf("%q", it.Item().Key()))
				continue
			}
			if !p.Deadline.Before(before) {
				return nil // keys are in deadline order
			}
			if err := fn(p); err != nil {
				return err
			}
			n++
		}
		return nil
	})
}

// Recent returns up to n decisions, newest first, with their outcomes. It reads n
// records backwards from the end of the log, whatever the log's size.
func (s *Store) Recent(ctx context.Context, n int) ([]*record.Decision, error) {
	var out []*record.Decision
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tDecision), Reverse: true, PrefetchValues: true, PrefetchSize: min(n, 100)})
		defer it.Close()
		// A reverse iterator seeks to the last key <= the seek key: one past the table.
		for it.Seek(append([]byte(tDecision), 0xff)); it.Valid() && len(out) < n; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			d, err := s.readDecision(txn, it.Item())
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recent decisions: %w", err)
	}
	return out, nil
}

// readDecision decodes the decision record under item (a key of tDecision) and
// attaches its outcomes.
func (s *Store) readDecision(txn *badger.Txn, item *badger.Item) (*record.Decision, error) {
	var d record.Decision
	id := record.DecisionID(item.Key()[len(tDecision):])
	if err := item.Value(func(b []byte) error { return record.DecodeDecision(b, id, s.strings, &d) }); err != nil {
		return nil, fmt.Errorf("decode decision %q: %w", id, err)
	}
	if err := attachOutcomes(txn, &d); err != nil {
		return nil, err
	}
	return &d, nil
}
