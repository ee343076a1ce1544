package engine

import (
	"math"
	mrand "math/rand/v2"

	"github.com/nextbest/nextbest/bandit"
)

// The selection probabilities of an NBA decision: the probability that its policy offers
// each scored candidate first, and the probability that it offers nothing. Decide logs
// the first for the action it offers (Candidate.Probability) and the second when it
// offers nothing (Decision.NoActionProbability); off-policy evaluation (evaluate.go)
// needs them for every candidate, under the logged configuration and under others. Both
// go through the functions below, so that a policy evaluated off-line is the policy the
// engine runs.

// selector is how selection probabilities are computed (Options.Selection,
// SelectionTolerance, SelectionDraws).
type selector struct {
	method string
	tol    float64
	draws  int
}

// selector returns the options' selector.
func (o *Options) selector() selector {
	return selector{method: o.Selection, tol: o.SelectionTolerance, draws: o.SelectionDraws}
}

// firstResponse is the probability that a decision in response-value mode offers arm i
// first: that Thompson sampling over arms ranks it first and its priority clears the
// threshold, by the configured method; the Monte Carlo estimate stands in where the
// quadrature does not apply (an arm of weight 0; a NaN parameter). A threshold above 0
// joins the arms as one more, deterministic, arm whose priority is the threshold (weight
// 2t, logit 0, so w·σ(0) = t): beating it is clearing the threshold. buf is scratch for
// the arms with that one (reused); rng is used by Monte Carlo only. 0 with selection
// probabilities off.
func (s selector) firstResponse(arms []bandit.Arm, buf *[]bandit.Arm, i int, threshold float64, rng *mrand.Rand) float64 {
	if threshold > 0 {
		*buf = append(append((*buf)[:0], arms...), bandit.Arm{Weight: 2 * threshold})
		arms = *buf
	}
	switch s.method {
	case SelectionOff:
		return 0
	case SelectionQuadrature:
		if p := bandit.SelectionProbabilityQuad(arms, i, s.tol); !math.IsNaN(p) {
			return p
		}
	}
	return bandit.SelectionProbability(arms, i, s.draws, rng)
}

// noneResponse is the probability that a decision in response-value mode offers nothing:
// no arm's sampled priority reaches the threshold (bandit.NoneAbove; 0 when the
// threshold is 0 and some arm is scored). The arms carry their weights. 0 with selection
// probabilities off.
func (s selector) noneResponse(arms []bandit.Arm, threshold float64) float64 {
	if s.method == SelectionOff {
		return 0
	}
	return bandit.NoneAbove(arms, threshold)
}

// firstNet is the probability that a net-value decision's Thompson draw ranks arm i
// first with a value of at least floor (max(threshold, 0)), by quadrature
// (bandit.SelectionProbabilityNet), before the exploration floor of "no action". 0 with
// selection probabilities off.
func (s selector) firstNet(arms []bandit.NetArm, i int, floor float64) float64 {
	if s.method == SelectionOff {
		return 0
	}
	tol := s.tol
	if tol <= 0 {
		tol = bandit.SelectionTolerance
	}
	return bandit.SelectionProbabilityNet(arms, i, floor, tol)
}

// noneNet is the probability that a net-value decision offers nothing: no draw reaches
// the floor (bandit.NoneAboveNet), or one does and the winner aims at an objective and
// the exploration floor f (Options.NoActionFloor) withholds it,
//
//	P(none) = Π_j Φ((floor − m_j)/s_j) + f · Σ_{i aims} P(i first, ≥ floor).
//
// first, when not nil, holds the firstNet of every arm (the sum then needs no
// quadrature); aims(i) reports whether arm i aims at an objective. 0 with selection
// probabilities off.
func (s selector) noneNet(arms []bandit.NetArm, aims func(int) bool, floor, f float64, first []float64) float64 {
	if s.method == SelectionOff {
		return 0
	}
	p := bandit.NoneAboveNet(arms, floor)
	if f > 0 {
		for i := range arms {
			if !aims(i) {
				continue
			}
			if first != nil {
				p += f * first[i]
			} else {
				p += f * s.firstNet(arms, i, floor)
			}
		}
	}
	return min(p, 1)
}

// arbitration is one NBA decision's scored candidates under one configuration: either
// response-value arms (Weight = value × channel weight × lever) or net-value arms, the
// threshold, and, for net value, which candidates aim at an objective and the
// exploration floor of "no action".
type arbitration struct {
	net       bool
	arms      []bandit.Arm
	netArms   []bandit.NetArm
	aims      []bool
	threshold float64
	noActionF float64 // Options.NoActionFloor
	buf       []bandit.Arm
}

// probabilities fills first[:n] (n candidates) with the probability that the decision
// offers candidate i first, and returns the probability that it offers nothing: the
// rules of Engine.nbaChoice and Engine.netChoice, through the same functions Decide logs
// with. In net-value mode an arm that aims at an objective is offered with its
// selection probability times 1 − f and withheld ("no action") with f times it. The
// probabilities add up to 1 within the quadrature's tolerance per candidate.
func (a *arbitration) probabilities(s selector, first []float64, rng *mrand.Rand) float64 {
	if !a.net {
		for i := range a.arms {
			first[i] = s.firstResponse(a.arms, &a.buf, i, a.threshold, rng)
		}
		return s.noneResponse(a.arms, a.threshold)
	}
	floor := max(a.threshold, 0)
	for i := range a.netArms {
		first[i] = s.firstNet(a.netArms, i, floor)
	}
	none := s.noneNet(a.netArms, func(i int) bool { return a.aims[i] }, floor, a.noActionF, first[:len(a.netArms)])
	if a.noActionF > 0 {
		for i := range a.netArms {
			if a.aims[i] {
				first[i] *= 1 - a.noActionF
			}
		}
	}
	return none
}
