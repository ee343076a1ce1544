package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The journal's retention. Journal events carry no Badger TTL: an event may be deleted
// only once a model snapshot includes it, and when it is written no one knows when that
// will be. TrimJournal deletes what both a snapshot covers and the retention lets go.
//
// An event's age is known through trim marks rather than read from the event (whose time
// a client may set): each TrimJournal call may record a mark, the time of the call and
// the covered sequence it was given. Every event at or below a mark's sequence was
// committed before the snapshot that covered it, so before the mark's time. Events up to
// the newest mark that is a retention old are therefore both covered and a retention old.
// Marks are written at most every trimMarkSpacing of the retention, so a store holds about
// that many, and an event goes at most that much past its retention (plus the interval of
// the calls).
const trimMarkSpacing = 64 // marks per retention

// trimChunk is how many event keys one round of TrimJournal collects before deleting them.
const trimChunk = 4096

type trimMark struct {
	at  time.Time
	seq uint64
	key []byte
}

// TrimJournal deletes the journal events at or below covered that are older than
// Options.Retention, and returns how many it deleted. covered must be a sequence up to
// which every model's stored snapshot includes every event (the engine's checkpoint): an
// event above it is never deleted, however old. With a zero retention it deletes nothing.
// Events written by earlier versions with a TTL also expire by themselves.
func (s *Store) TrimJournal(ctx context.Context, covered uint64) (int, error) {
	if s.opts.Retention <= 0 {
		return 0, nil
	}
	now := s.now()
	marks, err := s.trimMarks()
	if err != nil {
		return 0, err
	}
	// The newest mark that is a retention old bounds what may go; older marks are spent.
	cutoff := now.Add(-s.opts.Retention)
	var through uint64
	var spent []write
	use := -1
	for i, m := range marks {
		if m.at.After(cutoff) {
			break
		}
		use = i
	}
	if use >= 0 {
		through = min(marks[use].seq, covered)
		for _, m := range marks[:use] {
			spent = append(spent, write{key: m.key, del: true})
		}
	}
	// Marks from the future (the clock was set back) are dropped: without a mark an event
	// only stays longer.
	for len(marks) > 0 && marks[len(marks)-1].at.After(now) {
		spent = append(spent, write{key: marks[len(marks)-1].key, del: true})
		marks = marks[:len(marks)-1]
	}
	deleted := 0
	for next := uint64(1); next <= through; {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		keys, last, err := s.eventKeys(next, through, trimChunk)
		if err != nil {
			return deleted, err
		}
		if len(keys) == 0 {
			break
		}
		groups := make([][]write, 0, len(keys))
		for _, k := range keys {
			groups = append(groups, []write{{key: k, del: true}})
		}
		if err := s.writeGroups(ctx, groups); err != nil {
			return deleted, fmt.Errorf("trim journal: %w", err)
		}
		deleted += len(keys)
		next = last + 1
	}
	// A new mark when the covered sequence has moved on and the newest mark is old enough.
	newest := trimMark{}
	if len(marks) > 0 {
		newest = marks[len(marks)-1]
	}
	if covered > newest.seq && now.Sub(newest.at) >= s.opts.Retention/trimMarkSpacing {
		spent = append(spent, write{key: trimMarkKey(now), value: binary.BigEndian.AppendUint64(nil, covered)})
	}
	if len(spent) > 0 {
		if err := s.writeGroups(ctx, [][]write{spent}); err != nil {
			return deleted, fmt.Errorf("trim journal: %w", err)
		}
	}
	if deleted > 0 || len(spent) > 0 {
		if err := s.durable(); err != nil {
			return deleted, fmt.Errorf("trim journal: %w", err)
		}
	}
	return deleted, nil
}

// trimMarks returns the stored trim marks, oldest first.
func (s *Store) trimMarks() ([]trimMark, error) {
	var marks []trimMark
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tTrimMark), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(k) != len(tTrimMark)+8 || len(v) != 8 {
				return fmt.Errorf("trim mark %x: %w", k, ErrBadKey)
			}
			at := time.Unix(0, int64(binary.BigEndian.Uint64(k[len(tTrimMark):])))
			marks = append(marks, trimMark{at: at, seq: binary.BigEndian.Uint64(v), key: k})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read trim marks: %w", err)
	}
	return marks, nil
}

// eventKeys returns up to n journal keys with sequences in [from, to], and the last
// sequence among them.
func (s *Store) eventKeys(from, to uint64, n int) (keys [][]byte, last uint64, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tEvent)})
		defer it.Close()
		for it.Seek(eventKey(from)); it.Valid() && len(keys) < n; it.Next() {
			seq, err := parseEventKey(it.Item().Key())
			if err != nil {
				return fmt.Errorf("journal key %x: %w", it.Item().Key(), err)
			}
			if seq > to {
				break
			}
			keys = append(keys, it.Item().KeyCopy(nil))
			last = seq
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("trim journal: %w", err)
	}
	return keys, last, nil
}

func trimMarkKey(at time.Time) []byte {
	return binary.BigEndian.AppendUint64([]byte(tTrimMark), uint64(at.UnixNano()))
}
