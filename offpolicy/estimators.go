package offpolicy

// Observed is the mean observed reward, (1/n) Σ r: the on-policy value of
// the logging policy. The zero value is empty and ready to use.
type Observed struct{ m moments }

// Add adds one record; it assumes r is valid (see Record.Validate).
func (o *Observed) Add(r Record) { o.m.add(r.Reward) }

// Merge adds the records of p.
func (o *Observed) Merge(p Observed) { o.m.merge(p.m) }

// Estimate returns the mean and its normal interval at level (0 means 0.95).
func (o Observed) Estimate(level float64) Estimate { return meanEstimate(MethodObserved, o.m, level) }

// Replay is the replay estimator of Li, Chu, Langford & Wang (2011),
// Σ e r / Σ e with e = π(a|x): for a deterministic target, the mean reward
// of the records on which the target would have chosen the logged action.
// For a randomised target e is the probability of a match (see the package
// documentation). It is unbiased only for a uniformly random log. The zero
// value is empty.
type Replay struct{ c comoments }

// Add adds one record; it assumes r is valid.
func (p *Replay) Add(r Record) { p.c.add(r.Target*r.Reward, r.Target) }

// Merge adds the records of o.
func (p *Replay) Merge(o Replay) { p.c.merge(o.c) }

// Matches is Σ e, the (expected) number of matched records.
func (p Replay) Matches() float64 { return p.c.mx * p.c.n }

// Estimate returns Σ e r / Σ e with a delta-method interval.
func (p Replay) Estimate(level float64) Estimate {
	return newEstimate(MethodReplay, p.c.n, p.c.ratio(), p.c.ratioSE(), level)
}

// IPS is inverse propensity scoring, (1/n) Σ w r. The zero value is empty.
type IPS struct{ m moments }

// Add adds one record; it assumes r is valid.
func (s *IPS) Add(r Record) { s.m.add(r.Weight() * r.Reward) }

// Merge adds the records of o.
func (s *IPS) Merge(o IPS) { s.m.merge(o.m) }

// Estimate returns the IPS mean and its normal interval.
func (s IPS) Estimate(level float64) Estimate { return meanEstimate(MethodIPS, s.m, level) }

// SNIPS is self-normalised IPS, Σ w r / Σ w (Swaminathan & Joachims 2015).
// The zero value is empty.
type SNIPS struct{ c comoments }

// Add adds one record; it assumes r is valid.
func (s *SNIPS) Add(r Record) { s.addWeighted(r, r.Weight()) }

func (s *SNIPS) addWeighted(r Record, w float64) { s.c.add(w*r.Reward, w) }

// Merge adds the records of o.
func (s *SNIPS) Merge(o SNIPS) { s.c.merge(o.c) }

// Estimate returns Σ w r / Σ w with a delta-method interval.
func (s SNIPS) Estimate(level float64) Estimate {
	return newEstimate(MethodSNIPS, s.c.n, s.c.ratio(), s.c.ratioSE(), level)
}

// DM is the direct method, (1/n) Σ q̂π: the reward model's value of the
// target. Its interval covers the sampling of contexts only, not the model's
// error. The zero value is empty.
type DM struct{ m moments }

// Add adds one record; it assumes r is valid.
func (d *DM) Add(r Record) { d.m.add(r.ModelTarget) }

// Merge adds the records of o.
func (d *DM) Merge(o DM) { d.m.merge(o.m) }

// Estimate returns the DM mean and its normal interval.
func (d DM) Estimate(level float64) Estimate { return meanEstimate(MethodDM, d.m, level) }

// DR is the doubly robust estimator (Dudík, Langford & Li 2011),
// (1/n) Σ [q̂π + w (r − q̂)]. The zero value is empty.
type DR struct{ m moments }

// Add adds one record; it assumes r is valid.
func (d *DR) Add(r Record) { d.m.add(drTerm(r, r.Weight())) }

// Merge adds the records of o.
func (d *DR) Merge(o DR) { d.m.merge(o.m) }

// Estimate returns the DR mean and its normal interval.
func (d DR) Estimate(level float64) Estimate { return meanEstimate(MethodDR, d.m, level) }

// drTerm is q̂π + w (r − q̂).
func drTerm(r Record, w float64) float64 { return r.ModelTarget + w*(r.Reward-r.Model) }
