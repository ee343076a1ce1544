package features

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/cespare/xxhash/v2"

	"github.com/nextbest/nextbest/internal/binrec"
)

// ErrState means bytes given to UnmarshalBinary are not encoder state this package
// wrote. A state saved for a different schema wraps both ErrState and ErrSchema.
var ErrState = errors.New("invalid encoder state")

// stateVersion is the first byte of MarshalBinary's output.
const stateVersion = 1

// State modes, the second byte.
const (
	modeSchema = 1
	modeAuto   = 2
)

// MarshalBinary returns the encoder's online statistics, tagged with a version byte
// and the schema hash:
//
//	version(1) mode(1: schema, 2: auto) uvarint(len(hash)) hash
//	schema: uvarint(k) then k x [uvarint n, float64 mean, float64 m2], in field order
//	auto:   uvarint(bits) uvarint(k) then k x [uint64 key, uvarint n, float64 mean, float64 m2]
//	        sorted by key, uvarint(m) then m x [uvarint dim, uvarint len, name], sorted by dim
//
// Floats and uint64 keys are little-endian. The output is deterministic.
func (e *Encoder) MarshalBinary() ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	b := []byte{stateVersion, modeSchema}
	if e.auto != nil {
		b[1] = modeAuto
	}
	b = binary.AppendUvarint(b, uint64(len(e.hash)))
	b = append(b, e.hash...)
	if e.auto == nil {
		b = binary.AppendUvarint(b, uint64(len(e.stats)))
		for _, s := range e.stats {
			b = appendStat(b, s)
		}
		return b, nil
	}
	a := e.auto
	b = binary.AppendUvarint(b, uint64(a.bits))
	keys := make([]uint64, 0, len(a.stats))
	for k := range a.stats {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.LittleEndian.AppendUint64(b, k)
		b = appendStat(b, *a.stats[k])
	}
	dims := make([]int32, 0, len(a.names))
	for d := range a.names {
		dims = append(dims, d)
	}
	sort.Slice(dims, func(i, j int) bool { return dims[i] < dims[j] })
	b = binary.AppendUvarint(b, uint64(len(dims)))
	for _, d := range dims {
		b = binary.AppendUvarint(b, uint64(d))
		b = binary.AppendUvarint(b, uint64(len(a.names[d].text)))
		b = append(b, a.names[d].text...)
	}
	return b, nil
}

func appendStat(b []byte, s stat) []byte {
	b = binary.AppendUvarint(b, s.n)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.mean))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(s.m2))
}

// UnmarshalBinary replaces the encoder's statistics with state from MarshalBinary. The
// state must come from an encoder with the same SchemaHash. On error, which wraps
// ErrState, the encoder is unchanged.
func (e *Encoder) UnmarshalBinary(data []byte) error {
	r := stateReader{binrec.NewReader(data, ErrState)}
	version, mode := r.Byte("header"), r.Byte("header")
	if r.Err() == nil && version != stateVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrState, version, stateVersion)
	}
	wantMode := byte(modeSchema)
	if e.auto != nil {
		wantMode = modeAuto
	}
	if r.Err() == nil && mode != wantMode {
		return fmt.Errorf("%w: %w: state of a %s encoder", ErrState, ErrSchema, modeName(mode))
	}
	hash := string(r.LenBytes("name"))
	if r.Err() == nil && hash != e.hash {
		return fmt.Errorf("%w: %w: state is for schema %q, encoder has %q", ErrState, ErrSchema, hash, e.hash)
	}
	if e.auto == nil {
		n := r.Count(17, "length")
		if r.Err() == nil && n != len(e.stats) {
			return fmt.Errorf("%w: %d statistics, want %d", ErrState, n, len(e.stats))
		}
		stats := make([]stat, 0, n)
		for i := 0; i < n && r.Err() == nil; i++ {
			stats = append(stats, r.stat())
		}
		if err := r.Done(); err != nil {
			return err
		}
		e.mu.Lock()
		copy(e.stats, stats)
		e.mu.Unlock()
		return nil
	}
	a := e.auto
	if bits := r.Uvarint("varint"); r.Err() == nil && bits != uint64(a.bits) {
		return fmt.Errorf("%w: %w: state for %d bits, encoder has %d", ErrState, ErrSchema, bits, a.bits)
	}
	n := r.Count(25, "length")
	if n > MaxAutoStats {
		return fmt.Errorf("%w: %d statistics, more than %d", ErrState, n, MaxAutoStats)
	}
	stats := make(map[uint64]*stat, n)
	prev := uint64(0)
	for i := 0; i < n && r.Err() == nil; i++ {
		k := r.Uint64("key")
		if r.Err() == nil && i > 0 && k <= prev {
			r.Fail("statistics keys not increasing")
		}
		prev = k
		s := r.stat()
		stats[k] = &s
	}
	m := r.Count(2, "length")
	if m > MaxAutoNames {
		return fmt.Errorf("%w: %d names, more than %d", ErrState, m, MaxAutoNames)
	}
	names := make(map[int32]autoName, m)
	prevDim := uint64(0)
	for i := 0; i < m && r.Err() == nil; i++ {
		d := r.Uvarint("varint")
		name := string(r.LenBytes("name"))
		if r.Err() == nil && (d == 0 || d > a.buckets || d <= prevDim) {
			r.Fail("name for dimension %d out of range or order", d)
		}
		prevDim = d
		names[int32(d)] = autoName{text: name, hash: xxhash.Sum64String(name)} // the walk hashes exactly the name's text
	}
	if err := r.Done(); err != nil {
		return err
	}
	dims := a.indexNames(names)
	e.mu.Lock()
	a.stats, a.names, a.dims = stats, names, dims
	e.mu.Unlock()
	return nil
}

func modeName(m byte) string {
	switch m {
	case modeSchema:
		return "schema"
	case modeAuto:
		return "auto"
	}
	return fmt.Sprintf("unknown (mode %d)", m)
}

// stateReader reads state bytes (binrec.Reader) with the statistics' own field kind.
type stateReader struct{ binrec.Reader }

func (r *stateReader) stat() stat {
	s := stat{n: r.Uvarint("statistic")}
	s.mean = r.Float64("statistic")
	s.m2 = r.Float64("statistic")
	if r.Err() == nil && !s.valid() {
		r.Fail("statistic n=%d mean=%g m2=%g is not valid", s.n, s.mean, s.m2)
	}
	return s
}
