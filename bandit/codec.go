package bandit

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
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

// decoder reads little-endian fields and remembers the first error.
type decoder struct {
	data []byte
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
}

// take returns the next n bytes, or nil after recording an error.
func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.data) {
		d.fail("truncated: need %d bytes, have %d", n, len(d.data))
		return nil
	}
	b := d.data[:n]
	d.data = d.data[n:]
	return b
}

func (d *decoder) u8() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

// floats decodes n floats after checking that the bytes are there, so a
// corrupt length cannot make it allocate more than the input justifies.
func (d *decoder) floats(n int) []float64 {
	b := d.take(8 * n)
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
	d := &decoder{data: data}
	if v := d.u8(); d.err == nil && v != codecVersion {
		return nil, fmt.Errorf("%w: version %d (want %d)", ErrCorrupt, v, codecVersion)
	}
	var cfg Config
	cfg.Form = Form(d.u8())
	flags := d.u8()
	cfg.HalfLifeUnit = Unit(d.u8())
	cfg.Dim = int(d.u32())
	cfg.Window = int(d.u32())
	cfg.NewtonSteps = int(d.u32())
	cfg.PriorMean = d.f64()
	cfg.PriorPrecision = d.f64()
	cfg.HalfLife = d.f64()
	cfg.ValueShape = d.f64()
	cfg.ValueScale = d.f64()
	cfg.Value = flags&flagValue != 0
	responses := int64(d.u64())
	positives := int64(d.u64())
	rejected := int64(d.u64())
	evidence := d.f64()
	pending := d.f64()
	lastSec := int64(d.u64())
	lastNsec := d.u32()
	nWin := int(d.u32())
	if d.err != nil {
		return nil, d.err
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
	outcomes := d.take(nWin)
	if d.err != nil {
		return nil, d.err
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
		a, b := d.f64(), d.f64()
		if d.err != nil {
			return nil, d.err
		}
		if !(a > 0) || !(b > 0) || math.IsInf(a, 1) || math.IsInf(b, 1) {
			return nil, fmt.Errorf("%w: value noise a=%v b=%v", ErrCorrupt, a, b)
		}
		value = &valueModel{w: vw, a: a, b: b}
	}
	if len(d.data) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.data))
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
	if len(d.data) < gaussianSize(form, dim) {
		d.fail("truncated posterior: need %d bytes, have %d", gaussianSize(form, dim), len(d.data))
		return g, d.err
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
		return g, d.err
	}
	g.l = make([]float64, dim*dim)
	g.rdiag = make([]float64, dim)
	for k := range dim {
		col := d.floats(dim - k)
		if d.err != nil {
			return g, d.err
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
	return g, d.err
}
