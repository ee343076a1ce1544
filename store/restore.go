package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// restoreMarker is the file that marks a directory a restore has begun and not finished.
// RestoreDir writes it into the target before anything else, and the target holds only
// it until the restored store takes its place in one rename; Open refuses a directory that
// holds it. Stores that no restore made (created by serve, or by earlier versions) have
// none, and open as before.
const restoreMarker = "RESTORE-INCOMPLETE"

// ErrIncompleteRestore is returned by Open for a directory whose restore did not finish.
var ErrIncompleteRestore = errors.New("this store was not completely restored")

// ErrNotEmpty is returned by RestoreDir for a target that holds something other than the
// leftovers of an interrupted restore.
var ErrNotEmpty = errors.New("the directory is not empty")

// RestoreDir restores a backup into a new store in opts.Dir, which must be absent, empty,
// or what an interrupted restore left there. Whatever moment it is stopped at (an error,
// a signal, SIGKILL, a power loss), opts.Dir either opens as the whole backup or does not
// open at all (ErrIncompleteRestore):
//
//  1. the whole backup is verified (envelope and checksum) before anything is written; a
//     bad file changes nothing;
//  2. opts.Dir is created holding only the restore marker, fsync'd with its parent;
//  3. the backup is loaded into a temporary directory beside it (".NAME.restore-*", marked
//     too), closed, opened again and compared with the backup: every live key, value and
//     expiry (a count and a sum of hashes);
//  4. every file and the directory are fsync'd, the temporary's marker is removed, and
//     the temporary directory and opts.Dir are swapped in one rename (renameat2 with
//     RENAME_EXCHANGE on Linux; see swapDirs for other systems); the parent is fsync'd and
//     the swapped-out marker directory removed.
//
// Temporary directories left by an earlier interrupted restore into the same target are
// removed first.
func RestoreDir(ctx context.Context, r io.Reader, opts Options) error {
	payload, err := VerifyBackup(r)
	if err != nil {
		return err
	}
	dir := filepath.Clean(opts.Dir)
	if err := checkRestoreTarget(dir); err != nil {
		return err
	}
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	note := fmt.Sprintf("a restore into %s began at %s (process %d) and did not finish, so the directory holds no usable store; run `nextbest restore --in FILE --data %s` again\n",
		dir, time.Now().UTC().Format(time.RFC3339), os.Getpid(), dir)
	if err := writeSynced(filepath.Join(dir, restoreMarker), note); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncDirs(dir, parent); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	beside, err := os.ReadDir(parent)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, e := range beside {
		if strings.HasPrefix(e.Name(), "."+base+".restore-") {
			if err := os.RemoveAll(filepath.Join(parent, e.Name())); err != nil {
				return fmt.Errorf("restore: remove what an interrupted restore left: %w", err)
			}
		}
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".restore-")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(tmp) // after the swap, the directory that held only the marker
	if err := writeSynced(filepath.Join(tmp, restoreMarker), note); err != nil {
		return fmt.Errorf("restore: %w", err)
	}

	to := opts
	to.Dir, to.restoring, to.SyncWrites = tmp, true, false // fsync'd as a whole below
	if err := loadInto(to, payload); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := verifyRestored(to, payload); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncTree(tmp); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := os.Remove(filepath.Join(tmp, restoreMarker)); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncDirs(tmp); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := swapDirs(tmp, dir); err != nil {
		return fmt.Errorf("restore: move the restored store into place: %w", err)
	}
	if err := syncDirs(parent); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// checkRestoreTarget refuses a target that holds anything but a restore marker.
func checkRestoreTarget(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, e := range entries {
		if e.Name() != restoreMarker {
			return fmt.Errorf("restore: %s: %w", dir, ErrNotEmpty)
		}
	}
	return nil
}

// loadInto loads a verified backup payload into a new store and closes it.
func loadInto(opts Options, payload []byte) error {
	s, err := Open(opts)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// Badger loads through its memory-mapped logs and tables: check the room first, as
	// every other write does (diskGuard).
	if err := s.disk.admit(len(payload)); err != nil {
		s.Close()
		return fmt.Errorf("restore: %w", err)
	}
	if err := s.db.Load(bytes.NewReader(payload), 256); err != nil {
		s.Close()
		return fmt.Errorf("restore: load: %w", err)
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// verifyRestored opens the restored store and compares what it holds with the backup.
func verifyRestored(opts Options, payload []byte) error {
	// Entries that expire within the hour are left out on both sides: Badger may drop
	// them while this runs.
	horizon := uint64(time.Now().Add(time.Hour).Unix())
	want, err := backupDigest(payload, horizon)
	if err != nil {
		return fmt.Errorf("restore: verify: %w", err)
	}
	s, err := Open(opts)
	if err != nil {
		return fmt.Errorf("restore: verify: %w", err)
	}
	got, err := s.digest(horizon)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore: verify: %w", err)
	}
	if got != want {
		return fmt.Errorf("restore: verify: the restored store holds %d keys (digest %016x), the backup %d (%016x)", got.keys, got.sum, want.keys, want.sum)
	}
	return nil
}

// contentDigest sums up a store's live keys: how many, and the sum of a hash of each key
// with its value, expiry and user byte. The sum does not depend on the order of the keys.
type contentDigest struct {
	keys int
	sum  uint64
}

func (d *contentDigest) add(key, value []byte, expiresAt uint64, userMeta byte) {
	var h xxhash.Digest
	h.Reset()
	var n [17]byte
	binary.BigEndian.PutUint64(n[:8], uint64(len(key)))
	binary.BigEndian.PutUint64(n[8:16], expiresAt)
	n[16] = userMeta
	_, _ = h.Write(n[:])
	_, _ = h.Write(key)
	_, _ = h.Write(value)
	d.keys++
	d.sum += h.Sum64()
}

// badgerBitDelete is the deletion bit of a KV's meta byte in Badger's backup stream
// (bitDelete in Badger's value.go).
const badgerBitDelete = 1

// backupDigest digests the newest version of every key in a backup payload (Badger's
// stream: a little-endian length and a KVList, repeated) that is neither deleted nor
// expiring before horizon (Unix seconds). The stream lists a key's versions together,
// newest first.
func backupDigest(payload []byte, horizon uint64) (contentDigest, error) {
	var d contentDigest
	var prev []byte
	for rest := payload; len(rest) > 0; {
		if len(rest) < 8 {
			return d, errors.New("backup stream: a truncated length")
		}
		n := binary.LittleEndian.Uint64(rest)
		rest = rest[8:]
		if n > uint64(len(rest)) {
			return d, errors.New("backup stream: a truncated list")
		}
		var list pb.KVList
		if err := proto.Unmarshal(rest[:n], &list); err != nil {
			return d, fmt.Errorf("backup stream: %w", err)
		}
		rest = rest[n:]
		for _, kv := range list.Kv {
			if prev != nil && bytes.Equal(kv.Key, prev) {
				continue // an older version
			}
			prev = kv.Key
			if kv.ExpiresAt != 0 && kv.ExpiresAt <= horizon || len(kv.Meta) > 0 && kv.Meta[0]&badgerBitDelete != 0 {
				continue
			}
			var um byte
			if len(kv.UserMeta) > 0 {
				um = kv.UserMeta[0]
			}
			d.add(kv.Key, kv.Value, kv.ExpiresAt, um)
		}
	}
	return d, nil
}

// digest digests the newest version of every key in the store that is neither deleted
// nor expiring before horizon (Unix seconds), as backupDigest does a backup.
func (s *Store) digest(horizon uint64) (contentDigest, error) {
	var d contentDigest
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
		defer it.Close()
		var prev []byte
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if prev != nil && bytes.Equal(item.Key(), prev) {
				continue // an older version
			}
			prev = item.KeyCopy(prev[:0])
			// Expired before horizon, or else (IsDeletedOrExpired) deleted.
			if exp := item.ExpiresAt(); exp != 0 && exp <= horizon || item.IsDeletedOrExpired() {
				continue
			}
			if err := item.Value(func(v []byte) error {
				d.add(item.Key(), v, item.ExpiresAt(), item.UserMeta())
				return nil
			}); err != nil {
				return fmt.Errorf("read %x: %w", item.Key(), err)
			}
		}
		return nil
	})
	return d, err
}

// writeSynced writes a small file and fsyncs it.
func writeSynced(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDirs fsyncs directories, so that the entries created or removed in them are durable.
func syncDirs(dirs ...string) error {
	for _, d := range dirs {
		f, err := os.Open(d)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("fsync %s: %w", d, err)
		}
	}
	return nil
}

// syncTree fsyncs every file in dir, then dir itself. A store directory holds no
// subdirectories.
func syncTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("fsync %s: %w", e.Name(), err)
		}
	}
	return syncDirs(dir)
}

// swapDirsPortable puts the directory at from in place of to, which holds only the
// restore marker: it removes the marker, then renames from over the now empty to (POSIX
// rename replaces an empty directory). A process that dies between the two leaves to
// empty, so that a server started on it would begin a new, empty store; swapDirs avoids
// that window on Linux.
func swapDirsPortable(from, to string) error {
	if err := os.Remove(filepath.Join(to, restoreMarker)); err != nil {
		return err
	}
	if err := os.Rename(from, to); err == nil {
		return nil
	}
	if err := os.Remove(to); err != nil { // systems whose rename does not replace a directory
		return err
	}
	return os.Rename(from, to)
}
