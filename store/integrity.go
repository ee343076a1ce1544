package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"

	"github.com/nextbest/nextbest/record"
)

// The store's files are checked before Badger opens them, because Badger repairs some
// damage silently and reports other damage by crashing (docs/durability.md, "Damage"):
//
//   - a memtable's write-ahead log (.mem) and the newest value log file (.vlog) are read
//     at open up to their first entry whose checksum fails, and truncated there: every
//     write after a damaged entry is dropped, with no word, as if it had been a torn tail;
//   - a MANIFEST record whose length is damaged reads as a torn tail: Badger drops it and
//     then deletes the table files that record created;
//   - a table (.sst) whose block does not decompress makes Badger's own check at open
//     (options.OnTableRead) dereference a nil block in one of its goroutines, and a
//     table whose footer is damaged makes it call log.Fatal;
//   - a damaged data block of a table is otherwise never checked: an iterator that meets
//     it stops as if the table ended (GET /v1/decisions, and the journal's replay).
//
// So Open first reads every file the way Badger will, and refuses a store in which Badger
// would lose or misread anything: the MANIFEST to its last byte, every table's index and
// every block's checksum (here, in a goroutine that can recover), every memtable log and
// the newest value log entry by entry. Damage at the very end of a log (a torn tail: the
// last write of a process that died) loses nothing acknowledged and is left to Badger.
// The DISCARD file carries no checksum; it only guides value-log GC, which rewrites only
// values the LSM tree still points to, so damage there can cost GC work, not data.

// ErrDamaged marks a store found damaged (see DamageError). It wraps record.ErrDamaged.
var ErrDamaged = fmt.Errorf("store: %w", record.ErrDamaged)

// Damage is one thing found damaged in a store: a file, or a record by its key.
type Damage struct {
	File   string // the file, relative to the store's directory, when the damage is in one
	Key    string // the record's key, printable, when the damage is in a record
	Reason string
}

func (d Damage) String() string {
	var b strings.Builder
	if d.File != "" {
		b.WriteString(d.File + ": ")
	}
	if d.Key != "" {
		b.WriteString("key " + d.Key + ": ")
	}
	b.WriteString(d.Reason)
	return b.String()
}

// DamageError is the error of a store found damaged: what was found, in the order found.
type DamageError struct {
	Dir    string
	Damage []Damage
}

// Error names the store and the first few things damaged.
func (e *DamageError) Error() string {
	const show = 3
	var parts []string
	for i, d := range e.Damage {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.Damage)-show))
			break
		}
		parts = append(parts, d.String())
	}
	return fmt.Sprintf("store %s is damaged: %s", e.Dir, strings.Join(parts, "; "))
}

// Unwrap returns ErrDamaged.
func (e *DamageError) Unwrap() error { return ErrDamaged }

// fileCheck is what checkFiles found.
type fileCheck struct {
	damage   []Damage
	older    int // of which damage in older value log files: Badger leaves those be at open
	tables   int // tables verified
	logs     int // memtable and value log files read
	entries  int // log entries read
	manifest bool
}

func (c *fileCheck) add(file, format string, args ...any) {
	c.damage = append(c.damage, Damage{File: file, Reason: fmt.Sprintf(format, args...)})
}

// checkFiles checks the files of the stopped store in dir as described above. With all,
// it also reads every older value log file to its end (Verify); Open leaves those to the
// checksum Badger verifies on every value it reads (Options: VerifyValueChecksum).
func checkFiles(dir string, all bool) (*fileCheck, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("check store files: %w", err)
	}
	c := &fileCheck{}
	var mems []string
	type vlog struct {
		fid  uint64
		name string
	}
	var vlogs []vlog
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".mem"):
			mems = append(mems, name)
		case strings.HasSuffix(name, ".vlog"):
			if fid, err := strconv.ParseUint(strings.TrimSuffix(name, ".vlog"), 10, 32); err == nil {
				vlogs = append(vlogs, vlog{fid, name})
			}
		}
	}
	c.checkManifest(dir)
	c.checkKeyRegistry(dir)
	for _, name := range mems {
		if err := c.checkLog(dir, name, false); err != nil {
			return nil, err
		}
	}
	// Badger replays the newest value log file (the highest id) at open.
	slices.SortFunc(vlogs, func(a, b vlog) int { return cmp.Compare(a.fid, b.fid) })
	for i, v := range vlogs {
		last := i == len(vlogs)-1
		if !last && !all {
			continue
		}
		if err := c.checkLog(dir, v.name, !last); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// checkManifest replays the MANIFEST as Badger does, and then checks that it was read to
// its end (a record Badger would drop is damage: see above) and that every table it lists
// exists and is whole.
func (c *fileCheck) checkManifest(dir string) {
	f, err := os.Open(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		c.add("MANIFEST", "%v", err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		c.add("MANIFEST", "%v", err)
		return
	}
	mf, end, err := badger.ReplayManifestFile(f, 0, badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		c.add("MANIFEST", "%v", err)
		return
	}
	if end < fi.Size() {
		c.add("MANIFEST", "the %d bytes from offset %d to its end are not a whole record (Badger would drop them, and delete the tables they name)", fi.Size()-end, end)
		return
	}
	c.manifest = true
	ids := make([]uint64, 0, len(mf.Tables))
	for id := range mf.Tables {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	// Tables are verified in parallel: each is read whole and every block's checksum
	// computed (a table is BaseTableSize, 2 MB, or a memtable's size).
	type result struct {
		name string
		err  error
	}
	results := make([]result, len(ids))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 4) {
		wg.Go(func() {
			for i := range work {
				path := table.NewFilename(ids[i], dir)
				results[i] = result{filepath.Base(path), verifyTable(path, ids[i], mf.Tables[ids[i]])}
			}
		})
	}
	for i := range ids {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			c.add(r.name, "%v", r.err)
		} else {
			c.tables++
		}
	}
}

// verifyTable reads a table file whole and checks its footer, its index's checksum and
// every block's checksum. Badger's table package panics on some damage (a nil block after
// a failed decompression, a slice out of range): a panic is recovered as damage.
func verifyTable(path string, id uint64, tm badger.TableManifest) (err error) {
	if tm.KeyID != 0 {
		return fmt.Errorf("the MANIFEST says it is encrypted with data key %d; nextbest never encrypts its store", tm.KeyID)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("the MANIFEST lists this table but the file is missing")
		}
		return err
	}
	// The footer, read from the end: the index, its length (4 bytes), the index's
	// checksum, its length (4 bytes). Badger reads it with no bounds check (log.Fatal).
	size := int64(len(data))
	if size < 8 {
		return fmt.Errorf("%d bytes, too short for a table", size)
	}
	chkLen := int64(binary.BigEndian.Uint32(data[size-4:]))
	if chkLen > size-8 {
		return fmt.Errorf("footer: index checksum length %d in a %d-byte file", chkLen, size)
	}
	indexLen := int64(binary.BigEndian.Uint32(data[size-8-chkLen:]))
	if indexLen > size-8-chkLen {
		return fmt.Errorf("footer: index length %d in a %d-byte file", indexLen, size)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("a block does not read back: it does not decompress or its layout is damaged (Badger's table reader failed with %q)", firstLine(fmt.Sprint(r)))
		}
	}()
	t, err := table.OpenInMemoryTable(data, id, &table.Options{Compression: tm.Compression, BlockSize: 4 << 10, ChkMode: options.NoVerification})
	if err != nil {
		return err
	}
	return t.VerifyChecksum()
}

// checkKeyRegistry checks the KEYREGISTRY's check text. Without encryption the file is a
// 16-byte IV and the plain text "Hello Badger"; Badger refuses any other text with "Encryption
// key mismatch", which names neither the file nor the damage.
func (c *fileCheck) checkKeyRegistry(dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, "KEYREGISTRY"))
	if errors.Is(err, os.ErrNotExist) {
		return // Badger writes a new one
	}
	if err != nil {
		c.add("KEYREGISTRY", "%v", err)
		return
	}
	const ivLen, text = 16, "Hello Badger"
	if len(raw) < ivLen+len(text) || !bytes.Equal(raw[ivLen:ivLen+len(text)], []byte(text)) {
		c.add("KEYREGISTRY", "its check text is damaged (Badger would refuse the store as encrypted with another key; nextbest never encrypts its store)")
	}
}

// checkLog reads a memtable log or a value log file entry by entry (scanLog). Damage in an
// older value log file (strict) is any entry that does not read back; in a log Badger
// replays at open, an entry that does not read back with a whole entry after it.
func (c *fileCheck) checkLog(dir, name string, strict bool) error {
	s, err := scanLog(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("check %s: %w", name, err)
	}
	c.logs++
	c.entries += s.entries
	switch {
	case s.header != "":
		c.add(name, "%s", s.header)
		return nil
	case s.resume >= 0:
		c.add(name, "the entry at offset %d does not read back (%s) but a whole entry follows at offset %d: Badger would drop every entry from offset %d on", s.stop, s.reason, s.resume, s.stop)
	case s.whole != "":
		c.add(name, "the entry at offset %d does not read back (%s) though %s: Badger would drop it and every entry after it", s.stop, s.reason, s.whole)
	case strict && s.stop < s.size:
		c.add(name, "the entry at offset %d does not read back (%s); the value log file ends at %d", s.stop, s.reason, s.size)
	default:
		return nil
	}
	if strict {
		c.older++ // Badger reads an older file only where the LSM tree points: the key's read fails
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// checkBeforeOpen refuses a store whose files are damaged (checkFiles), before Badger
// opens it and repairs or crashes on the damage. A directory without a MANIFEST is a new
// store, unless it holds tables or logs: Badger would start an empty store over them and
// delete the tables. It holds the directory's lock (Badger's own, see lockDir) while it
// reads.
func checkBeforeOpen(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); errors.Is(err, os.ErrNotExist) {
		var files []string
		for _, pattern := range []string{"*.sst", "*.vlog", "*.mem"} {
			m, _ := filepath.Glob(filepath.Join(dir, pattern))
			files = append(files, m...)
		}
		if len(files) > 0 {
			return &DamageError{Dir: dir, Damage: []Damage{{File: "MANIFEST", Reason: fmt.Sprintf("missing, while the directory holds %d tables and logs (%s, ...): Badger would start an empty store and delete the tables", len(files), filepath.Base(files[0]))}}}
		}
		return nil
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := checkFiles(dir, false)
	if err != nil {
		return err
	}
	if len(c.damage) > 0 {
		return &DamageError{Dir: dir, Damage: c.damage}
	}
	return nil
}
