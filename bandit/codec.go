package bandit

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/nextbest/nextbest/internal/binrec"
)

// codecVersion is the first byte of every encoding. Bump it when the layout
// changes and keep decoding the old versions.
const codecVersion = 1

const (
	flagValue   = 1 << 0 // a value model follows the health window
	flagHasLast = 1 << 1 // the forgetting clock has seen an event time
	knownFlags  = flagValue | flagHasLast
)

// headerSize is the fixed part of version 1, before the posterior arrays.
const headerSize = 112

// MarshalBinary encodes the whole model: configuration, posterior (and value
// model), forgetting clock, counters and health window. Layout (version 1,
// little-endian):
//
//	u8 version=1, u8 form, u8 flags, u8 half-life unit,
//	u32 dim, u32 window, u32 newton steps,
//	f64 prior mean, prior precision, half-life, value shape, value scale,
//	i64 responses, positives, rejected, f64 evidence, f64 pending decay,
//	i64 last-event Unix seconds, u32 nanoseconds, u32 window pairs n,
//	posterior: dim f64 means, then dim f64 precisions (Diagonal) or the
//	  dim(dim+1)/2 f64 lower Cholesky entries column by column (Full),
//	n f64 scores and n u8 outcomes (0/1), oldest first,
//	if the value flag: its posterior as above, then f64 a, f64 b.
//
// Floats are stored as their IEEE-754 bits, so a round trip is bitwise exact.
func (m *Model) MarshalBinary() ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	cfg := m.cfg
	size := headerSize + gaussianSize(cfg.Form, cfg.Dim) + 9*m.win.len()
	if m.value != nil {
		size += gaussianSize(cfg.Form, cfg.Dim) + 16
	}
	b := make([]byte, 0, size)
	var flags byte
	if m.value != nil {
		flags |= flagValue
	}
	var lastSec int64
	var lastNsec uint32
	if !m.clock.last.IsZero() {
		flags |= flagHasLast
		lastSec = m.clock.last.Unix()
		lastNsec = uint32(m.clock.last.Nanosecond())
	}
	le := binary.LittleEndian
	b = append(b, codecVersion, byte(cfg.Form), flags, byte(cfg.HalfLifeUnit))
	b = le.AppendUint32(b, uint32(cfg.Dim))
	b = le.AppendUint32(b, uint32(cfg.Window))
	b = le.AppendUint32(b, uint32(cfg.NewtonSteps))
	for _, f := range []float64{cfg.PriorMean, cfg.PriorPrecision, cfg.HalfLife, cfg.ValueShape, cfg.ValueScale} {
		b = appendFloat(b, f)
	}
	b = le.AppendUint64(b, uint64(m.responses))
	b = le.AppendUint64(b, uint64(m.positives))
	b = le.AppendUint64(b, uint64(m.rejected))
	b = appendFloat(b, m.evidence)
	b = appendFloat(b, m.clock.pending)
	b = le.AppendUint64(b, uint64(lastSec))
	b = le.AppendUint32(b, lastNsec)
	b = le.AppendUint32(b, uint32(m.win.len()))
	b = appendGaussian(b, &m.w)
	m.win.ordered(func(s float64, _ bool) { b = appendFloat(b, s) })
	m.win.ordered(func(_ float64, p bool) {
		var v byte
		if p {
			v = 1
		}
		b = append(b, v)
	})
	if m.value != nil {
		b = appendGaussian(b, &m.value.w)
		b = appendFloat(b, m.value.a)
		b = appendFloat(b, m.value.b)
	}
	return b, nil
}

func gaussianSize(form Form, dim int) int {
	if form == Full {
		return 8 * (dim + dim*(dim+1)/2)
	}
	return 16 * dim
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

func appendGaussian(b []byte, g *gaussian) []byte {
	for _, v := range g.mean {
		b = appendFloat(b, v)
	}
	if g.form == Diagonal {
		for _, v := range g.prec {
			b = appendFloat(b, v)
		}
		return b
	}
	d := g.dim
	for k := range d {
		for _, v := range g.l[k*d+k : k*d+d] {
			b = appendFloat(b, v)
		}
	}
	return b
}

// UnmarshalBinary replaces m by the model encoded in data (MarshalBinary's
// layout). It validates everything (configuration, finite means, positive
// precisions and Cholesky diagonals, scores in [0, 1], counters, exact
// length) and never panics; errors wrap ErrCorrupt and leave m unchanged.
func (m *Model) UnmarshalBinary(data []byte) error {
	n, err := decodeModel(data)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg = n.cfg
	m.w = n.w
	m.value = n.value
	m.clock = n.clock
	m.win = n.win
	m.responses, m.positives, m.rejected = n.responses, n.positives, n.rejected
	m.evidence = n.evidence
	m.work = n.work
	return nil
}

// decoder reads a model's little-endian fields (binrec.Reader); the first error sticks.
type decoder struct{ binrec.Reader }

// floats decodes n floats after checking that the bytes are there, so a
// corrupt length cannot make it allocate more than the input justifies.
func (d *decoder) floats(n int) []float64 {
	b := d.Bytes(8*n, "floats")
	if b == nil {
		return nil
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out
}

func decodeModel(data []byte) (*Model, error) {
	d := &decoder{binrec.NewReader(data, ErrCorrupt)}
	if v := d.Byte("model"); d.Err() == nil && v != codecVersion {
		return nil, fmt.Errorf("%w: version %d (want %d)", ErrCorrupt, v, codecVersion)
	}
	var cfg Config
	cfg.Form = Form(d.Byte("model"))
	flags := d.Byte("model")
	cfg.HalfLifeUnit = Unit(d.Byte("model"))
	cfg.Dim = int(d.Uint32("model"))
	cfg.Window = int(d.Uint32("model"))
	cfg.NewtonSteps = int(d.Uint32("model"))
	cfg.PriorMean = d.Float64("model")
	cfg.PriorPrecision = d.Float64("model")
	cfg.HalfLife = d.Float64("model")
	cfg.ValueShape = d.Float64("model")
	cfg.ValueScale = d.Float64("model")
	cfg.Value = flags&flagValue != 0
	responses := int64(d.Uint64("model"))
	positives := int64(d.Uint64("model"))
	rejected := int64(d.Uint64("model"))
	evidence := d.Float64("model")
	pending := d.Float64("model")
	lastSec := int64(d.Uint64("model"))
	lastNsec := d.Uint32("model")
	nWin := int(d.Uint32("model"))
	if d.Err() != nil {
		return nil, d.Err()
	}
	if flags&^knownFlags != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, flags)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	switch {
	case responses < 0 || positives < 0 || rejected < 0 || positives > responses:
		return nil, fmt.Errorf("%w: counters %d/%d/%d", ErrCorrupt, responses, positives, rejected)
	case !finite(evidence) || evidence < 0:
		return nil, fmt.Errorf("%w: evidence %v", ErrCorrupt, evidence)
	case !(pending > 0 && pending <= 1):
		return nil, fmt.Errorf("%w: pending decay %v", ErrCorrupt, pending)
	case nWin > cfg.Window:
		return nil, fmt.Errorf("%w: %d window pairs for a window of %d", ErrCorrupt, nWin, cfg.Window)
	case lastNsec >= 1e9:
		return nil, fmt.Errorf("%w: nanoseconds %d", ErrCorrupt, lastNsec)
	}
	var last time.Time
	if flags&flagHasLast != 0 {
		last = time.Unix(lastSec, int64(lastNsec))
		if last.IsZero() {
			return nil, fmt.Errorf("%w: last event time is the zero time", ErrCorrupt)
		}
	} else if lastSec != 0 || lastNsec != 0 {
		return nil, fmt.Errorf("%w: last event time without its flag", ErrCorrupt)
	}

	w, err := decodeGaussian(d, cfg.Form, cfg.Dim)
	if err != nil {
		return nil, err
	}
	win := newWindow(cfg.Window)
	scores := d.floats(nWin)
	outcomes := d.Bytes(nWin, "window")
	if d.Err() != nil {
		return nil, d.Err()
	}
	for i, s := range scores {
		if !(s >= 0 && s <= 1) {
			return nil, fmt.Errorf("%w: window score %v", ErrCorrupt, s)
		}
		if outcomes[i] > 1 {
			return nil, fmt.Errorf("%w: window outcome %d", ErrCorrupt, outcomes[i])
		}
		win.observe(s, outcomes[i] == 1)
	}
	var value *valueModel
	if cfg.Value {
		vw, err := decodeGaussian(d, cfg.Form, cfg.Dim)
		if err != nil {
			return nil, err
		}
		a, b := d.Float64("model"), d.Float64("model")
		if d.Err() != nil {
			return nil, d.Err()
		}
		if !(a > 0) || !(b > 0) || math.IsInf(a, 1) || math.IsInf(b, 1) {
			return nil, fmt.Errorf("%w: value noise a=%v b=%v", ErrCorrupt, a, b)
		}
		value = &valueModel{w: vw, a: a, b: b}
	}
	if err := d.Done(); err != nil {
		return nil, err
	}
	return &Model{
		cfg:       cfg,
		w:         w,
		value:     value,
		clock:     clock{pending: pending, last: last},
		win:       win,
		responses: responses,
		positives: positives,
		rejected:  rejected,
		evidence:  evidence,
		work:      make([]float64, cfg.Dim),
	}, nil
}

func decodeGaussian(d *decoder, form Form, dim int) (gaussian, error) {
	g := gaussian{form: form, dim: dim}
	// Check the whole block is present before allocating anything.
	if d.Len() < gaussianSize(form, dim) {
		d.Fail("truncated posterior: need %d bytes, have %d", gaussianSize(form, dim), d.Len())
		return g, d.Err()
	}
	g.mean = d.floats(dim)
	for _, v := range g.mean {
		if !finite(v) {
			return g, fmt.Errorf("%w: posterior mean %v", ErrCorrupt, v)
		}
	}
	if form == Diagonal {
		g.prec = d.floats(dim)
		g.vari = make([]float64, dim)
		for i, q := range g.prec {
			if !(q > 0) || math.IsInf(q, 1) {
				return g, fmt.Errorf("%w: precision %v", ErrCorrupt, q)
			}
			g.vari[i] = 1 / q
		}
		return g, d.Err()
	}
	g.l = make([]float64, dim*dim)
	g.rdiag = make([]float64, dim)
	for k := range dim {
		col := d.floats(dim - k)
		if d.Err() != nil {
			return g, d.Err()
		}
		if lkk := col[0]; !(lkk > 0) || math.IsInf(lkk, 1) {
			return g, fmt.Errorf("%w: Cholesky diagonal %v", ErrCorrupt, lkk)
		}
		for _, v := range col {
			if !finite(v) {
				return g, fmt.Errorf("%w: Cholesky entry %v", ErrCorrupt, v)
			}
		}
		copy(g.l[k*dim+k:k*dim+dim], col)
		g.rdiag[k] = 1 / col[0]
	}
	return g, d.Err()
}
