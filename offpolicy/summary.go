package offpolicy

import (
	"fmt"
	"math"
)

// Bounds are what the empirical-Bernstein interval assumes: every reward in
// [RewardMin, RewardMax] and every importance weight at most MaxWeight
// (for instance 1/min π₀ when the logging policy explores every action with
// probability at least min π₀). The zero value (MaxWeight 0) means no bounds
// and no Bernstein interval.
type Bounds struct {
	RewardMin, RewardMax float64
	MaxWeight            float64
}

func (b Bounds) set() bool { return b != Bounds{} }

// Config configures a Summary.
type Config struct {
	// Level is the two-sided level of every interval; 0 means 0.95.
	Level float64
	// Bootstrap is the number B of Poisson-bootstrap replicates; 0 means no
	// bootstrap. Each Add then needs B counts from a Resampler.
	Bootstrap int
	// TopK is the number of largest weights kept; 0 means DefaultTopK.
	TopK int
	// Bounds enable the empirical-Bernstein interval.
	Bounds Bounds
}

func (c Config) resolve() (Config, error) {
	c.Level = resolveLevel(c.Level)
	if c.TopK == 0 {
		c.TopK = DefaultTopK
	}
	switch {
	case !(c.Level > 0 && c.Level < 1):
		return c, fmt.Errorf("%w: level %v is not in (0, 1)", ErrInvalidConfig, c.Level)
	case c.Bootstrap < 0:
		return c, fmt.Errorf("%w: %d bootstrap replicates", ErrInvalidConfig, c.Bootstrap)
	case c.TopK < 0:
		return c, fmt.Errorf("%w: top %d weights", ErrInvalidConfig, c.TopK)
	case c.Bounds.set() && !(c.Bounds.RewardMin < c.Bounds.RewardMax && c.Bounds.MaxWeight > 0 && finite(c.Bounds.RewardMin) && finite(c.Bounds.RewardMax) && finite(c.Bounds.MaxWeight)):
		return c, fmt.Errorf("%w: bounds %+v are not rewards in [min, max] with min < max and a positive finite maximum weight", ErrInvalidConfig, c.Bounds)
	}
	return c, nil
}

// Summary is every estimator, the weight diagnostics and the bootstrap
// replicates of one target policy over a stream of logged decisions. Feed
// it with Add, combine summaries of disjoint logs with Merge, and read it
// with Report. A Summary is not safe for concurrent use; give each goroutine
// its own and merge them.
type Summary struct {
	cfg      Config
	observed Observed
	replay   Replay
	ips      IPS
	snips    SNIPS
	dm       DM
	dr       DR
	sw       SwitchDR
	dros     DRos
	weights  Weights
	boot     replicates
	// corr is the doubly robust correction w (r − q̂), DR's term less DM's:
	// the model check of Report.
	corr moments
	// outOfBounds counts the records that broke cfg.Bounds.
	outOfBounds int
}

// NewSummary returns an empty Summary. The error wraps ErrInvalidConfig.
func NewSummary(cfg Config) (*Summary, error) {
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	return &Summary{
		cfg:     cfg,
		weights: NewWeights(cfg.TopK),
		boot:    make(replicates, cfg.Bootstrap*bStride),
	}, nil
}

// Config returns the resolved configuration.
func (s *Summary) Config() Config { return s.cfg }

// N is the number of records added.
func (s *Summary) N() int { return int(s.observed.m.n) }

// Add adds one logged decision. counts are its bootstrap counts from a
// Resampler with Config.Bootstrap replicates (nil without a bootstrap); the
// same counts go to every target policy's Summary. An invalid record is not
// added and the error wraps ErrInvalidRecord.
func (s *Summary) Add(r Record, counts []float64) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if len(counts) != s.cfg.Bootstrap {
		panic(fmt.Sprintf("offpolicy: %d bootstrap counts for %d replicates", len(counts), s.cfg.Bootstrap))
	}
	w := r.Weight()
	dr := drTerm(r, w)
	var sw, sh terms
	sw.switchTerms(r, w)
	sh.shrinkTerms(r, w)

	s.observed.Add(r)
	s.replay.Add(r)
	s.ips.m.add(w * r.Reward)
	s.snips.addWeighted(r, w)
	s.dm.Add(r)
	s.dr.m.add(dr)
	s.corr.add(dr - r.ModelTarget)
	s.sw.t.add(&sw, w)
	s.dros.t.add(&sh, w)
	s.weights.add(w, r.Reward)
	if len(counts) > 0 {
		s.boot.add(counts, r, w, &sh)
	}
	if b := s.cfg.Bounds; b.set() {
		in := func(x float64) bool { return b.RewardMin <= x && x <= b.RewardMax }
		if !in(r.Reward) || !in(r.Model) || !in(r.ModelTarget) || w > b.MaxWeight {
			s.outOfBounds++
		}
	}
	return nil
}

// Merge adds the records of o, a summary of a disjoint log with the same
// configuration whose bootstrap counts were drawn independently. The error
// wraps ErrIncompatible.
func (s *Summary) Merge(o *Summary) error {
	if s.cfg != o.cfg {
		return fmt.Errorf("%w: configurations %+v and %+v", ErrIncompatible, s.cfg, o.cfg)
	}
	s.observed.Merge(o.observed)
	s.replay.Merge(o.replay)
	s.ips.Merge(o.ips)
	s.snips.Merge(o.snips)
	s.dm.Merge(o.dm)
	s.dr.Merge(o.dr)
	s.corr.merge(o.corr)
	s.sw.Merge(o.sw)
	s.dros.Merge(o.dros)
	s.weights.Merge(o.weights)
	for i, v := range o.boot {
		s.boot[i] += v
	}
	s.outOfBounds += o.outOfBounds
	return nil
}

// Report is the evaluation of one target policy.
type Report struct {
	// N is the number of records and Level the intervals' level.
	N     int
	Level float64
	// Estimates holds one Estimate per method, in the order of Methods.
	Estimates []Estimate
	// SwitchGrid and ShrinkageGrid show every τ and λ with its estimated
	// MSE; the chosen one is in the switch-DR and DRos estimates' Param.
	SwitchGrid, ShrinkageGrid []GridPoint
	// Weights is the weight diagnostics.
	Weights Diagnostics
	// Warnings is Weights.Warnings plus a warning when records broke the
	// Bounds.
	Warnings []Warning
}

// Estimate returns the estimate of method m.
func (r Report) Estimate(m Method) (Estimate, bool) {
	for _, e := range r.Estimates {
		if e.Method == m {
			return e, true
		}
	}
	return Estimate{}, false
}

// Report computes every estimate with its intervals, and the diagnostics.
func (s *Summary) Report() Report {
	level := s.cfg.Level
	rep := Report{
		N:             s.N(),
		Level:         level,
		SwitchGrid:    s.sw.Grid(),
		ShrinkageGrid: s.dros.Grid(),
		Weights:       s.weights.Diagnostics(),
	}
	rep.Warnings = append(rep.Warnings, rep.Weights.Warnings...)
	if s.outOfBounds > 0 {
		rep.Warnings = append(rep.Warnings, Warning{WarnOutOfBounds, fmt.Sprintf(
			"%d of %d records broke the stated bounds (rewards and model values in [%g, %g], weights at most %g), so no empirical-Bernstein interval is given.",
			s.outOfBounds, rep.N, s.cfg.Bounds.RewardMin, s.cfg.Bounds.RewardMax, s.cfg.Bounds.MaxWeight)})
	}
	if w := s.modelBias(); w != nil {
		rep.Warnings = append(rep.Warnings, *w)
	}
	reps := make([]float64, 0, s.cfg.Bootstrap)
	for _, m := range Methods {
		e := s.estimate(m, level)
		if s.cfg.Bootstrap > 0 {
			reps = s.replicates(m, reps)
			e.BootstrapSE = sdOf(reps)
			e.Bootstrap = PercentileInterval(reps, level)
		}
		e.Bernstein = s.bernstein(m, level)
		rep.Estimates = append(rep.Estimates, e)
	}
	return rep
}

// ModelBiasZ is how many standard errors from 0 the mean doubly robust
// correction must be for Report to warn that the reward model is biased.
const ModelBiasZ = 3

// modelBias is the model check of the direct method. DR is DM plus the mean
// correction c = w (r − q̂(x, a)) (Dudík, Langford & Li, "Doubly robust policy
// evaluation and learning", ICML 2011, eq. 2): with the logged propensities
// right, E[c] = E_π[q(x, a) − q̂(x, a)], the bias of the reward model over the
// target policy's choices, which is DM's bias (DM = DR − mean c). The weight
// diagnostics cannot see it: DM uses no weights. A mean correction more than
// ModelBiasZ standard errors (the normal theory of the mean) from 0 returns a
// warning; nil otherwise, and with fewer than two records.
func (s *Summary) modelBias() *Warning {
	if s.corr.n < 2 {
		return nil
	}
	se := s.corr.se()
	if !(se > 0) {
		return nil
	}
	z := s.corr.mean / se
	if math.Abs(z) <= ModelBiasZ {
		return nil
	}
	return &Warning{WarnModelBias, fmt.Sprintf(
		"The reward model is biased on this policy's choices: the doubly robust correction averages %.4g (%.1f standard errors from 0), so DM is off by about %.4g; read DR or the weighted estimators, not DM.",
		s.corr.mean, z, -s.corr.mean)}
}

func (s *Summary) estimate(m Method, level float64) Estimate {
	switch m {
	case MethodObserved:
		return s.observed.Estimate(level)
	case MethodReplay:
		return s.replay.Estimate(level)
	case MethodIPS:
		return s.ips.Estimate(level)
	case MethodSNIPS:
		return s.snips.Estimate(level)
	case MethodDM:
		return s.dm.Estimate(level)
	case MethodDR:
		return s.dr.Estimate(level)
	case MethodSwitchDR:
		return s.sw.Estimate(level)
	case MethodDRos:
		return s.dros.Estimate(level)
	}
	panic(fmt.Sprintf("offpolicy: unknown method %q", m))
}

// replicates writes the B bootstrap estimates of method m into dst; for
// switch-DR and DRos they are read at the grid point chosen on the full data.
func (s *Summary) replicates(m Method, dst []float64) []float64 {
	g := 0
	switch m {
	case MethodSwitchDR:
		g = s.sw.t.choose()
	case MethodDRos:
		g = s.dros.t.choose()
	}
	if g < 0 {
		g = 0
	}
	return s.boot.estimates(m, g, dst)
}

// Replicates returns the B bootstrap replicate estimates of method m (for
// switch-DR and DRos at the chosen grid point), for instance to compute the
// bootstrap distribution of an error as Saito et al. (2021) do. NaN marks a
// replicate whose resample was empty.
func (s *Summary) Replicates(m Method) []float64 {
	return s.replicates(m, make([]float64, 0, s.cfg.Bootstrap))
}

// bernstein is the empirical-Bernstein interval of method m, or no interval
// when the method has none, Bounds are unset, or a record broke them.
func (s *Summary) bernstein(m Method, level float64) Interval {
	b := s.cfg.Bounds
	if !b.set() || s.outOfBounds > 0 {
		return noInterval
	}
	lo, hi, wm := b.RewardMin, b.RewardMax, b.MaxWeight
	var mo moments
	switch m {
	case MethodObserved:
		mo = s.observed.m
	case MethodIPS:
		mo = s.ips.m
		lo, hi = math.Min(0, wm*b.RewardMin), math.Max(0, wm*b.RewardMax)
	case MethodDM:
		mo = s.dm.m
	case MethodDR:
		mo = s.dr.m
		span := wm * (b.RewardMax - b.RewardMin)
		lo, hi = b.RewardMin-span, b.RewardMax+span
	default:
		return noInterval
	}
	return bernstein(mo.mean, mo.variance(), mo.n, lo, hi, level)
}
