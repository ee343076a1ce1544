package bandit

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Model is one action's Bayesian logistic regression with a Gaussian
// posterior over its weights, learning online from binary responses (see the
// package documentation for the maths). It optionally carries a value model
// of a continuous reward, exponential forgetting, and a health window.
//
// A *Model is safe for concurrent use: Predict, Propensity, Select and the
// other readers take a read lock, updates a write lock. Do not copy a Model;
// use Clone. Build one with New; the zero Model is only a target for
// UnmarshalBinary.
type Model struct {
	mu  sync.RWMutex
	cfg Config

	w     gaussian    // logistic posterior N(m, P⁻¹)
	value *valueModel // nil unless cfg.Value
	clock clock       // forgetting

	win                            window
	responses, positives, rejected int64
	evidence                       float64

	work    []float64 // update scratch, length Dim, guarded by the write lock
	scratch sync.Pool // *[]float64 of length ≥ Dim for full-form reads
}

// New returns a model at its prior for cfg with defaults applied
// (Config.WithDefaults). Errors wrap ErrInvalidConfig.
func New(cfg Config) (*Model, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg}
	m.reset()
	return m, nil
}

// reset puts m at its prior with empty counters. The caller holds the write
// lock or owns m.
func (m *Model) reset() {
	cfg := m.cfg
	m.w = newGaussian(cfg.Form, cfg.Dim, cfg.PriorMean, cfg.PriorPrecision)
	m.value = nil
	if cfg.Value {
		m.value = newValueModel(cfg)
	}
	m.resetCounters()
	m.work = make([]float64, cfg.Dim)
}

func (m *Model) resetCounters() {
	m.clock = clock{pending: 1}
	m.win = newWindow(m.cfg.Window)
	m.responses, m.positives, m.rejected = 0, 0, 0
	m.evidence = 0
}

// Config returns the model's configuration with defaults applied.
func (m *Model) Config() Config {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.cfg
}

// getScratch returns a pooled buffer of length ≥ Dim for a full-form read.
func (m *Model) getScratch() *[]float64 {
	if v, ok := m.scratch.Get().(*[]float64); ok && len(*v) >= m.cfg.Dim {
		return v
	}
	s := make([]float64, m.cfg.Dim)
	return &s
}

// predict returns xᵀm and xᵀSx under the read lock held by the caller.
func (m *Model) predict(x Vector) (mu, s2 float64) {
	if m.w.form == Diagonal {
		return m.w.predictDiag(x)
	}
	buf := m.getScratch()
	mu, s2, _ = m.w.predictFull(x, *buf)
	m.scratch.Put(buf)
	return mu, s2
}

// Predict returns the posterior mean and variance of the logit xᵀw:
//
//	mean = xᵀm,   variance = xᵀSx,
//
// Σ x_i m_i and Σ x_i²/q_i for the Diagonal form (Chapelle & Li 2011,
// Section 4), and ‖L⁻¹x‖² by forward substitution for the Full form.
func (m *Model) Predict(x Vector) (mean, variance float64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.predict(x)
}

// Propensity returns the posterior predictive probability of a positive,
// E[σ(xᵀw)], by MacKay's approximation σ(μ/√(1 + πv/8)) with μ, v from
// Predict (MacKay 1992; Bishop, PRML, Section 4.5.2, eq. 4.155).
func (m *Model) Propensity(x Vector) float64 {
	mu, v := m.Predict(x)
	return propensity(mu, v)
}

// Update learns one binary response y to x at event time t by an exact
// Laplace step from the current Gaussian (Chapelle & Li 2011, Algorithm 3
// with a batch of one; Opper 1998):
//
//	z* = argmax_z −(z−μ)²/(2s²) + y log σ(z) + (1−y) log(1−σ(z)),  μ = xᵀm, s² = xᵀSx,
//	m ← m + S x (z*−μ)/s²,   P ← P + p(1−p) x xᵀ,   p = σ(z*).
//
// The maximum of prior × likelihood lies on m + S x t, which reduces the
// MAP to the one-dimensional problem in z, solved by safeguarded Newton
// (Press et al., Numerical Recipes, Section 9.4). The propensity the model
// predicted for x before the update enters the health window. t only
// matters for forgetting with the Seconds unit; with the StreamEvents unit
// Update does not move the forgetting clock (Forget does). An event whose
// prediction is not finite (a NaN or huge feature value) is counted in
// Health.Rejected and otherwise ignored. Update does not allocate.
func (m *Model) Update(x Vector, positive bool, t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mu, s2, k0 := m.w.predict(x, m.work)
	if !finite(mu) || !finite(s2) {
		m.rejected++
		return
	}
	score := propensity(mu, s2)
	if m.advance(1, t, true) {
		mu, s2, k0 = m.w.predict(x, m.work)
	}
	m.win.observe(score, positive)
	m.responses++
	if positive {
		m.positives++
	}
	m.evidence++
	if s2 > 0 {
		z, _ := solveLogit(mu, s2, positive, m.cfg.NewtonSteps)
		p := sigmoid(z)
		m.w.absorb(x, (z-mu)/s2, p*(1-p), m.work, k0)
	}
}

// UpdateBatch learns a mini-batch of binary responses at event time t by
// Chapelle & Li (2011), Algorithm 3:
//
//	w = argmin_w ½ (w−m)ᵀP(w−m) + Σ_j log(1 + exp(−y_j wᵀx_j)),  y_j ∈ {−1, +1},
//	m ← w,   P ← P + Σ_j p_j(1−p_j) x_j x_jᵀ,   p_j = σ(wᵀx_j),
//
// keeping only the diagonal of the added curvature for the Diagonal form, as
// the paper does. The minimisation is damped Newton with the exact Hessian
// over the coordinates the batch touches. Each event's
// health score is its propensity before the batch. For the Events unit of
// forgetting the batch counts as len(xs) events; for StreamEvents it does
// not move the clock. It returns an error
// wrapping ErrInvalidArgument or ErrInvalidVector, and learns nothing, if
// the lengths differ, a vector is invalid for Dim, or the solve fails (in
// that last case forgetting up to t has still been applied). An empty batch
// is a no-op. Unlike Update, UpdateBatch allocates.
func (m *Model) UpdateBatch(xs []Vector, ys []bool, t time.Time) error {
	if len(xs) != len(ys) {
		return fmt.Errorf("%w: %d vectors but %d responses", ErrInvalidArgument, len(xs), len(ys))
	}
	if len(xs) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for j, x := range xs {
		if err := x.Validate(m.cfg.Dim); err != nil {
			return fmt.Errorf("update batch: event %d: %w", j, err)
		}
	}
	scores := make([]float64, len(xs))
	for j, x := range xs {
		mu, s2, _ := m.w.predict(x, m.work)
		if !finite(mu) || !finite(s2) {
			return fmt.Errorf("%w: update batch: event %d has a non-finite prediction", ErrInvalidVector, j)
		}
		scores[j] = propensity(mu, s2)
	}
	m.advance(len(xs), t, true)
	if err := m.w.updateBatch(xs, ys, m.cfg.NewtonSteps); err != nil {
		return fmt.Errorf("update batch: %w", err)
	}
	for j, y := range ys {
		m.win.observe(scores[j], y)
		m.responses++
		if y {
			m.positives++
		}
	}
	m.evidence += float64(len(xs))
	return nil
}

// Health returns a snapshot of the model's counters and window statistics.
// It allocates and sorts the window: call it for dashboards, not per decision.
func (m *Model) Health() Health {
	m.mu.RLock()
	defer m.mu.RUnlock()
	h := Health{
		Responses: m.responses,
		Positives: m.positives,
		Rejected:  m.rejected,
		Evidence:  m.evidence,
	}
	m.win.health(&h)
	return h
}

// Weights fills mean[i] with the posterior mean m_i and sd[i] with the
// posterior standard deviation √S_ii of every weight. Either slice may be
// nil; a non-nil slice shorter than Dim panics. For the Full form sd costs
// O(Dim³).
func (m *Model) Weights(mean, sd []float64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d := m.cfg.Dim
	if mean != nil {
		copy(mean[:d], m.w.mean)
	}
	if sd != nil {
		sd = sd[:d]
		m.w.variances(sd, make([]float64, d))
		for i, v := range sd {
			sd[i] = math.Sqrt(v)
		}
	}
}

// Clone returns a deep copy of m.
func (m *Model) Clone() *Model {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return &Model{
		cfg:       m.cfg,
		w:         m.w.clone(),
		value:     m.value.clone(),
		clock:     m.clock,
		win:       m.win.clone(),
		responses: m.responses,
		positives: m.positives,
		rejected:  m.rejected,
		evidence:  m.evidence,
		work:      make([]float64, m.cfg.Dim),
	}
}
