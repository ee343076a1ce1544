package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/nextbest/nextbest/record"
)

// LatestSnapshots returns the newest stored version of every action's model, with bytes.
func (s *Store) LatestSnapshots(ctx context.Context) ([]record.Snapshot, error) {
	var out []record.Snapshot
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tModelMeta), PrefetchValues: true})
		defer it.Close()
		var last *record.Snapshot
		flush := func() error {
			if last == nil {
				return nil
			}
			b, err := modelBytes(txn, record.VersionKey{Action: last.Action, Version: last.Version})
			if err != nil {
				return err
			}
			last.Model = b
			out = append(out, *last)
			return nil
		}
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var sn record.Snapshot
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &sn) }); err != nil {
				return fmt.Errorf("decode snapshot %q: %w", it.Item().Key(), err)
			}
			if last != nil && last.Action != sn.Action {
				if err := flush(); err != nil {
					return err
				}
			}
			last = &sn
		}
		return flush()
	})
	if err != nil {
		return nil, fmt.Errorf("load model snapshots: %w", err)
	}
	return out, nil
}

func modelBytes(txn *badger.Txn, k record.VersionKey) ([]byte, error) {
	item, err := txn.Get(versionKey(tModelBytes, k))
	if err != nil {
		return nil, fmt.Errorf("model bytes %q v%d: %w", k.Action, k.Version, err)
	}
	return item.ValueCopy(nil)
}

// Versions lists an action's stored model versions, newest first, without model bytes.
func (s *Store) Versions(ctx context.Context, id record.ActionID) ([]record.Snapshot, error) {
	out := []record.Snapshot{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: versionPrefix(tModelMeta, id), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var sn record.Snapshot
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &sn) }); err != nil {
				return fmt.Errorf("decode snapshot %q: %w", it.Item().Key(), err)
			}
			out = append(out, sn)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list versions of %q: %w", id, err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// Snapshot returns one stored model version with its bytes, ErrNotFound if absent.
func (s *Store) Snapshot(_ context.Context, k record.VersionKey) (record.Snapshot, error) {
	var sn record.Snapshot
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(versionKey(tModelMeta, k))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := item.Value(func(b []byte) error { return json.Unmarshal(b, &sn) }); err != nil {
			return err
		}
		sn.Model, err = modelBytes(txn, k)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return sn, err
		}
		return sn, fmt.Errorf("get model %q v%d: %w", k.Action, k.Version, err)
	}
	return sn, nil
}
