package offpolicy

import (
	"fmt"
	"math"
	"slices"
)

// The warning thresholds (see the package documentation). They are
// conventions, not theorems.
const (
	// MinESS is the effective sample size below which weighted estimates
	// are flagged.
	MinESS = 100
	// MinESSFraction is the share of n below which the ESS is flagged.
	MinESSFraction = 0.01
	// MaxWeightShare is the share of Σ w above which a single weight is
	// flagged.
	MaxWeightShare = 0.10
	// WeightMeanZ is the number of standard errors by which the mean weight
	// may differ from 1 before it is flagged.
	WeightMeanZ = 3
)

// DefaultTopK is the number of largest weights a Summary keeps when its
// Config gives 0.
const DefaultTopK = 10

// WarningKind names what a warning is about.
type WarningKind string

// The warnings.
const (
	// WarnNoRecords: nothing was evaluated.
	WarnNoRecords WarningKind = "no-records"
	// WarnNoOverlap: Σ w = 0, the target never chose a logged action.
	WarnNoOverlap WarningKind = "no-overlap"
	// WarnLowESS: the effective sample size is below MinESS.
	WarnLowESS WarningKind = "low-ess"
	// WarnLowESSFraction: the effective sample size is below
	// MinESSFraction of the records.
	WarnLowESSFraction WarningKind = "low-ess-fraction"
	// WarnDominantWeight: one weight is more than MaxWeightShare of Σ w.
	WarnDominantWeight WarningKind = "dominant-weight"
	// WarnWeightMean: the mean weight differs from 1 by more than
	// WeightMeanZ standard errors.
	WarnWeightMean WarningKind = "weight-mean"
	// WarnOutOfBounds: a record broke the Bounds the empirical-Bernstein
	// interval assumes, so that interval is withdrawn.
	WarnOutOfBounds WarningKind = "out-of-bounds"
	// WarnModelBias: the doubly robust correction's mean differs from 0 by
	// more than ModelBiasZ standard errors, so the reward model is biased on
	// the target policy's choices and DM with it (Summary.Report).
	WarnModelBias WarningKind = "model-bias"
)

// Warning says why an estimate may not be trusted.
type Warning struct {
	Kind    WarningKind
	Message string
}

// Top is one of the largest importance weights with the reward of its
// record.
type Top struct {
	Weight, Reward float64
}

// less orders Top by weight, then by w·r, so that the k largest of a
// multiset are unique and merging lists gives the one-pass list.
func (t Top) less(u Top) bool {
	if t.Weight != u.Weight {
		return t.Weight < u.Weight
	}
	return t.Weight*t.Reward < u.Weight*u.Reward
}

// Weights accumulates the importance weights of one target policy: their
// moments, Σ w r, and the k largest. Use NewWeights; the zero value keeps no
// top weights.
type Weights struct {
	m     moments // of w
	sumW2 float64
	sumWR float64
	k     int
	top   []Top // descending, at most k
}

// NewWeights returns an empty accumulator that keeps the k largest weights.
func NewWeights(k int) Weights { return Weights{k: k, top: make([]Top, 0, k)} }

// Add adds one record; it assumes r is valid.
func (s *Weights) Add(r Record) { s.add(r.Weight(), r.Reward) }

func (s *Weights) add(w, reward float64) {
	s.m.add(w)
	s.sumW2 += w * w
	s.sumWR += w * reward
	s.push(Top{w, reward})
}

// push keeps t if it is among the k largest.
func (s *Weights) push(t Top) {
	if s.k == 0 || len(s.top) == s.k && !s.top[len(s.top)-1].less(t) {
		return
	}
	// The first position whose entry is smaller than t (the list descends).
	i, _ := slices.BinarySearchFunc(s.top, t, func(a, b Top) int {
		if b.less(a) {
			return -1
		}
		return 1
	})
	if len(s.top) < s.k {
		s.top = append(s.top, Top{})
	}
	copy(s.top[i+1:], s.top[i:len(s.top)-1])
	s.top[i] = t
}

// Merge adds the weights of o; the top list keeps the k largest of both.
func (s *Weights) Merge(o Weights) {
	s.m.merge(o.m)
	s.sumW2 += o.sumW2
	s.sumWR += o.sumWR
	for _, t := range o.top {
		s.push(t)
	}
}

// Diagnostics is the weight report of one target policy.
type Diagnostics struct {
	// N is the number of records.
	N int
	// SumWeights is Σ w; MeanWeight is Σ w / n and MeanWeightSE its
	// standard error. E[w] = 1 under overlap.
	SumWeights, MeanWeight, MeanWeightSE float64
	// ESS is the effective sample size (Σ w)² / Σ w² (Kish 1965), and
	// ESSFraction is ESS / N.
	ESS, ESSFraction float64
	// MaxWeight is the largest weight and MaxShare its share of Σ w.
	MaxWeight, MaxShare float64
	// Top holds the largest weights, largest first.
	Top []Top
	// TopShare is the share of Σ w carried by Top, and TopEstimateShare the
	// share of the IPS numerator Σ w r carried by Top (NaN if Σ w r = 0).
	TopShare, TopEstimateShare float64
	// Warnings lists every rule the weights break.
	Warnings []Warning
}

// Diagnostics computes the report and its warnings.
func (s Weights) Diagnostics() Diagnostics {
	d := Diagnostics{
		N:                int(s.m.n),
		SumWeights:       s.m.mean * s.m.n,
		MeanWeight:       s.m.mean,
		MeanWeightSE:     s.m.se(),
		ESS:              math.NaN(),
		ESSFraction:      math.NaN(),
		MaxWeight:        math.NaN(),
		MaxShare:         math.NaN(),
		Top:              slices.Clone(s.top),
		TopShare:         math.NaN(),
		TopEstimateShare: math.NaN(),
	}
	if s.m.n == 0 {
		d.MeanWeight = math.NaN()
		d.Warnings = []Warning{{WarnNoRecords, "No logged decisions were evaluated: there is nothing to estimate from."}}
		return d
	}
	var topW, topWR float64
	for _, t := range s.top {
		topW += t.Weight
		topWR += t.Weight * t.Reward
	}
	if len(s.top) > 0 {
		d.MaxWeight = s.top[0].Weight
	}
	if d.SumWeights > 0 {
		d.ESS = d.SumWeights * d.SumWeights / s.sumW2
		d.ESSFraction = d.ESS / s.m.n
		d.MaxShare = d.MaxWeight / d.SumWeights
		d.TopShare = topW / d.SumWeights
	}
	if s.sumWR != 0 {
		d.TopEstimateShare = topWR / s.sumWR
	}
	d.Warnings = d.warnings()
	return d
}

func (d Diagnostics) warnings() []Warning {
	var ws []Warning
	if !(d.SumWeights > 0) {
		return append(ws, Warning{WarnNoOverlap, fmt.Sprintf(
			"The target policy never chose any of the %d logged actions (all importance weights are 0): the log says nothing about it.", d.N)})
	}
	if d.ESS < MinESS {
		ws = append(ws, Warning{WarnLowESS, fmt.Sprintf(
			"The effective sample size is %.1f, below %d: the weighted estimates (IPS, SNIPS, DR) rest on a handful of records and their normal intervals are not to be trusted.", d.ESS, MinESS)})
	}
	if d.ESSFraction < MinESSFraction {
		ws = append(ws, Warning{WarnLowESSFraction, fmt.Sprintf(
			"The effective sample size is %.3g%% of the %d records (below %g%%): the target policy differs so much from the logging policy that few records inform it.", 100*d.ESSFraction, d.N, 100*MinESSFraction)})
	}
	if d.MaxShare > MaxWeightShare {
		ws = append(ws, Warning{WarnDominantWeight, fmt.Sprintf(
			"One record carries %.1f%% of the total importance weight (weight %.4g): IPS and SNIPS move with that single record.", 100*d.MaxShare, d.MaxWeight)})
	}
	if z := (d.MeanWeight - 1) / d.MeanWeightSE; math.Abs(z) > WeightMeanZ {
		ws = append(ws, Warning{WarnWeightMean, fmt.Sprintf(
			"The mean importance weight is %.4g, %.1f standard errors from 1: the logged selection probabilities are wrong, or the target policy chooses actions the logging policy never chose.", d.MeanWeight, z)})
	}
	return ws
}
