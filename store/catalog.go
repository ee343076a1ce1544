package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/nextbest/nextbest/record"
)

// Actions returns every action in the catalog, ordered by id.
func (s *Store) Actions(ctx context.Context) ([]record.Action, error) {
	var out []record.Action
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tAction), PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var a record.Action
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &a) }); err != nil {
				return fmt.Errorf("decode action %q: %w", it.Item().Key(), err)
			}
			out = append(out, a)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list actions: %w", err)
	}
	return out, nil
}

// PutAction stores an action definition.
func (s *Store) PutAction(_ context.Context, a record.Action) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode action %q: %w", a.ID, err)
	}
	if err := s.update(len(b)+entryOverhead, func(txn *badger.Txn) error { return txn.Set(actionKey(a.ID), b) }); err != nil {
		return fmt.Errorf("put action %q: %w", a.ID, err)
	}
	return nil
}

// Setting returns a named setting's bytes, ErrNotFound if absent.
func (s *Store) Setting(_ context.Context, name string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(settingKey(name))
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get setting %q: %w", name, err)
	}
	return out, nil
}

// PutSetting stores a named setting.
func (s *Store) PutSetting(_ context.Context, name string, value []byte) error {
	if err := s.update(len(value)+entryOverhead, func(txn *badger.Txn) error { return txn.Set(settingKey(name), value) }); err != nil {
		return fmt.Errorf("put setting %q: %w", name, err)
	}
	return nil
}

// Customer returns a customer profile, ErrNotFound if absent.
func (s *Store) Customer(_ context.Context, id record.CustomerID) (record.Customer, error) {
	c, ok, gen := s.customers.get(id)
	if ok {
		if c.ID == "" {
			return c, ErrNotFound
		}
		return c, nil
	}
	if err := s.get(customerKey(id), &c); err != nil {
		if errors.Is(err, ErrNotFound) {
			s.customers.fillAbsent(id, gen)
			return c, err
		}
		return c, fmt.Errorf("get customer %q: %w", id, err)
	}
	s.customers.fill(c, gen)
	return c, nil
}

// PutCustomer stores a customer profile.
func (s *Store) PutCustomer(_ context.Context, c record.Customer) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode customer %q: %w", c.ID, err)
	}
	if err := s.update(len(b)+entryOverhead, func(txn *badger.Txn) error { return txn.Set(customerKey(c.ID), b) }); err != nil {
		return fmt.Errorf("put customer %q: %w", c.ID, err)
	}
	s.customers.wrote(c)
	return nil
}

// Customers calls fn for every customer profile, in id order.
func (s *Store) Customers(ctx context.Context, fn func(record.Customer) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tCustomer), PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var c record.Customer
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &c) }); err != nil {
				return fmt.Errorf("decode customer %q: %w", it.Item().Key(), err)
			}
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	})
}
