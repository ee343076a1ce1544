package store

import (
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/nextbest/nextbest/engine"
)

// tString is the decision records' dictionary (engine.Strings): + number (4 bytes big
// endian, from 1) -> the string. It only grows; it is read whole when the store opens.
const tString = layout + "string/"

// stringGroup is how many new strings one write group holds: a commit that brings many
// (the first decisions of a store) stays within a transaction's budget.
const stringGroup = 256

func stringKey(id uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte(tString), id)
}

// loadStrings reads the dictionary. Its numbers must run 1, 2, ... without a gap: the
// store writes them in order (stringWrites) and never deletes one.
func loadStrings(db *badger.DB) (*engine.Strings, error) {
	var strs []string
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tString), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != len(tString)+4 {
				return fmt.Errorf("%w: %s", ErrBadKey, keyName(k))
			}
			if id := binary.BigEndian.Uint32(k[len(tString):]); int(id) != len(strs)+1 {
				return fmt.Errorf("decision strings: number %d follows %d", id, len(strs))
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			strs = append(strs, string(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load decision strings: %w", err)
	}
	return engine.NewStrings(strs)
}

// DecisionStrings returns the dictionary the store's decision records name things by.
func (s *Store) DecisionStrings() *engine.Strings { return s.strings }

// stringWrites returns the write groups of the dictionary's pending strings and the
// number of the last, 0 if none is pending.
func (s *Store) stringWrites() (groups [][]write, last uint32) {
	first, pending := s.strings.Pending()
	for i := 0; i < len(pending); i += stringGroup {
		var g []write
		for j := i; j < min(i+stringGroup, len(pending)); j++ {
			g = append(g, write{key: stringKey(first + uint32(j)), value: []byte(pending[j])})
		}
		groups = append(groups, g)
	}
	if len(pending) == 0 {
		return nil, 0
	}
	return groups, first + uint32(len(pending)) - 1
}
