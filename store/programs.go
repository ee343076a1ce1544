package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/nextbest/nextbest/record"
)

// Tables of the experiments layer.
const (
	tExperiment = layout + "experiment/" // + experiment id -> record.Experiment JSON
	tCampaign   = layout + "campaign/"   // + campaign id -> record.Campaign JSON
	tEnrollment = layout + "enrollment/" // + experiment id NUL customer id -> record.Enrollment JSON
	tRollup     = layout + "rollup/"     // + experiment id NUL day NUL arm -> record.Rollup JSON
	tContact    = layout + "contact/"    // + customer id NUL time (8 bytes BE) NUL n -> record.EncodeContact (JSON before)
	tOutbox     = layout + "outbox/"     // + channel NUL decision id -> empty
	tCOutcome   = layout + "coutcome/"   // + time (8 bytes BE) + 8 random bytes -> record.CustomerOutcome JSON
	tCOutcomeID = layout + "coutcomeid/" // + client id -> empty
)

func enrollmentKey(x record.ExperimentID, c record.CustomerID) []byte {
	return []byte(tEnrollment + string(x) + sep + string(c))
}

func rollupKey(r *record.Rollup) []byte {
	return []byte(tRollup + string(r.Experiment) + sep + r.Day + sep + r.Arm)
}

func contactKey(c *record.ContactEvent, n int) []byte {
	k := make([]byte, 0, len(tContact)+len(c.Customer)+1+8+1+4)
	k = append(k, tContact...)
	k = append(k, c.Customer...)
	k = append(k, sep...)
	k = binary.BigEndian.AppendUint64(k, uint64(c.Time.UnixNano()))
	k = append(k, sep...)
	return binary.BigEndian.AppendUint32(k, uint32(n))
}

func contactPrefix(c record.CustomerID) []byte { return []byte(tContact + string(c) + sep) }

func outboxKey(channel string, id record.DecisionID) []byte {
	return []byte(tOutbox + channel + sep + string(id))
}

// Experiments returns every experiment.
func (s *Store) Experiments(ctx context.Context) ([]record.Experiment, error) {
	var out []record.Experiment
	return out, s.scan(ctx, []byte(tExperiment), func(b []byte) error {
		var x record.Experiment
		if err := json.Unmarshal(b, &x); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
}

// PutExperiment stores an experiment.
func (s *Store) PutExperiment(_ context.Context, x record.Experiment) error {
	return s.putJSON([]byte(tExperiment+string(x.ID)), x)
}

// Campaigns returns every campaign.
func (s *Store) Campaigns(ctx context.Context) ([]record.Campaign, error) {
	var out []record.Campaign
	return out, s.scan(ctx, []byte(tCampaign), func(b []byte) error {
		var c record.Campaign
		if err := json.Unmarshal(b, &c); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
}

// PutCampaign stores a campaign.
func (s *Store) PutCampaign(_ context.Context, c record.Campaign) error {
	return s.putJSON([]byte(tCampaign+string(c.ID)), c)
}

// Enrollment returns a customer's enrollment in an experiment, ErrNotFound if none.
func (s *Store) Enrollment(_ context.Context, x record.ExperimentID, c record.CustomerID) (record.Enrollment, error) {
	var en record.Enrollment
	err := s.get(enrollmentKey(x, c), &en)
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("get enrollment %s/%s: %w", x, c, err)
	}
	return en, err
}

// Rollups returns an experiment's daily rollups, ordered by day then arm.
func (s *Store) Rollups(ctx context.Context, x record.ExperimentID) ([]record.Rollup, error) {
	var out []record.Rollup
	return out, s.scan(ctx, []byte(tRollup+string(x)+sep), func(b []byte) error {
		var r record.Rollup
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
}

// Contacts returns a customer's contact history from since on, oldest first.
func (s *Store) Contacts(ctx context.Context, c record.CustomerID, since time.Time) ([]record.ContactEvent, error) {
	var out []record.ContactEvent
	prefix := contactPrefix(c)
	start := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(max(since.UnixNano(), 0)))
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 32})
		defer it.Close()
		for it.Seek(start); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var ev record.ContactEvent
			if err := it.Item().Value(func(b []byte) error { return record.DecodeContact(b, &ev) }); err != nil {
				return fmt.Errorf("decode contact %s: %w", keyName(it.Item().Key()), err)
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read contacts of %q: %w", c, err)
	}
	return out, nil
}

// Outbox calls fn for each outbound decision on channel from since on, oldest first.
func (s *Store) Outbox(ctx context.Context, channel string, since time.Time, fn func(*record.Decision) error) error {
	prefix := []byte(tOutbox + channel + sep)
	start := prefix
	if !since.IsZero() {
		start = outboxKey(channel, record.DecisionIDPrefix(since))
	}
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(start); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			id := record.DecisionID(it.Item().Key()[len(prefix):])
			item, err := txn.Get(decisionKey(id))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue // expired
			}
			if err != nil {
				return err
			}
			d, err := s.readDecision(txn, item)
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

// OutcomeSeen reports whether a customer outcome with this client id was recorded.
func (s *Store) OutcomeSeen(_ context.Context, id string) (bool, error) {
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get([]byte(tCOutcomeID + id))
		return err
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	}
	return false, fmt.Errorf("read outcome id %q: %w", id, err)
}

// scan calls fn with every value under prefix.
func (s *Store) scan(ctx context.Context, prefix []byte, fn func([]byte) error) error {
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := it.Item().Value(fn); err != nil {
				return fmt.Errorf("decode %q: %w", it.Item().Key(), err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan %s: %w", prefix, err)
	}
	return nil
}

func (s *Store) putJSON(key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if err := s.update(len(key)+len(b)+entryOverhead, func(txn *badger.Txn) error { return txn.Set(key, b) }); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}
