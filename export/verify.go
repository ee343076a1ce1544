package export

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
)

// ErrCorrupt reports a file that is not a readable Parquet export of decisions: damaged,
// truncated, or another file altogether.
var ErrCorrupt = errors.New("not a readable decision export")

// Summary is what Verify read in a file.
type Summary struct {
	Rows      int64
	RowGroups int
	// First and Last are the times of the first and last decision; zero with no rows.
	First, Last time.Time
	// Answered counts the rows with a reward, Offered those with an action.
	Answered, Offered int64
	// Checked says whether the file carried a checksum of its data (nextbest's do), which
	// matched.
	Checked bool
}

// Verify reads a Parquet export back, every row of every column: its footer, its
// schema (every column of Row, with Row's types), and each page against the checksum the
// writer stored with it. A file it cannot read is an error wrapping ErrCorrupt; a panic
// of the Parquet library on malformed input is such an error too.
func Verify(r io.ReaderAt, size int64) (s Summary, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: the Parquet reader failed: %v", ErrCorrupt, v)
		}
	}()
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return s, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := checkSchema(f.Schema()); err != nil {
		return s, err
	}
	if s.Checked, err = checkData(r, f); err != nil {
		return s, err
	}
	s.RowGroups = len(f.RowGroups())
	rd := parquet.NewGenericReader[Row](f)
	defer rd.Close()
	rows := make([]Row, 256)
	for {
		n, err := rd.Read(rows)
		for _, row := range rows[:n] {
			if s.Rows == 0 {
				s.First = row.Time
			}
			if row.Time.Before(s.Last) {
				return s, fmt.Errorf("%w: row %d (decision %q) is older than the row before it", ErrCorrupt, s.Rows, row.DecisionID)
			}
			s.Last = row.Time
			s.Rows++
			if row.Action != "" {
				s.Offered++
			}
			if row.Reward != nil {
				s.Answered++
			}
		}
		clear(rows[:n])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s, fmt.Errorf("%w: row %d: %v", ErrCorrupt, s.Rows, err)
		}
	}
	if s.Rows != f.NumRows() {
		return s, fmt.Errorf("%w: read %d rows, the footer says %d", ErrCorrupt, s.Rows, f.NumRows())
	}
	return s, nil
}

// checkData checks the data of a file against the length and checksum in its footer, if
// it has them (a file nextbest wrote does; another writer's file with the same columns
// is read without).
func checkData(r io.ReaderAt, f *parquet.File) (checked bool, err error) {
	nStr, ok := f.Lookup(metaDataBytes)
	crcStr, ok2 := f.Lookup(metaDataCRC)
	if !ok || !ok2 {
		return false, nil
	}
	n, err := strconv.ParseInt(nStr, 10, 64)
	want, err2 := strconv.ParseUint(crcStr, 16, 32)
	if err != nil || err2 != nil || n < 0 || n > f.Size() {
		return false, fmt.Errorf("%w: malformed data checksum %q of %q bytes", ErrCorrupt, crcStr, nStr)
	}
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, n)); err != nil {
		return false, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if got := h.Sum32(); got != uint32(want) {
		return false, fmt.Errorf("%w: its %d bytes of data do not match the checksum written with them (%08x, computed %08x)", ErrCorrupt, n, want, got)
	}
	return true, nil
}

// checkSchema checks that a file has every column of Row, with Row's physical types.
func checkSchema(got *parquet.Schema) error {
	want := parquet.SchemaOf(Row{})
	for _, path := range want.Columns() {
		w, _ := want.Lookup(path...)
		g, ok := got.Lookup(path...)
		if !ok {
			return fmt.Errorf("%w: no column %q (not a nextbest export, or of another version)", ErrCorrupt, dotted(path))
		}
		if g.Node.Type().Kind() != w.Node.Type().Kind() {
			return fmt.Errorf("%w: column %q is %v, not %v", ErrCorrupt, dotted(path), g.Node.Type(), w.Node.Type())
		}
	}
	return nil
}

func dotted(path []string) string { return strings.Join(path, ".") }

// VerifyFile verifies the Parquet export at path (Verify) and says what it holds, in a
// sentence for people: how many decisions in how many row groups, from when to when, how
// many offered an action and were answered, and whether its data matches its checksum.
// The error names the file.
func VerifyFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	sum, err := Verify(f, st.Size())
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	check := "it holds no checksum of its data (not written by nextbest)"
	if sum.Checked {
		check = "its data matches its checksum"
	}
	if sum.Rows == 0 {
		return fmt.Sprintf("%s: a Parquet export of 0 decisions; %s", path, check), nil
	}
	return fmt.Sprintf("%s: a Parquet export of %d decisions in %d row groups, from %s to %s; %d offered an action, %d of them with a reward; %s",
		path, sum.Rows, sum.RowGroups, sum.First.Format(time.RFC3339Nano), sum.Last.Format(time.RFC3339Nano), sum.Offered, sum.Answered, check), nil
}
