package offpolicy

import (
	"math"
	"math/rand/v2"
	"testing"
)

// near reports whether a and b agree to tol relative to max(1, |b|).
func near(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

func checkClose(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if !near(got, want, tol) {
		t.Errorf("%s = %.15g, want %.15g (tolerance %g)", what, got, want, tol)
	}
}

// world is a synthetic contextual bandit with C equally likely contexts and
// K actions, a true click probability q(x, a), a logging policy, target
// policies and a deliberately wrong reward model qHat. Every policy value
// is known exactly: V(π) = (1/C) Σ_x Σ_a π(a|x) q(x, a).
type world struct {
	c, k    int
	q, qHat [][]float64
	logging [][]float64
	targets [][][]float64
	// cum is the logging policy's cumulative distribution per context.
	cum [][]float64
}

func softmax(scores []float64, temp float64) []float64 {
	p := make([]float64, len(scores))
	var s float64
	for i, v := range scores {
		p[i] = math.Exp(v / temp)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// newWorld draws a world from rng. The logging policy is a softmax of noisy
// scores at temperature logTemp (uniform when logTemp is +Inf); each target
// is a softmax at its temperature of another noisy score (argmax, i.e.
// deterministic, when the temperature is 0).
func newWorld(rng *rand.Rand, c, k int, logTemp float64, targetTemps []float64) *world {
	w := &world{c: c, k: k}
	for x := 0; x < c; x++ {
		q := make([]float64, k)
		qh := make([]float64, k)
		sc := make([]float64, k)
		for a := range q {
			q[a] = 0.05 + 0.4*rng.Float64()
			// A model that is off by up to ±0.1: DM is biased, DR is not.
			qh[a] = math.Min(1, math.Max(0, q[a]+0.2*(rng.Float64()-0.5)))
			sc[a] = q[a] + 0.3*rng.NormFloat64()
		}
		w.q = append(w.q, q)
		w.qHat = append(w.qHat, qh)
		var lp []float64
		if math.IsInf(logTemp, 1) {
			lp = make([]float64, k)
			for a := range lp {
				lp[a] = 1 / float64(k)
			}
		} else {
			lp = softmax(sc, logTemp)
		}
		w.logging = append(w.logging, lp)
		cum := make([]float64, k)
		s := 0.0
		for a := range lp {
			s += lp[a]
			cum[a] = s
		}
		w.cum = append(w.cum, cum)
	}
	for _, temp := range targetTemps {
		pol := make([][]float64, c)
		for x := range pol {
			sc := make([]float64, k)
			for a := range sc {
				sc[a] = w.q[x][a] + 0.2*rng.NormFloat64()
			}
			if temp == 0 {
				pol[x] = make([]float64, k)
				best := 0
				for a := range sc {
					if sc[a] > sc[best] {
						best = a
					}
				}
				pol[x][best] = 1
			} else {
				pol[x] = softmax(sc, temp)
			}
		}
		w.targets = append(w.targets, pol)
	}
	return w
}

// value is V(π) for a policy table.
func (w *world) value(pol [][]float64) float64 {
	var v float64
	for x := range pol {
		for a, p := range pol[x] {
			v += p * w.q[x][a]
		}
	}
	return v / float64(w.c)
}

// maxWeight is max over (x, a) of π(a|x)/π₀(a|x).
func (w *world) maxWeight(pol [][]float64) float64 {
	var m float64
	for x := range pol {
		for a, p := range pol[x] {
			m = math.Max(m, p/w.logging[x][a])
		}
	}
	return m
}

// logged is one logged decision.
type logged struct {
	x, a   int
	reward float64
}

func (w *world) draw(rng *rand.Rand) logged {
	x := rng.IntN(w.c)
	u := rng.Float64()
	a := 0
	for a < w.k-1 && u >= w.cum[x][a] {
		a++
	}
	r := 0.0
	if rng.Float64() < w.q[x][a] {
		r = 1
	}
	return logged{x, a, r}
}

// record is the logged decision d seen through policy pol.
func (w *world) record(d logged, pol [][]float64) Record {
	var qt float64
	for a, p := range pol[d.x] {
		qt += p * w.qHat[d.x][a]
	}
	return Record{
		Reward:      d.reward,
		Logging:     w.logging[d.x][d.a],
		Target:      pol[d.x][d.a],
		Model:       w.qHat[d.x][d.a],
		ModelTarget: qt,
	}
}
