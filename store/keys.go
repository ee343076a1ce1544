package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nextbest/nextbest/engine"
)

// Key layout, version 1. Every table name ends in '/'; ids never contain NUL (see
// engine.ValidID), so NUL separates the parts of composite keys.
const (
	layout      = "v1/"
	tAction     = layout + "action/"    // + action id -> engine.Action JSON
	tCustomer   = layout + "customer/"  // + customer id -> engine.Customer JSON
	tSetting    = layout + "setting/"   // + name -> bytes
	tDecision   = layout + "decision/"  // + decision id (time ordered) -> engine.EncodeDecision (JSON before)
	tEvent      = layout + "event/"     // + seq (8 bytes big endian) -> engine.EncodeEvent (JSON before)
	tOutcome    = layout + "outcome/"   // + decision id NUL action id -> engine.EncodeOutcomeState (JSON before)
	tPending    = layout + "pending/"   // + deadline (8 bytes BE unix ns) + decision id NUL action id -> empty
	tDecEvent   = layout + "devent/"    // + decision id NUL seq (8 bytes BE) -> empty: the events of a decision
	tModelMeta  = layout + "modelmeta/" // + action id NUL version (8 bytes BE) -> engine.Snapshot JSON
	tModelBytes = layout + "model/"     // + action id NUL version (8 bytes BE) -> model bytes
	tTrimMark   = layout + "trimmark/"  // + time (8 bytes BE unix ns) -> covered seq (8 bytes BE): see TrimJournal
	sep         = "\x00"
	// tHold is a prefix no key has: an iterator over it holds Badger's value-log file
	// deletions (Store.holdDeletions) and reads nothing.
	tHold = layout + "hold/"
)

// ErrBadKey reports a key that does not follow the layout.
var ErrBadKey = errors.New("malformed store key")

func actionKey(id engine.ActionID) []byte     { return []byte(tAction + string(id)) }
func customerKey(id engine.CustomerID) []byte { return []byte(tCustomer + string(id)) }
func settingKey(name string) []byte           { return []byte(tSetting + name) }
func decisionKey(id engine.DecisionID) []byte { return []byte(tDecision + string(id)) }
func outcomeKey(k engine.OutcomeKey) []byte {
	return []byte(tOutcome + string(k.Decision) + sep + string(k.Action))
}

func decisionEventKey(id engine.DecisionID, seq uint64) []byte {
	k := make([]byte, 0, len(tDecEvent)+len(id)+1+8)
	k = append(k, tDecEvent...)
	k = append(k, id...)
	k = append(k, sep...)
	return binary.BigEndian.AppendUint64(k, seq)
}

func decisionEventPrefix(id engine.DecisionID) []byte { return []byte(tDecEvent + string(id) + sep) }

func eventKey(seq uint64) []byte {
	k := make([]byte, len(tEvent)+8)
	copy(k, tEvent)
	binary.BigEndian.PutUint64(k[len(tEvent):], seq)
	return k
}

func parseEventKey(k []byte) (uint64, error) {
	if len(k) != len(tEvent)+8 || string(k[:len(tEvent)]) != tEvent {
		return 0, ErrBadKey
	}
	return binary.BigEndian.Uint64(k[len(tEvent):]), nil
}

func pendingKey(p engine.PendingKey) []byte {
	k := make([]byte, 0, len(tPending)+8+len(p.Decision)+1+len(p.Action))
	k = append(k, tPending...)
	k = binary.BigEndian.AppendUint64(k, uint64(p.Deadline.UnixNano()))
	k = append(k, p.Decision...)
	k = append(k, sep...)
	return append(k, p.Action...)
}

// keyName spells a key for people: an event's key with its sequence number, any other
// quoted (ids are text; the few binary parts are escaped).
func keyName(k []byte) string {
	if seq, err := parseEventKey(k); err == nil {
		return fmt.Sprintf("%s%d", tEvent, seq)
	}
	return strconv.Quote(string(k))
}

func parsePendingKey(k []byte) (engine.PendingKey, error) {
	if len(k) < len(tPending)+8+3 || string(k[:len(tPending)]) != tPending {
		return engine.PendingKey{}, ErrBadKey
	}
	ns := binary.BigEndian.Uint64(k[len(tPending):])
	d, a, ok := strings.Cut(string(k[len(tPending)+8:]), sep)
	if !ok || d == "" || a == "" {
		return engine.PendingKey{}, ErrBadKey
	}
	return engine.PendingKey{Deadline: time.Unix(0, int64(ns)).UTC(), Decision: engine.DecisionID(d), Action: engine.ActionID(a)}, nil
}

func versionKey(table string, v engine.VersionKey) []byte {
	k := make([]byte, 0, len(table)+len(v.Action)+1+8)
	k = append(k, table...)
	k = append(k, v.Action...)
	k = append(k, sep...)
	return binary.BigEndian.AppendUint64(k, v.Version)
}

func versionPrefix(table string, id engine.ActionID) []byte {
	return []byte(table + string(id) + sep)
}

func parseVersionKey(table string, k []byte) (engine.VersionKey, error) {
	if len(k) < len(table)+1+1+8 || string(k[:len(table)]) != table {
		return engine.VersionKey{}, ErrBadKey
	}
	rest := k[len(table):]
	id, ver := rest[:len(rest)-8], rest[len(rest)-8:]
	if len(id) < 2 || id[len(id)-1] != 0 {
		return engine.VersionKey{}, ErrBadKey
	}
	return engine.VersionKey{Action: engine.ActionID(id[:len(id)-1]), Version: binary.BigEndian.Uint64(ver)}, nil
}
