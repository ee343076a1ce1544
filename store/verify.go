package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/nextbest/nextbest/bandit"
	"github.com/nextbest/nextbest/engine"
)

// Report is what Verify found in a stopped store.
type Report struct {
	Dir      string
	Manifest bool // the MANIFEST reads to its end
	Tables   int  // tables (.sst) whose every block's checksum matches
	Logs     int  // memtable and value log files read to their end
	Entries  int  // log entries read back
	// Opened says the store was opened and its records read: only when its files are
	// whole, because Badger repairs damaged logs by dropping what follows (integrity.go).
	Opened bool
	// Records counts, by table ("v1/event/"), the records read and decoded.
	Records map[string]int
	// Events is the journal's span: the first and last event, and how many it holds.
	FirstEvent, LastEvent uint64
	Events                int
	Damage                []Damage
	// Notes are findings that lose nothing the models need, such as journal events
	// missing below the checkpoint.
	Notes []string
	// Checked says Verify's check (the engine's start-up check) ran and found nothing.
	Checked bool
}

// Damaged reports whether Verify found damage.
func (r *Report) Damaged() bool { return len(r.Damage) > 0 }

// Verify reads every file and every record of the stopped store in opts.Dir and reports
// what is damaged: the files as Open checks them (integrity.go), every older value log
// file to its end, Badger's own table checksums (DB.VerifyChecksum), then every record:
// its value read back (Badger checks the value log's checksum), each binary record of
// the journal and the decision log decoded with its checksum (engine.DecodeEvent and the
// others), JSON records decoded, keys parsed, every model snapshot decoded, and the
// journal's sequence checked for gaps and its decision index for events it lost. It
// opens the store only when its files are whole, and writes nothing but what Badger
// writes on any open (it replays its logs into new files). With the records read, it
// calls check, if not nil, with the open store: an error of check wrapping
// engine.ErrDamaged is damage, as the engine's check at start-up finds it. The error
// is for what kept it from reading; damage is in the report.
func Verify(ctx context.Context, opts Options, check func(context.Context, *Store) error) (*Report, error) {
	unlock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	c, err := checkFiles(opts.Dir, true)
	unlock()
	if err != nil {
		return nil, err
	}
	r := &Report{Dir: opts.Dir, Manifest: c.manifest, Tables: c.tables, Logs: c.logs, Entries: c.entries, Damage: c.damage, Records: map[string]int{}}
	if len(c.damage) > c.older {
		return r, nil // opening would let Badger drop or crash on what is damaged
	}
	s, err := open(opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	r.Opened = true
	if err := verifyChecksums(s.db); err != nil {
		r.Damage = append(r.Damage, Damage{Reason: "Badger's table checksums: " + err.Error()})
	}
	if err := s.verifyRecords(ctx, r); err != nil {
		return nil, err
	}
	if check != nil {
		switch err := check(ctx, s); {
		case errors.Is(err, engine.ErrDamaged):
			r.Damage = append(r.Damage, Damage{Reason: err.Error()})
		case err != nil:
			return nil, err
		default:
			r.Checked = true
		}
	}
	return r, nil
}

// verifyChecksums runs Badger's own check of every table block. It panics on a block
// that does not decompress (a nil block, as at open: integrity.go), recovered here.
func verifyChecksums(db *badger.DB) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", firstLine(fmt.Sprint(p)))
		}
	}()
	return db.VerifyChecksum()
}

// verifyRecords reads every record of the store (the newest version of each key).
func (s *Store) verifyRecords(ctx context.Context, r *Report) error {
	now := uint64(time.Now().Unix())
	return s.db.View(func(txn *badger.Txn) error {
		// The journal's first event: a decision's index entry for an event below it may
		// outlive the event by a moment (retention), one above it may not.
		first, err := firstEvent(txn)
		if err != nil {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		// Journal events missing below the checkpoint (the engine's setting) lose nothing
		// the models need: a commit that failed before nextbest continued its numbers
		// after one (engine committer.resume) left such gaps. Above it they are damage.
		var checkpoint uint64
		if item, err := txn.Get(settingKey("checkpoint")); err == nil {
			_ = item.Value(func(b []byte) error {
				checkpoint, _ = strconv.ParseUint(string(b), 10, 64)
				return nil
			})
		}
		var prevEvent uint64
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			k := item.KeyCopy(nil)
			table := tableOf(k)
			r.Records[table]++
			bad := func(format string, args ...any) {
				r.Damage = append(r.Damage, Damage{Key: keyName(k), Reason: fmt.Sprintf(format, args...)})
			}
			v, err := item.ValueCopy(nil) // the value log's checksum is checked here
			if err != nil {
				bad("%v", err)
				continue
			}
			switch table {
			case tEvent:
				seq, err := parseEventKey(k)
				if err != nil {
					bad("%v", err)
					continue
				}
				var e engine.Event
				if err := engine.DecodeEvent(v, &e); err != nil {
					bad("%v", err)
				} else if e.Seq != seq {
					bad("the event under this key says it is event %d", e.Seq)
				}
				if r.Events == 0 {
					r.FirstEvent = seq
				} else if seq != prevEvent+1 && seq-1 <= checkpoint {
					r.Notes = append(r.Notes, fmt.Sprintf("journal events %d to %d are missing, at or below the checkpoint %d: every model's snapshot covers them", prevEvent+1, seq-1, checkpoint))
				} else if seq != prevEvent+1 {
					r.Damage = append(r.Damage, Damage{Key: fmt.Sprintf("%s%d-%d", tEvent, prevEvent+1, seq-1), Reason: fmt.Sprintf("journal events %d to %d are missing (checkpoint %d)", prevEvent+1, seq-1, checkpoint)})
				}
				prevEvent, r.LastEvent = seq, seq
				r.Events++
			case tOutcome:
				var o engine.OutcomeState
				if err := engine.DecodeOutcomeState(v, &o); err != nil {
					bad("%v", err)
				}
			case tContact:
				var c engine.ContactEvent
				if err := engine.DecodeContact(v, &c); err != nil {
					bad("%v", err)
				}
			case tDecision:
				var d engine.Decision
				if err := engine.DecodeDecision(v, engine.DecisionID(k[len(tDecision):]), s.strings, &d); err != nil {
					bad("%v", err)
				} else if string(d.ID) != string(k[len(tDecision):]) {
					bad("the decision under this key says it is %q", d.ID)
				}
			case tDecEvent:
				seq, ok := decisionEventSeq(k)
				if !ok {
					bad("malformed key")
					continue
				}
				// An index entry whose event is gone is damage, unless the event lies below
				// the journal's start (retention) or both expire within the minute.
				if seq < first || (item.ExpiresAt() != 0 && item.ExpiresAt() < now+60) {
					continue
				}
				if _, err := txn.Get(eventKey(seq)); err != nil {
					bad("the decision's event %d: %v", seq, err)
				}
			case tPending:
				if _, err := parsePendingKey(k); err != nil {
					bad("%v", err)
				}
			case tLabel:
				lk, err := parseLabelKey(k)
				if err != nil {
					bad("%v", err)
				} else if _, err := decodeLabel(lk, v); err != nil {
					bad("%v", err)
				}
			case tLabelCust, tLeft:
				if len(v) != 8 {
					bad("a time of %d bytes, not 8", len(v))
				}
			case tModelMeta:
				s.verifySnapshot(txn, k, v, bad)
			case tModelBytes:
				if _, err := parseVersionKey(tModelBytes, k); err != nil {
					bad("%v", err)
				}
			case tAction, tCustomer, tKey, tExperiment, tCampaign, tEnrollment, tRollup, tCOutcome:
				if !json.Valid(v) {
					bad("the record is not valid JSON")
				}
			}
		}
		return nil
	})
}

// verifySnapshot decodes a model snapshot's metadata and its model bytes.
func (s *Store) verifySnapshot(txn *badger.Txn, k, v []byte, bad func(string, ...any)) {
	vk, err := parseVersionKey(tModelMeta, k)
	if err != nil {
		bad("%v", err)
		return
	}
	var sn engine.Snapshot
	if err := json.Unmarshal(v, &sn); err != nil {
		bad("%v", err)
		return
	}
	if sn.Action != vk.Action || sn.Version != vk.Version {
		bad("the snapshot under this key says it is %q version %d", sn.Action, sn.Version)
	}
	raw, err := modelBytes(txn, vk)
	if err != nil {
		bad("%v", err)
		return
	}
	if err := new(bandit.Model).UnmarshalBinary(raw); err != nil {
		bad("model %q version %d: %v", vk.Action, vk.Version, err)
	}
}

// firstEvent returns the journal's first event, 0 if it is empty.
func firstEvent(txn *badger.Txn) (uint64, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tEvent)})
	defer it.Close()
	it.Rewind()
	if !it.Valid() {
		return 0, nil
	}
	return parseEventKey(it.Item().Key())
}

// decisionEventSeq returns the event sequence of a decision's index key: the decision id,
// NUL, the sequence (8 bytes big-endian).
func decisionEventSeq(k []byte) (uint64, bool) {
	rest := k[len(tDecEvent):]
	if len(rest) < 1+1+8 || rest[len(rest)-9] != 0 || bytes.IndexByte(rest[:len(rest)-9], 0) >= 0 {
		return 0, false
	}
	return binary.BigEndian.Uint64(rest[len(rest)-8:]), true
}

// Summary is the report in a few lines for people, damage last.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "files: MANIFEST %s; %d tables with every block's checksum matching; %d memtable and value log files, %d entries read back\n",
		map[bool]string{true: "whole", false: "damaged"}[r.Manifest], r.Tables, r.Logs, r.Entries)
	if r.Opened {
		tables := make([]string, 0, len(r.Records))
		for t := range r.Records {
			tables = append(tables, t)
		}
		slices.Sort(tables)
		var parts []string
		for _, t := range tables {
			parts = append(parts, fmt.Sprintf("%s %d", t, r.Records[t]))
		}
		fmt.Fprintf(&b, "records read: %s\n", strings.Join(parts, ", "))
		if r.Events > 0 {
			fmt.Fprintf(&b, "journal: %d events, %d to %d\n", r.Events, r.FirstEvent, r.LastEvent)
		} else {
			fmt.Fprintln(&b, "journal: empty")
		}
	} else {
		fmt.Fprintln(&b, "records: not read (the files are damaged; opening the store would let Badger drop what follows the damage)")
	}
	if r.Checked {
		fmt.Fprintln(&b, "engine: every model's newest snapshot decodes; the journal after the checkpoint is whole and matches its head")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if r.Damaged() {
		fmt.Fprintf(&b, "damage (%d):\n", len(r.Damage))
		for i, d := range r.Damage {
			if i == 100 {
				fmt.Fprintf(&b, "  ... and %d more\n", len(r.Damage)-i)
				break
			}
			fmt.Fprintf(&b, "  %s\n", d)
		}
	}
	return b.String()
}
