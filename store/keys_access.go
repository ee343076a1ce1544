package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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

const tSession = layout + "session/" // + session id -> access.Session JSON (the token's hash, never the token)

// PutSession stores a dashboard session. Badger drops it when it expires.
func (s *Store) PutSession(_ context.Context, ss access.Session) error {
	ttl := time.Until(ss.Expires)
	if ttl <= 0 {
		return nil // already over: there is nothing to keep
	}
	b, err := json.Marshal(ss)
	if err != nil {
		return fmt.Errorf("encode session of key %s: %w", ss.KeyID, err)
	}
	e := badger.NewEntry([]byte(tSession+string(ss.ID)), b).WithTTL(ttl)
	if err := s.update(len(b)+entryOverhead, func(txn *badger.Txn) error { return txn.SetEntry(e) }); err != nil {
		return fmt.Errorf("put session of key %s: %w", ss.KeyID, err)
	}
	return nil
}

// DeleteSession deletes a dashboard session; deleting one that does not exist is no error.
func (s *Store) DeleteSession(_ context.Context, id access.SessionID) error {
	if err := s.update(entryOverhead, func(txn *badger.Txn) error { return txn.Delete([]byte(tSession + string(id))) }); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// Sessions returns every stored dashboard session that has not expired.
func (s *Store) Sessions(ctx context.Context) ([]access.Session, error) {
	var out []access.Session
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tSession), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var ss access.Session
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &ss) }); err != nil {
				return fmt.Errorf("decode session %q: %w", it.Item().Key(), err)
			}
			out = append(out, ss)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}
