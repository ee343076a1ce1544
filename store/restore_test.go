package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// backupOf fills a store and returns its backup.
func backupOf(t *testing.T) []byte {
	t.Helper()
	src := openTest(t, t.TempDir())
	defer src.Close()
	fill(t, src)
	// And an entry that has already expired: a backup keeps it as a marker, the digest
	// leaves it out on both sides.
	if err := src.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry([]byte("v1/setting/gone"), []byte("x")).WithTTL(time.Nanosecond))
	}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := src.Backup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOpenRefusesIncompleteRestore: a directory holding the restore marker does not open,
// with a message that says why; a store without one (made by Open, as serve does, or by
// an earlier version) opens.
func TestOpenRefusesIncompleteRestore(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir) // no marker: opens
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := writeSynced(filepath.Join(dir, restoreMarker), "a restore into it began and did not finish\n"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(DefaultOptions(dir))
	if !errors.Is(err, ErrIncompleteRestore) || !strings.Contains(err.Error(), "this store was not completely restored: a restore into it began") {
		t.Fatalf("open of a marked directory: %v, want ErrIncompleteRestore with the marker's note", err)
	}
}

// TestRestoreDirInterrupted: a restore stopped after its load (here by a cancelled context;
// SIGKILL is TestInterruptedBackupAndRestore in cmd/nextbest) leaves the
// target marked, so it does not open, and nothing beside it; the restore run again
// completes over the marker and the leftovers of an earlier killed run.
func TestRestoreDirInterrupted(t *testing.T) {
	backup := backupOf(t)
	parent := t.TempDir()
	dir := filepath.Join(parent, "restored")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := RestoreDir(ctx, bytes.NewReader(backup), DefaultOptions(dir)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled restore: %v", err)
	}
	if _, err := Open(DefaultOptions(dir)); !errors.Is(err, ErrIncompleteRestore) {
		t.Fatalf("open after a cancelled restore: %v, want ErrIncompleteRestore", err)
	}
	// What a SIGKILL'd restore leaves beside the target: its temporary directory.
	stale := filepath.Join(parent, ".restored.restore-12345")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeSynced(filepath.Join(stale, "000001.vlog"), "half a value log"); err != nil {
		t.Fatal(err)
	}
	if err := RestoreDir(context.Background(), bytes.NewReader(backup), DefaultOptions(dir)); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "restored" {
		t.Fatalf("beside the restored store: %v, want nothing else", entries)
	}
	s := openTest(t, dir)
	defer s.Close()
	if d, err := s.Decision(context.Background(), "0000000000000001aa"); err != nil || len(d.Outcomes) != 1 {
		t.Fatalf("restored decision %+v, %v", d, err)
	}
}

// TestRestoreVerifies: the restored store is compared with the backup key by key; a key
// missing or a value changed after the load fails the comparison.
func TestRestoreVerifies(t *testing.T) {
	backup := backupOf(t)
	payload, err := VerifyBackup(bytes.NewReader(backup))
	if err != nil {
		t.Fatal(err)
	}
	for name, damage := range map[string]func(txn *badger.Txn) error{
		"nothing":       nil,
		"a key missing": func(txn *badger.Txn) error { return txn.Delete([]byte("v1/action/offer")) },
		"a value changed": func(txn *badger.Txn) error {
			return txn.Set([]byte("v1/setting/checkpoint"), []byte("2"))
		},
		"a key too many": func(txn *badger.Txn) error { return txn.Set([]byte("v1/setting/extra"), nil) },
	} {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions(t.TempDir())
			if err := loadInto(opts, payload); err != nil {
				t.Fatal(err)
			}
			if damage != nil {
				s := openTest(t, opts.Dir)
				if err := s.db.Update(damage); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			err := verifyRestored(opts, payload)
			if damage == nil && err != nil {
				t.Fatalf("an intact restore: %v", err)
			}
			if damage != nil && (err == nil || !strings.Contains(err.Error(), "the restored store holds")) {
				t.Fatalf("a damaged restore passed verification: %v", err)
			}
		})
	}
}
