package bandit

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Sentinel errors of the package; callers test them with errors.Is.
var (
	// ErrInvalidConfig reports a Config that Validate rejects.
	ErrInvalidConfig = errors.New("bandit: invalid config")
	// ErrCorrupt reports bytes that UnmarshalBinary cannot decode.
	ErrCorrupt = errors.New("bandit: corrupt model encoding")
	// ErrDimMismatch reports two models or a model and a vector of different dimension.
	ErrDimMismatch = errors.New("bandit: dimension mismatch")
	// ErrInvalidVector reports a Vector that breaks the sparse layout contract.
	ErrInvalidVector = errors.New("bandit: invalid vector")
	// ErrInvalidArgument reports any other bad argument (lengths, ranges).
	ErrInvalidArgument = errors.New("bandit: invalid argument")
)

// Form is the shape of a model's posterior precision.
type Form uint8

const (
	// Diagonal keeps one precision per weight (Chapelle & Li 2011, Algorithm 3).
	Diagonal Form = 1
	// Full keeps the whole precision matrix through its Cholesky factor.
	Full Form = 2
)

// String returns "diagonal", "full", or "Form(n)" for an unknown value.
func (f Form) String() string {
	switch f {
	case Diagonal:
		return "diagonal"
	case Full:
		return "full"
	}
	return fmt.Sprintf("Form(%d)", uint8(f))
}

// ParseForm parses "diagonal", "diag" or "full" (case-insensitive).
func ParseForm(s string) (Form, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "diagonal", "diag":
		return Diagonal, nil
	case "full":
		return Full, nil
	}
	return 0, fmt.Errorf("%w: form %q (want diagonal, diag or full)", ErrInvalidConfig, s)
}

// MarshalText implements encoding.TextMarshaler so a Form reads well in YAML and JSON.
func (f Form) MarshalText() ([]byte, error) {
	if f != Diagonal && f != Full {
		return nil, fmt.Errorf("%w: form %d", ErrInvalidConfig, uint8(f))
	}
	return []byte(f.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseForm.
func (f *Form) UnmarshalText(text []byte) error {
	v, err := ParseForm(string(text))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// Unit is the unit of Config.HalfLife.
type Unit uint8

const (
	// Events measures the half-life in learnt events.
	Events Unit = 1
	// Seconds measures the half-life in seconds of event time.
	Seconds Unit = 2
	// StreamEvents measures the half-life in events of the caller's stream,
	// counted by Model.Forget; Update and UpdateBatch do not move the clock.
	StreamEvents Unit = 3
)

// String returns "events", "seconds", "stream-events", or "Unit(n)" for an
// unknown value.
func (u Unit) String() string {
	switch u {
	case Events:
		return "events"
	case Seconds:
		return "seconds"
	case StreamEvents:
		return "stream-events"
	}
	return fmt.Sprintf("Unit(%d)", uint8(u))
}

// ParseUnit parses "events", "seconds" or "stream-events" (case-insensitive;
// also "stream_events" and "stream").
func ParseUnit(s string) (Unit, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "events", "event":
		return Events, nil
	case "seconds", "second", "s":
		return Seconds, nil
	case "stream-events", "stream_events", "stream":
		return StreamEvents, nil
	}
	return 0, fmt.Errorf("%w: half-life unit %q (want events, seconds or stream-events)", ErrInvalidConfig, s)
}

// MarshalText implements encoding.TextMarshaler.
func (u Unit) MarshalText() ([]byte, error) {
	if u != Events && u != Seconds && u != StreamEvents {
		return nil, fmt.Errorf("%w: unit %d", ErrInvalidConfig, uint8(u))
	}
	return []byte(u.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseUnit.
func (u *Unit) UnmarshalText(text []byte) error {
	v, err := ParseUnit(string(text))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// Limits enforced by Config.Validate. They bound memory per model and keep
// UnmarshalBinary from allocating more than its input justifies.
const (
	// MaxDim is the largest Dim of a Diagonal model (2^26 weights, 1.5 GiB of state).
	MaxDim = 1 << 26
	// MaxFullDim is the largest Dim of a Full model: the factor holds Dim² floats
	// (2048² · 8 B = 32 MiB) and an event costs O(Dim²).
	MaxFullDim = 2048
	// MaxWindow is the largest health window.
	MaxWindow = 1 << 20
	// MaxNewtonSteps is the largest Newton iteration cap.
	MaxNewtonSteps = 1000
)

// Defaults applied by Config.WithDefaults to zero fields.
const (
	// DefaultPriorPrecision is λ, the prior precision of every weight.
	DefaultPriorPrecision = 1.0
	// DefaultWindow is the number of recent events Health summarises.
	DefaultWindow = 1000
	// DefaultNewtonSteps caps the Newton iterations of one update. The
	// safeguarded one-dimensional solver stops at a relative step of 1e-12,
	// typically after 3–6 iterations; over a grid of prior means |μ| ≤ 40 and
	// variances s² ≤ 1e5 it never needs more than 29 (TestSolveLogitIterations),
	// hence the cap of 30.
	DefaultNewtonSteps = 30
	// DefaultValueShape is a₀, the prior shape of the value model's noise precision.
	DefaultValueShape = 2.0
	// DefaultValueScale is b₀, the prior scale of the value model's noise; with
	// a₀ = 2 the prior mean of the noise variance is b₀/(a₀−1) = 1.
	DefaultValueScale = 1.0
)

// Config fixes a model's shape, prior and options. The zero value of each
// field means "default" (see WithDefaults); New rejects configs that fail
// Validate after defaults are applied.
type Config struct {
	// Dim is the number of weights. The intercept is whichever index the
	// encoder uses, by convention 0.
	Dim int
	// Form is Diagonal (default) or Full.
	Form Form
	// PriorMean is m₀, the prior mean of every weight (default 0).
	PriorMean float64
	// PriorPrecision is λ, the prior precision of every weight (default 1).
	PriorPrecision float64
	// HalfLife is the forgetting half-life h in HalfLifeUnit; 0 turns
	// forgetting off (the default).
	HalfLife float64
	// HalfLifeUnit is Events (default: the model's own learnt events),
	// Seconds (event time) or StreamEvents (the events the caller counts
	// with Model.Forget, typically every event of the decision stream).
	HalfLifeUnit Unit
	// Value also keeps a Normal–Inverse-Gamma linear model of a continuous reward.
	Value bool
	// ValueShape is a₀ of the value model's Inverse-Gamma noise prior (default 2).
	ValueShape float64
	// ValueScale is b₀ of the value model's Inverse-Gamma noise prior (default 1).
	ValueScale float64
	// Window is the number of recent events Health summarises (default 1000).
	Window int
	// NewtonSteps caps Newton iterations per update (default 30); iteration
	// stops earlier once a step is below 1e-12 relative.
	NewtonSteps int
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Form == 0 {
		c.Form = Diagonal
	}
	if c.PriorPrecision == 0 {
		c.PriorPrecision = DefaultPriorPrecision
	}
	if c.HalfLifeUnit == 0 {
		c.HalfLifeUnit = Events
	}
	if c.ValueShape == 0 {
		c.ValueShape = DefaultValueShape
	}
	if c.ValueScale == 0 {
		c.ValueScale = DefaultValueScale
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.NewtonSteps == 0 {
		c.NewtonSteps = DefaultNewtonSteps
	}
	return c
}

// Validate reports the first problem with c as an error wrapping
// ErrInvalidConfig. It does not apply defaults: zero fields that need a
// positive value are errors.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch c.Form {
	case Diagonal:
		if c.Dim < 1 || c.Dim > MaxDim {
			return bad("dim %d outside [1, %d]", c.Dim, MaxDim)
		}
	case Full:
		if c.Dim < 1 || c.Dim > MaxFullDim {
			return bad("dim %d outside [1, %d] for the full form", c.Dim, MaxFullDim)
		}
	default:
		return bad("form %d (want diagonal or full)", uint8(c.Form))
	}
	if !finite(c.PriorMean) {
		return bad("prior mean %v is not finite", c.PriorMean)
	}
	if !(c.PriorPrecision > 0) || math.IsInf(c.PriorPrecision, 1) {
		return bad("prior precision %v is not a positive finite number", c.PriorPrecision)
	}
	if !(c.HalfLife >= 0) || math.IsInf(c.HalfLife, 1) {
		return bad("half-life %v is not a finite number >= 0", c.HalfLife)
	}
	if c.HalfLifeUnit != Events && c.HalfLifeUnit != Seconds && c.HalfLifeUnit != StreamEvents {
		return bad("half-life unit %d (want events, seconds or stream-events)", uint8(c.HalfLifeUnit))
	}
	if !(c.ValueShape > 0) || math.IsInf(c.ValueShape, 1) {
		return bad("value shape %v is not a positive finite number", c.ValueShape)
	}
	if !(c.ValueScale > 0) || math.IsInf(c.ValueScale, 1) {
		return bad("value scale %v is not a positive finite number", c.ValueScale)
	}
	if c.Window < 1 || c.Window > MaxWindow {
		return bad("window %d outside [1, %d]", c.Window, MaxWindow)
	}
	if c.NewtonSteps < 1 || c.NewtonSteps > MaxNewtonSteps {
		return bad("newton steps %d outside [1, %d]", c.NewtonSteps, MaxNewtonSteps)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
