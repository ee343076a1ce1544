package experiments

import (
	"cmp"
	"slices"
)

// UpliftObservation is one logged decision for an uplift evaluation: the model's
// predicted benefit of the action for that customer (higher means more worth
// treating), whether the action was in fact taken, and the outcome that followed,
// counted so that higher is better (1 for a customer kept, 0 for one who left).
type UpliftObservation struct {
	Score   float64
	Treated bool
	Outcome float64
}

// QiniPoint is one point of a Qini curve: after targeting the Targeted highest-scored
// observations (Fraction of all), the incremental outcome Gain.
type QiniPoint struct {
	Fraction float64 `json:"fraction"`
	Targeted int     `json:"targeted"`
	Gain     float64 `json:"gain"`
}

// QiniCurve is a Qini curve with its summary.
type QiniCurve struct {
	Points []QiniPoint `json:"points"`
	// Coefficient is the area between the curve and the straight line from (0, 0) to
	// (1, Gain(1)) (random targeting), per observation: positive when the score ranks
	// the customers who gain the most first.
	Coefficient float64 `json:"coefficient"`
	N           int     `json:"n"`
	Treated     int     `json:"treated"`
	Control     int     `json:"control"`
}

// Qini computes the Qini curve of Radcliffe ("Using control groups to target on
// predicted lift: building and assessing uplift models", Direct Marketing Analytics
// Journal 1, 2007, Section 4): with the observations ranked by Score, highest first,
// the incremental gain of targeting the top k is
//
//	Q(k) = R_T(k) − R_C(k) · N_T(k) / N_C(k),
//
// where N_T(k), N_C(k) count the treated and control observations among the top k and
// R_T(k), R_C(k) add up their outcomes: the treated outcome minus what the same number
// of customers would have had untreated, by the control rate of the same top k (0 while
// N_C(k) = 0). Tied scores are taken together, so the curve does not depend on the
// order of ties: it has a point at every tie boundary, thinned to at most points
// points (at least 2) evenly in k, always including k = 0 and k = n. The Qini
// coefficient is the trapezoidal area between the curve and the random-targeting line
// through (0, 0) and (n, Q(n)), divided by n² (a fraction of the population times the
// gain per observation).
func Qini(obs []UpliftObservation, points int) QiniCurve {
	points = max(points, 2)
	n := len(obs)
	c := QiniCurve{N: n}
	if n == 0 {
		return c
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(obs[b].Score, obs[a].Score) })

	// Every tie boundary: k and Q(k).
	type pt struct {
		k int
		q float64
	}
	all := []pt{{0, 0}}
	var nt, nc int
	var rt, rc float64
	for i := 0; i < n; {
		j := i
		for j < n && obs[order[j]].Score == obs[order[i]].Score {
			o := obs[order[j]]
			if o.Treated {
				nt++
				rt += o.Outcome
			} else {
				nc++
				rc += o.Outcome
			}
			j++
		}
		q := rt
		if nc > 0 {
			q = rt - rc*float64(nt)/float64(nc)
		}
		all = append(all, pt{j, q})
		i = j
	}
	c.Treated, c.Control = nt, nc

	// Area between the curve and the random line, over every boundary.
	final := all[len(all)-1].q
	var area float64
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		la := final * float64(a.k) / float64(n)
		lb := final * float64(b.k) / float64(n)
		area += float64(b.k-a.k) * ((a.q - la) + (b.q - lb)) / 2
	}
	c.Coefficient = area / (float64(n) * float64(n))

	// Thin to at most points points, evenly in k.
	step := float64(len(all)-1) / float64(points-1)
	if step < 1 {
		step = 1
	}
	for f := 0.0; ; f += step {
		i := int(f + 0.5)
		if i >= len(all)-1 {
			break
		}
		if len(c.Points) == 0 || c.Points[len(c.Points)-1].Targeted != all[i].k {
			c.Points = append(c.Points, QiniPoint{Fraction: float64(all[i].k) / float64(n), Targeted: all[i].k, Gain: all[i].q})
		}
	}
	last := all[len(all)-1]
	c.Points = append(c.Points, QiniPoint{Fraction: 1, Targeted: last.k, Gain: last.q})
	return c
}
