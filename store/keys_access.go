package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/nextbest/nextbest/access"
)

const tKey = layout + "key/" // + key id -> access.Key JSON (hash only, never the secret)

// PutKey stores an API key (its hash, role and metadata).
func (s *Store) PutKey(_ context.Context, k access.Key) error {
	b, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("encode key %s: %w", k.ID, err)
	}
	if err := s.update(len(b)+entryOverhead, func(txn *badger.Txn) error { return txn.Set([]byte(tKey+string(k.ID)), b) }); err != nil {
		return fmt.Errorf("put key %s: %w", k.ID, err)
	}
	return nil
}

// Key returns one stored key, ErrNotFound if absent.
func (s *Store) Key(_ context.Context, id access.KeyID) (access.Key, error) {
	var k access.Key
	if err := s.get([]byte(tKey+string(id)), &k); err != nil {
		if errors.Is(err, ErrNotFound) {
			return k, err
		}
		return k, fmt.Errorf("get key %s: %w", id, err)
	}
	return k, nil
}

// Keys returns every stored key, revoked ones included, ordered by id.
func (s *Store) Keys(ctx context.Context) ([]access.Key, error) {
	var out []access.Key
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tKey), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var k access.Key
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &k) }); err != nil {
				return fmt.Errorf("decode key %q: %w", it.Item().Key(), err)
			}
			out = append(out, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}
