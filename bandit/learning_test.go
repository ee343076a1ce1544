package bandit_test

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nextbest/nextbest/bandit"
)

func envf(k string, d float64) float64 {
	if s := os.Getenv(k); s != "" {
		v, _ := strconv.ParseFloat(s, 64)
		return v
	}
	return d
}

type world struct {
	w [][]float64 // K × (d+1)
}

func newWorld(rng *rand.Rand, k, d int, b0, bsd, sigma float64) *world {
	w := &world{}
	for range k {
		v := make([]float64, d+1)
		v[0] = b0 + bsd*rng.NormFloat64()
		for i := 1; i <= d; i++ {
			v[i] = sigma * rng.NormFloat64()
		}
		w.w = append(w.w, v)
	}
	return w
}

func (w *world) probs(x []float64, dst []float64) (best int, gap float64) {
	best = 0
	for a, wa := range w.w {
		var z float64
		for i := range x {
			z += x[i] * wa[i]
		}
		dst[a] = 1 / (1 + math.Exp(-z))
		if dst[a] > dst[best] {
			best = a
		}
	}
	second := math.Inf(-1)
	for a, p := range dst {
		if a != best && p > second {
			second = p
		}
	}
	return best, dst[best] - second
}

func TestProto(t *testing.T) { runProto(t, 1) }

func TestProtoSeeds(t *testing.T) {
	for s := 1; s <= int(envf("NSEEDS", 5)); s++ {
		runProto(t, uint64(s))
	}
}

func runProto(t *testing.T, seed uint64) {
	const k, d = 10, 20
	n := int(envf("N", 20000))
	form := bandit.Diagonal
	if os.Getenv("FULL") != "" {
		form = bandit.Full
	}
	alpha := envf("ALPHA", 1)
	wr := rand.New(rand.NewPCG(seed, 2))
	wo := newWorld(wr, k, d, envf("B0", -3), envf("BSD", 0.3), envf("SIGMA", 0.25))
	models := make([]*bandit.Model, k)
	for a := range models {
		m, err := bandit.New(bandit.Config{Dim: d + 1, Form: form, PriorPrecision: envf("LAMBDA", 1)})
		if err != nil {
			t.Fatal(err)
		}
		models[a] = m
	}
	rng := rand.New(rand.NewPCG(seed+100, 4))
	xv := make([]float64, d+1)
	x := bandit.Vector{Index: make([]int32, d+1), Value: xv}
	for i := range x.Index {
		x.Index[i] = int32(i)
	}
	p := make([]float64, k)
	var arms []bandit.Arm
	sc := make([]float64, k)
	var regret float64
	var pbest, pmean float64
	counts := make([]int, k)
	start := time.Now()
	for ev := range n {
		xv[0] = 1
		for i := 1; i <= d; i++ {
			xv[i] = rng.NormFloat64()
		}
		best, _ := wo.probs(xv, p)
		a := bandit.Select(models, x, alpha, nil, rng, arms, sc)
		if ev >= n-2000 {
			regret += p[best] - p[a]
			pbest += p[best]
			for _, q := range p {
				pmean += q / k
			}
		}
		counts[a]++
		models[a].Update(x, rng.Float64() < p[a], time.Time{})
	}
	_ = start; _ = counts
	t.Logf("regret/step last 2000: %.4f  (mean p_best %.4f, mean p %.4f)", regret/2000, pbest/2000, pmean/2000)
	er := rand.New(rand.NewPCG(seed+200, 6))
	var ts, gr, tsAll, grAll, kept int
	var gaps []float64
	var binN, binTS, binG [4]int
	var z2sum, sdsum, errsum, z2best, sdbest, errbest float64
	const nf = 2000
	for range nf {
		xv[0] = 1
		for i := 1; i <= d; i++ {
			xv[i] = er.NormFloat64()
		}
		best, gap := wo.probs(xv, p)
		gaps = append(gaps, gap)
		for b := range models {
			mu, v := models[b].Predict(x)
			zt := math.Log(p[b] / (1 - p[b]))
			z2sum += (zt - mu) * (zt - mu) / v
			sdsum += math.Sqrt(v)
			errsum += (zt - mu) * (zt - mu)
			if b == best {
				z2best += (zt - mu) * (zt - mu) / v
				sdbest += math.Sqrt(v)
				errbest += (zt - mu) * (zt - mu)
			}
		}
		a := bandit.Select(models, x, alpha, nil, er, arms, sc)
		g := 0
		for b := range models {
			if models[b].Propensity(x) > models[g].Propensity(x) {
				g = b
			}
		}
		if a == best {
			tsAll++
		}
		if g == best {
			grAll++
		}
		bin := 0
		switch {
		case gap >= 0.1:
			bin = 3
		case gap >= 0.05:
			bin = 2
		case gap >= 0.02:
			bin = 1
		}
		binN[bin]++
		if a == best {
			binTS[bin]++
		}
		if g == best {
			binG[bin]++
		}
		if gap >= 0.02 {
			kept++
			if a == best {
				ts++
			}
			if g == best {
				gr++
			}
		}
	}
	t.Logf("calib all: mean z2 %.3f, mean sd %.3f, rms err %.3f; best action: z2 %.3f sd %.3f rms err %.3f", z2sum/nf/k, sdsum/nf/k, math.Sqrt(errsum/nf/k), z2best/nf, sdbest/nf, math.Sqrt(errbest/nf))
	t.Logf("bins <.02 .02-.05 .05-.1 >=.1: n %v TS %.3f %.3f %.3f %.3f G %.3f %.3f %.3f %.3f", binN,
		float64(binTS[0])/float64(binN[0]), float64(binTS[1])/float64(binN[1]), float64(binTS[2])/float64(binN[2]), float64(binTS[3])/float64(binN[3]),
		float64(binG[0])/float64(binN[0]), float64(binG[1])/float64(binN[1]), float64(binG[2])/float64(binN[2]), float64(binG[3])/float64(binN[3]))
	t.Logf("fresh all: TS %.3f greedy %.3f ; gap>=0.02 (%d kept): TS %.3f greedy %.3f", float64(tsAll)/nf, float64(grAll)/nf, kept, float64(ts)/float64(kept), float64(gr)/float64(kept))
}

func TestProtoShift(t *testing.T) {
	const k, d = 10, 20
	const n, change, win = 20000, 10000, 500
	for _, hl := range []float64{0, envf("HL", 1000)} {
		wr := rand.New(rand.NewPCG(1, 2))
		wo := newWorld(wr, k, d, envf("B0", -3), envf("BSD", 0.3), envf("SIGMA", 0.2))
		hi, lo := envf("HI", -1.5), envf("LO", -3.5)
		wo.w[0][0] = hi
		models := make([]*bandit.Model, k)
		for a := range models {
			m, _ := bandit.New(bandit.Config{Dim: d + 1, HalfLife: hl})
			models[a] = m
		}
		rng := rand.New(rand.NewPCG(3, 4))
		xv := make([]float64, d+1)
		x := bandit.Vector{Index: make([]int32, d+1), Value: xv}
		for i := range x.Index {
			x.Index[i] = int32(i)
		}
		p := make([]float64, k)
		sc := make([]float64, k)
		hits := make([]bool, n)
		var bestIs0, bestIs1 int
		rec := -1
		var rates []float64
		for ev := range n {
			if ev == change {
				wo.w[0][0], wo.w[1][0] = lo, hi
			}
			xv[0] = 1
			for i := 1; i <= d; i++ {
				xv[i] = rng.NormFloat64()
			}
			best, _ := wo.probs(xv, p)
			if best == 0 {
				bestIs0++
			}
			if best == 1 {
				bestIs1++
			}
			a := bandit.Select(models, x, 1, nil, rng, nil, sc)
			hits[ev] = a == best
			models[a].Update(x, rng.Float64() < p[a], time.Time{})
			if (ev+1)%win == 0 {
				c := 0
				for _, h := range hits[ev+1-win : ev+1] {
					if h {
						c++
					}
				}
				rates = append(rates, float64(c)/win)
			}
			if ev >= change+win-1 && rec < 0 {
				c := 0
				for _, h := range hits[ev+1-win : ev+1] {
					if h {
						c++
					}
				}
				if float64(c)/win >= 0.8 {
					rec = ev + 1 - change
				}
			}
		}
		t.Logf("hl %v: best0 %d best1 %d recovery %d rates %.2f", hl, bestIs0, bestIs1, rec, rates)
	}
}
