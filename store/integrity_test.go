package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/table"

	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/internal/corrupt"
	"github.com/nextbest/nextbest/record"
)

// logJournal commits n decisions, each with one feedback event, from event seq+1 on. A
// decision record carries a 1.5 KB context, over the store's 1 KB value threshold, so
// that it goes to the value log, as the records of a real catalog do.
func logJournal(t *testing.T, s *Store, seq uint64, n int) []record.DecisionID {
	t.Helper()
	ctx := context.Background()
	pad, _ := json.Marshal(map[string]string{"note": strings.Repeat("context ", 190)})
	var ids []record.DecisionID
	for i := range n {
		seq++
		d := &record.Decision{ID: record.DecisionID(fmt.Sprintf("d%08d", seq)), CustomerID: record.CustomerID(fmt.Sprintf("customer-%d", seq)), Channel: "web",
			Time: time.Unix(int64(i), 0).UTC(), Chosen: []record.ActionID{"offer"}, Context: pad, Candidates: []record.Candidate{{ID: "offer", Score: 0.5}},
			Features: features.Vector{Index: []int32{0, 3}, Value: []float64{1, float64(i)}}}
		ev := &record.Event{Seq: seq, DecisionID: d.ID, ActionID: "offer", Outcome: record.Accepted, Learned: true, Features: d.Features}
		b := &record.Batch{Decisions: []*record.Decision{d}, Events: []record.EventWrite{{Event: ev, Outcome: record.OutcomeState{Seq: seq, Outcome: record.Accepted}}}}
		if err := s.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	return ids
}

// copyFiles copies the files of a store, open or not, as a crash would leave them: what
// the page cache holds (Badger writes its logs through memory maps). The holes of
// preallocated logs stay holes.
func copyFiles(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := in.Stat()
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		end := dataEnd(t, in, fi.Size())
		if _, err := io.Copy(out, io.NewSectionReader(in, 0, end)); err != nil {
			t.Fatal(err)
		}
		if err := out.Truncate(fi.Size()); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

// dataEnd returns the offset after the last non-zero byte of the first 64 MB of f (the
// logs of these tests are smaller; the rest of a preallocated log is zeros).
func dataEnd(t *testing.T, f *os.File, size int64) int64 {
	t.Helper()
	buf := make([]byte, min(size, 64<<20))
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	for n > 0 && buf[n-1] == 0 {
		n--
	}
	return int64(n)
}

// fileOf returns the one file of dir whose name ends with suffix, and the end of its data.
func fileOf(t *testing.T, dir, suffix string) (string, int64) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
	slices.Sort(names)
	if len(names) == 0 {
		t.Fatalf("no %s file in %s", suffix, dir)
	}
	path := names[len(names)-1]
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	return path, dataEnd(t, f, fi.Size())
}

// snapshotFiles returns every file's bytes in dir, to check that a refused open changed
// nothing (the tests keep their value log files small: Options.valueLogFileSize).
func snapshotFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = raw
	}
	return out
}

// wantDamage opens dir and wants a refusal naming file, with the store left as it was.
func wantDamage(t *testing.T, dir, file string) *DamageError {
	t.Helper()
	before := snapshotFiles(t, dir)
	s, err := Open(DefaultOptions(dir))
	if err == nil {
		s.Close()
		t.Fatalf("the store opened; want it refused as damaged in %s", file)
	}
	var de *DamageError
	if !errors.As(err, &de) || !errors.Is(err, record.ErrDamaged) || !strings.Contains(err.Error(), file) {
		t.Fatalf("open: %v; want a DamageError naming %s", err, file)
	}
	after := snapshotFiles(t, dir)
	for name, raw := range before {
		if !bytes.Equal(after[name], raw) {
			t.Errorf("the refused open changed %s", name)
		}
	}
	return de
}

// TestOpenRefusesDamagedLogs: a memtable log or value log damaged in the middle, or in
// its last entry when the file was closed whole, makes Open refuse the store, naming the
// file, before Badger opens it and drops every write after the damage (it did: the
// corruption test in cmd/nextbest found acknowledged events silently missing). A torn
// tail, the last write of a process that died, is not damage.
func TestOpenRefusesDamagedLogs(t *testing.T) {
	dir := t.TempDir()
	o := DefaultOptions(dir)
	o.valueLogFileSize = 4 << 20 // one value log file, preallocated to 8 MB rather than 2 GB
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	logJournal(t, s, 0, 200)
	crashed := copyFiles(t, dir) // what a SIGKILL now would leave: a memtable log, no tables
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	stopped := copyFiles(t, dir) // closed: the value log truncated to its end

	t.Run("memtable log, middle", func(t *testing.T) {
		d := copyFiles(t, crashed)
		path, end := fileOf(t, d, ".mem")
		corrupt.FlipByte(t, path, end/2, 0x20)
		wantDamage(t, d, filepath.Base(path))
	})
	t.Run("value log, middle", func(t *testing.T) {
		d := copyFiles(t, crashed)
		path, end := fileOf(t, d, ".vlog")
		corrupt.FlipByte(t, path, end/2, 0x20)
		wantDamage(t, d, filepath.Base(path))
	})
	t.Run("value log closed whole, last entry", func(t *testing.T) {
		d := copyFiles(t, stopped)
		path, end := fileOf(t, d, ".vlog")
		corrupt.FlipByte(t, path, end-100, 0x20) // inside the last decision record's value
		wantDamage(t, d, filepath.Base(path))
	})
	t.Run("torn tail", func(t *testing.T) {
		d := copyFiles(t, crashed)
		for _, suffix := range []string{".mem", ".vlog"} {
			path, end := fileOf(t, d, suffix)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			// The last 8 bytes never reached the file: the last entry's checksum and the
			// end of its value are zeros, as a write cut short leaves them.
			if _, err := f.WriteAt(make([]byte, 8), end-8); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		s, err := Open(DefaultOptions(d))
		if err != nil {
			t.Fatalf("a torn tail is refused: %v", err)
		}
		defer s.Close()
		last, err := s.LastSeq(context.Background())
		if err != nil || last < 199 {
			t.Errorf("after the torn last write: last event %d (%v), want 199 or 200", last, err)
		}
	})
}

// TestOpenRefusesDamagedTables: a byte changed anywhere in a table makes Open refuse the
// store, naming the table, unless the table still reads as it was written: a compressed
// block can copy a run of bytes from either of two places that hold the same bytes
// (Snappy), and a byte changed in such a copy's offset changes nothing. Then the store
// opens whole. Before, Badger read a damaged data block as the end of the table (the
// journal's replay and the decision log stopped there, silently), and its own check at
// open (options.OnTableRead) crashed the process on a block that did not decompress.
func TestOpenRefusesDamagedTables(t *testing.T) {
	dir := t.TempDir()
	o := DefaultOptions(dir)
	o.MemTableSize = 1 << 20 // tables after a few hundred records
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	logJournal(t, s, 0, 2000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A table the MANIFEST lists: a table file it does not list (a compaction cut short
	// by Close) is deleted by Badger at open, and what is in it does not matter.
	f, err := os.Open(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		t.Fatal(err)
	}
	mf, _, err := badger.ReplayManifestFile(f, 0, badger.DefaultOptions(dir).WithLogger(nil))
	f.Close()
	if err != nil || len(mf.Tables) == 0 {
		t.Fatalf("MANIFEST: %d tables, %v", len(mf.Tables), err)
	}
	var id uint64
	for t := range mf.Tables {
		id = max(id, t)
	}
	path := table.NewFilename(id, dir)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	undamaged := openTest(t, copyFiles(t, dir))
	want := dump(t, undamaged)
	undamaged.Close()
	// 40 places spread over the table (blocks, index, footer), each changed alone.
	refused := 0
	for i := range 40 {
		off := fi.Size() * int64(i) / 40
		if i == 39 {
			off = fi.Size() - 1
		}
		t.Run(fmt.Sprintf("offset %d of %d", off, fi.Size()), func(t *testing.T) {
			d := copyFiles(t, dir)
			corrupt.FlipByte(t, filepath.Join(d, filepath.Base(path)), off, 0x5a)
			if s, err := Open(DefaultOptions(d)); err == nil {
				got := dump(t, s)
				s.Close()
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("the store opened with %d records differing from the undamaged store's", diffCount(got, want))
				}
				return
			}
			wantDamage(t, d, filepath.Base(path))
			refused++
		})
	}
	if refused < 36 {
		t.Errorf("%d of 40 changed bytes refused; a byte changed in a copy offset that reads the same is rare", refused)
	}
}

// TestOpenRefusesDamagedManifest: a MANIFEST record damaged in its length reads to Badger
// as a torn tail, which it drops with the tables it created (they are deleted at open);
// damaged in its body, Badger refuses it; a MANIFEST gone makes Badger start an empty store
// and delete every table. Each time Open refuses the store, naming the MANIFEST, and
// deletes nothing. So with a damaged key registry.
func TestOpenRefusesDamagedManifest(t *testing.T) {
	dir := t.TempDir()
	o := DefaultOptions(dir)
	o.MemTableSize = 1 << 20
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	logJournal(t, s, 0, 1000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		t.Fatal(err)
	}
	// The records after the 8-byte magic: length (4 bytes BE), checksum (4), body.
	var last int
	for off := 8; off+8 <= len(raw); {
		last = off
		off += 8 + int(binary.BigEndian.Uint32(raw[off:]))
	}
	t.Run("length of the last record", func(t *testing.T) {
		d := copyFiles(t, dir)
		corrupt.FlipByte(t, filepath.Join(d, "MANIFEST"), int64(last+3), 0x10) // 16 bytes longer than the file holds
		wantDamage(t, d, "MANIFEST")
	})
	t.Run("body of the last record", func(t *testing.T) {
		d := copyFiles(t, dir)
		corrupt.FlipByte(t, filepath.Join(d, "MANIFEST"), int64(len(raw)-1), 0x01)
		wantDamage(t, d, "MANIFEST")
	})
	t.Run("MANIFEST missing", func(t *testing.T) {
		d := copyFiles(t, dir)
		if err := os.Remove(filepath.Join(d, "MANIFEST")); err != nil {
			t.Fatal(err)
		}
		wantDamage(t, d, "MANIFEST")
	})
	t.Run("key registry", func(t *testing.T) {
		d := copyFiles(t, dir)
		corrupt.FlipByte(t, filepath.Join(d, "KEYREGISTRY"), 20, 0x01) // inside its check text
		wantDamage(t, d, "KEYREGISTRY")
	})
}

// TestValueLogReadsAreChecked: a byte changed in a decision record of an older value log
// file (which Open does not read: it would cost a read of the whole log at every start)
// is an error naming the decision when the record is read, never the record read with a
// wrong value, as it was served before. Verify finds it.
func TestValueLogReadsAreChecked(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ids := logJournal(t, s, 0, 50)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir) // a new value log file: the first is an older one now
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	victim := ids[20]
	path := filepath.Join(dir, "000001.vlog")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The record holds its customer's id as text: change one letter of it.
	at := bytes.Index(raw, []byte("customer-21"))
	if at < 0 {
		t.Fatal("the decision record is not in 000001.vlog")
	}
	corrupt.FlipByte(t, path, int64(at+1), 0x20) // "customer" -> "cUstomer"

	s = openTest(t, dir)
	ctx := context.Background()
	d, err := s.Decision(ctx, victim)
	if err == nil {
		s.Close()
		t.Fatalf("the damaged record was served: customer %q", d.CustomerID)
	}
	if !strings.Contains(err.Error(), string(victim)) {
		t.Errorf("the error does not name the decision %s: %v", victim, err)
	}
	if d, err := s.Decision(ctx, ids[19]); err != nil || d.CustomerID != "customer-20" {
		t.Errorf("an undamaged record: %+v, %v", d, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(ctx, DefaultOptions(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The value log file's entry, by its offset, and the decision record, by its key.
	if len(r.Damage) != 2 || r.Damage[0].File != "000001.vlog" || !strings.Contains(r.Damage[1].Key, string(victim)) {
		t.Errorf("Verify found %v; want the damaged entry of 000001.vlog and decision %s", r.Damage, victim)
	}
}

// TestVerify: Verify reads a whole store and finds nothing in an undamaged one; it finds
// a journal gap above the checkpoint (damage) and notes one below it; it refuses a store
// that is open elsewhere.
func TestVerify(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	logJournal(t, s, 0, 30)
	ctx := context.Background()
	if err := s.PutSetting(ctx, "checkpoint", []byte("10")); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, DefaultOptions(dir), nil); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("Verify of an open store: %v; want it refused", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(ctx, DefaultOptions(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Damaged() || !r.Opened || r.Events != 30 || r.FirstEvent != 1 || r.LastEvent != 30 || r.Records[tDecision] != 30 || r.Records[tDecEvent] != 30 {
		t.Fatalf("undamaged store: %+v\n%s", r, r.Summary())
	}

	s = openTest(t, dir)
	// Events 5 and 6, below the checkpoint, as a commit that failed leaves them: never
	// written, so no decision names them. Event 20, above it, lost from the journal alone.
	for _, seq := range []uint64{5, 6, 20} {
		err := s.db.Update(func(txn *badger.Txn) error {
			if seq < 10 {
				if err := txn.Delete(decisionEventKey(record.DecisionID(fmt.Sprintf("d%08d", seq)), seq)); err != nil {
					return err
				}
			}
			return txn.Delete(eventKey(seq))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err = Verify(ctx, DefaultOptions(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, d := range r.Damage {
		found = append(found, d.String())
	}
	// Event 20 is missing from the journal, and its decision's index names it.
	if len(found) != 2 || !strings.Contains(found[0], "event 20") || !strings.Contains(found[1], "events 20 to 20 are missing") {
		t.Errorf("damage %q; want event 20 missing", found)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "events 5 to 6 are missing") {
		t.Errorf("notes %q; want events 5 to 6 below the checkpoint", r.Notes)
	}
}

// diffCount returns how many keys differ between two dumps.
func diffCount(a, b map[string]string) int {
	n := 0
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			n++
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			n++
		}
	}
	return n
}
