package export

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"

	"github.com/nextbest/nextbest/engine"
)

// Format is an export's file format.
type Format string

// The formats.
const (
	Parquet   Format = "parquet" // Apache Parquet, Snappy-compressed
	JSONLines Format = "jsonl"   // one JSON object a line
)

// ParseFormat parses a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Parquet, JSONLines:
		return f, nil
	}
	return "", fmt.Errorf("%w: format %q: want parquet or jsonl", ErrOptions, s)
}

// ErrOptions reports export options that make no export.
var ErrOptions = errors.New("export options")

// Log is the decision log an export reads, oldest first, each decision with its outcomes
// (engine.Engine and store.Store have it).
type Log interface {
	Decisions(ctx context.Context, since time.Time, fn func(*engine.Decision) error) error
}

// Options says what to export.
type Options struct {
	Format Format
	// Since and Until bound the decisions' times: Since <= time < Until; a zero time is
	// no bound.
	Since, Until time.Time
	// RowGroup is how many rows a Parquet row group holds, and so the memory an export
	// takes (about 1 KB a row); 0 means DefaultRowGroup.
	RowGroup int
	// Progress, if set, is called with the number of decisions written so far, every
	// ProgressEvery of them (0: DefaultProgressEvery) and once at the end.
	Progress      func(n int)
	ProgressEvery int
}

// DefaultRowGroup is the default rows per Parquet row group: about 10 MB of memory while
// it fills, and row groups that readers can skip by time.
const DefaultRowGroup = 10_000

// DefaultProgressEvery is how often Options.Progress is called by default, in decisions.
const DefaultProgressEvery = 100_000

// Check returns an error wrapping ErrOptions if o makes no export.
func (o *Options) Check() error {
	if _, err := ParseFormat(string(o.Format)); err != nil {
		return err
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && o.Since.After(o.Until) {
		return fmt.Errorf("%w: since %s is after until %s", ErrOptions, o.Since.UTC().Format(time.RFC3339Nano), o.Until.UTC().Format(time.RFC3339Nano))
	}
	if o.RowGroup < 0 || o.ProgressEvery < 0 {
		return fmt.Errorf("%w: row groups of %d rows, progress every %d", ErrOptions, o.RowGroup, o.ProgressEvery)
	}
	return nil
}

// rowWriter writes rows in one format.
type rowWriter interface {
	write(r *Row) error
	close() error
	abort() error // after an error: the rows written so far, and nothing that says the file is whole
}

// Write writes the decisions of log between o.Since and o.Until to w in o.Format and
// returns how many it wrote. A window with no decisions makes a valid file with no rows
// (for JSON lines, an empty one). On an error the file is incomplete: a Parquet file
// without its footer, which no reader opens; the JSON lines written so far.
func Write(ctx context.Context, log Log, w io.Writer, o Options) (int, error) {
	if err := o.Check(); err != nil {
		return 0, err
	}
	var rw rowWriter
	if o.Format == Parquet {
		rw = newParquetWriter(w, o.RowGroup)
	} else {
		rw = &jsonlWriter{w: bufio.NewWriterSize(w, 64<<10)}
	}
	n, every := 0, o.ProgressEvery
	if every == 0 {
		every = DefaultProgressEvery
	}
	errDone := errors.New("past until")
	err := log.Decisions(ctx, o.Since, func(d *engine.Decision) error {
		if !o.Until.IsZero() && !d.Time.Before(o.Until) {
			return errDone // the log is in time order
		}
		row := RowOf(d)
		if err := rw.write(&row); err != nil {
			return err
		}
		n++
		if o.Progress != nil && n%every == 0 {
			o.Progress(n)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDone) {
		_ = rw.abort()
		return n, fmt.Errorf("export: %w", err)
	}
	if err := rw.close(); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	if o.Progress != nil {
		o.Progress(n)
	}
	return n, nil
}

// The key-value metadata of an export's footer: what it is, and the length and CRC-32C
// of its data (everything before the page indexes and the footer), which Verify checks.
// Parquet's own page checksums cover page data, not page headers, where the statistics
// are.
const (
	metaExport    = "nextbest.export"
	metaDataBytes = "nextbest.data_bytes"
	metaDataCRC   = "nextbest.data_crc32c"
	exportVersion = "decisions v1"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// parquetWriter writes rows a batch at a time; the library writes a row group to the
// output each time one fills.
type parquetWriter struct {
	pw    *parquet.GenericWriter[Row]
	out   *bufio.Writer
	data  crcWriter
	batch []Row
}

// crcWriter counts and checksums what passes through it.
type crcWriter struct {
	w   io.Writer
	n   int64
	crc uint32
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	return n, err
}

func newParquetWriter(w io.Writer, rowGroup int) *parquetWriter {
	if rowGroup == 0 {
		rowGroup = DefaultRowGroup
	}
	p := &parquetWriter{out: bufio.NewWriterSize(w, 64<<10), batch: make([]Row, 0, 256)}
	p.data.w = p.out
	// No buffer of the library's own: what it writes reaches p.data at once, so that
	// p.data has seen every row group when close asks.
	p.pw = parquet.NewGenericWriter[Row](&p.data, parquet.Compression(&snappy.Codec{}), parquet.MaxRowsPerRowGroup(int64(rowGroup)),
		parquet.WriteBufferSize(0), parquet.CreatedBy("nextbest", "", ""), parquet.KeyValueMetadata(metaExport, exportVersion))
	return p
}

func (p *parquetWriter) write(r *Row) error {
	p.batch = append(p.batch, *r)
	if len(p.batch) == cap(p.batch) {
		return p.flush()
	}
	return nil
}

func (p *parquetWriter) flush() error {
	if len(p.batch) == 0 {
		return nil
	}
	_, err := p.pw.Write(p.batch)
	clear(p.batch) // let the rows' slices go
	p.batch = p.batch[:0]
	return err
}

// abort leaves the file without its footer: no reader opens it.
func (p *parquetWriter) abort() error { return p.out.Flush() }

func (p *parquetWriter) close() error {
	if err := p.flush(); err != nil {
		return err
	}
	if err := p.pw.Flush(); err != nil { // the last row group
		return err
	}
	p.pw.SetKeyValueMetadata(metaDataBytes, strconv.FormatInt(p.data.n, 10))
	p.pw.SetKeyValueMetadata(metaDataCRC, fmt.Sprintf("%08x", p.data.crc))
	if err := p.pw.Close(); err != nil {
		return err
	}
	return p.out.Flush()
}

// jsonlWriter writes a JSON object a line (goccy/go-json, which writes what encoding/json writes).
type jsonlWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (j *jsonlWriter) write(r *Row) error {
	if len(r.ContextJSON) > 0 && !json.Valid(r.ContextJSON) {
		// Never written by the API, which takes JSON contexts only: kept, as a string.
		r.ContextJSON, _ = json.Marshal(r.Context)
	}
	var err error
	if j.buf, err = gojson.Marshal(r); err != nil {
		return err
	}
	j.buf = append(j.buf, '\n')
	_, err = j.w.Write(j.buf)
	return err
}

func (j *jsonlWriter) close() error { return j.w.Flush() }

func (j *jsonlWriter) abort() error { return j.w.Flush() }
