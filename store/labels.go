package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/internal/binrec"
	"github.com/nextbest/nextbest/record"
)

// The delayed labels of engine/labels.go: an open label is stored under its deadline (so
// that the due ones are a prefix scan) and indexed by customer (so that an outcome finds
// the customer's labels); a customer's latest churn is kept to drop the labels of
// decisions made after it. Open labels carry no TTL: each is deleted when resolved, in the
// transaction that writes its event.
const (
	tLabel     = layout + "label/"     // + deadline (8 bytes BE unix ns) + decision id NUL objective -> label record
	tLabelCust = layout + "labelcust/" // + customer NUL + decision time (8 bytes BE) + decision id NUL objective -> deadline (8 bytes BE)
	tLeft      = layout + "left/"      // + customer -> time (8 bytes BE unix ns) of the latest churn
)

func labelKey(k record.LabelKey) []byte {
	b := make([]byte, 0, len(tLabel)+8+len(k.Decision)+1+len(k.Objective))
	b = append(b, tLabel...)
	b = binary.BigEndian.AppendUint64(b, uint64(k.Deadline.UnixNano()))
	b = append(b, k.Decision...)
	b = append(b, sep...)
	return append(b, k.Objective...)
}

func parseLabelKey(k []byte) (record.LabelKey, error) {
	if len(k) < len(tLabel)+8+3 || string(k[:len(tLabel)]) != tLabel {
		return record.LabelKey{}, ErrBadKey
	}
	rest := k[len(tLabel)+8:]
	i := indexByte(rest, 0)
	if i < 1 || i == len(rest)-1 {
		return record.LabelKey{}, ErrBadKey
	}
	return record.LabelKey{
		Deadline:  time.Unix(0, int64(binary.BigEndian.Uint64(k[len(tLabel):]))).UTC(),
		Decision:  record.DecisionID(rest[:i]),
		Objective: string(rest[i+1:]),
	}, nil
}

func labelCustPrefix(c record.CustomerID) []byte { return []byte(tLabelCust + string(c) + sep) }

func labelCustKey(l *record.Label) []byte {
	b := labelCustPrefix(l.Customer)
	b = binary.BigEndian.AppendUint64(b, uint64(l.Time.UnixNano()))
	b = append(b, l.Decision...)
	b = append(b, sep...)
	return append(b, l.Objective...)
}

func leftKey(c record.CustomerID) []byte { return []byte(tLeft + string(c)) }

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// errLabelRecord reports a label record that cannot be decoded.
var errLabelRecord = errors.New("label record")

// labelRecordV1 is a label record: customer, decision time, treated action, schema,
// features (as in the decision record), the hit flag, then a CRC-32C of the record.
const labelRecordV1 = 1

func encodeLabel(l *record.Label) []byte {
	b := make([]byte, 0, 64+len(l.Customer)+len(l.Treated)+len(l.Schema)+12*len(l.Features.Index))
	b = append(b, labelRecordV1)
	for _, s := range [...]string{string(l.Customer), string(l.Treated), l.Schema} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, l.Time.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(l.Features.Index)))
	for _, i := range l.Features.Index {
		b = binary.AppendVarint(b, int64(i))
	}
	for _, v := range l.Features.Value {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	if l.Hit {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return binrec.AppendChecksum(b, 0)
}

func decodeLabel(k record.LabelKey, b []byte) (record.Label, error) {
	if len(b) == 0 || b[0] != labelRecordV1 {
		return record.Label{}, fmt.Errorf("%w: unknown version", errLabelRecord)
	}
	body, err := binrec.Checked(b, errLabelRecord)
	if err != nil {
		return record.Label{}, err
	}
	r := binrec.NewReader(body[1:], errLabelRecord)
	l := record.Label{LabelKey: k}
	l.Customer = record.CustomerID(r.LenBytes("string"))
	l.Treated = record.ActionID(r.LenBytes("string"))
	l.Schema = string(r.LenBytes("string"))
	l.Time = time.Unix(0, r.Varint("time")).UTC()
	if n := r.Count(1+8, "count"); n > 0 {
		l.Features = features.Vector{Index: make([]int32, n), Value: make([]float64, n)}
		for i := range n {
			v := r.Varint("number")
			if v < 0 || v > math.MaxInt32 {
				r.Fail("feature index out of range")
			}
			l.Features.Index[i] = int32(v)
		}
		for i := range n {
			l.Features.Value[i] = r.Float64("number")
		}
	}
	switch r.Byte("flag") {
	case 0:
	case 1:
		l.Hit = true
	default:
		r.Fail("hit flag")
	}
	if err := r.Done(); err != nil {
		return record.Label{}, err
	}
	return l, nil
}

// labelWrites are the writes of an open label: the record and the customer index.
func labelWrites(l *record.Label) []write {
	dl := binary.BigEndian.AppendUint64(nil, uint64(l.Deadline.UnixNano()))
	return []write{{key: labelKey(l.LabelKey), value: encodeLabel(l)}, {key: labelCustKey(l), value: dl}}
}

// labelDeletes delete an open label and its index entry.
func labelDeletes(l *record.Label) []write {
	return []write{{key: labelKey(l.LabelKey), del: true}, {key: labelCustKey(l), del: true}}
}

// Label returns an open label, ErrNotFound once it is resolved.
func (s *Store) Label(_ context.Context, k record.LabelKey) (record.Label, error) {
	var l record.Label
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(labelKey(k))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error {
			l, err = decodeLabel(k, b)
			return err
		})
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return record.Label{}, fmt.Errorf("get label: %w", err)
	}
	return l, err
}

// CustomerLabels returns the open labels of a customer's decisions, oldest decision
// first.
func (s *Store) CustomerLabels(ctx context.Context, c record.CustomerID) ([]record.Label, error) {
	var out []record.Label
	prefix := labelCustPrefix(c)
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().Key()
			rest := k[len(prefix):]
			if len(rest) < 8+3 {
				return fmt.Errorf("%w: %q", ErrBadKey, k)
			}
			i := indexByte(rest[8:], 0)
			if i < 1 {
				return fmt.Errorf("%w: %q", ErrBadKey, k)
			}
			var dl []byte
			if err := it.Item().Value(func(b []byte) error { dl = append(dl, b...); return nil }); err != nil {
				return err
			}
			if len(dl) != 8 {
				return fmt.Errorf("%w: label index value of %d bytes", errLabelRecord, len(dl))
			}
			lk := record.LabelKey{Deadline: time.Unix(0, int64(binary.BigEndian.Uint64(dl))).UTC(), Decision: record.DecisionID(rest[8 : 8+i]), Objective: string(rest[8+i+1:])}
			item, err := txn.Get(labelKey(lk))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue // resolved in a transaction that has not removed the index yet
			}
			if err != nil {
				return err
			}
			if err := item.Value(func(b []byte) error {
				l, err := decodeLabel(lk, b)
				if err == nil {
					out = append(out, l)
				}
				return err
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("labels of customer %q: %w", c, err)
	}
	return out, nil
}

// DueLabels calls fn for up to limit open labels whose deadline is before t, in deadline
// order.
func (s *Store) DueLabels(ctx context.Context, before time.Time, limit int, fn func(record.Label) error) error {
	n := 0
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tLabel), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid() && n < limit; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k, err := parseLabelKey(it.Item().Key())
			if err != nil {
				return fmt.Errorf("%w: %q", err, it.Item().Key())
			}
			if !k.Deadline.Before(before) {
				return nil // keys are in deadline order
			}
			var l record.Label
			if err := it.Item().Value(func(b []byte) error {
				l, err = decodeLabel(k, b)
				return err
			}); err != nil {
				return err
			}
			if err := fn(l); err != nil {
				return err
			}
			n++
		}
		return nil
	})
}

// LeftAt returns the time of the customer's latest recorded churn, ErrNotFound if none.
func (s *Store) LeftAt(_ context.Context, c record.CustomerID) (time.Time, error) {
	var t time.Time
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(leftKey(c))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error {
			if len(b) != 8 {
				return fmt.Errorf("%w: churn time of %d bytes", errLabelRecord, len(b))
			}
			t = time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
			return nil
		})
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return time.Time{}, fmt.Errorf("churn time of %q: %w", c, err)
	}
	return t, err
}
