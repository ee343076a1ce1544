package offpolicy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// obdDir is the Open Bandit Dataset sample (Saito et al. 2021), outside the
// repository: see ../../shared/data/open_bandit_dataset/SOURCE.md.
const obdDir = "../../shared/data/open_bandit_dataset"

// obdRow is one impression: the item shown at a position, its click and the
// logging policy's probability of that item at that position.
type obdRow struct {
	item, pos int // pos is 0, 1, 2 for the site's positions 1, 2, 3
	click     float64
	prop      float64
	day       string // the timestamp's date, 2019-11-24 to 2019-11-30
}

func readOBD(t *testing.T, path string) []obdRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	head, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, c := range []string{"timestamp", "item_id", "position", "click", "propensity_score"} {
		if _, ok := col[c]; !ok {
			t.Fatalf("%s: no column %q", path, c)
		}
	}
	var rows []obdRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		num := func(c string) float64 {
			v, err := strconv.ParseFloat(rec[col[c]], 64)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return v
		}
		day, _, _ := strings.Cut(rec[col["timestamp"]], " ")
		rows = append(rows, obdRow{item: int(num("item_id")), pos: int(num("position")) - 1, click: num("click"), prop: num("propensity_score"), day: day})
	}
	return rows
}

// positionDist is a policy's distribution over items at each position.
type positionDist [3][]float64

// frequencies is the share of each item among a log's impressions at each
// position: an unbiased estimate of the policy's time-averaged probability,
// since P(item i shown at p) = E_t[π_t(i, p)].
func frequencies(rows []obdRow, k int) positionDist {
	var d positionDist
	var n [3]float64
	for p := range d {
		d[p] = make([]float64, k)
	}
	for _, r := range rows {
		d[r.pos][r.item]++
		n[r.pos]++
	}
	for p := range d {
		for i := range d[p] {
			d[p][i] /= n[p]
		}
	}
	return d
}

func uniformDist(k int) positionDist {
	var d positionDist
	for p := range d {
		d[p] = make([]float64, k)
		for i := range d[p] {
			d[p][i] = 1 / float64(k)
		}
	}
	return d
}

// clickModel fits q̂(i, p) on the rows of one half (row index mod 2 = half):
// the cell's click rate shrunk to the position's click rate c_p by a Beta
// prior worth one click, (clicks + 1)/(n + 1/c_p).
func clickModel(rows []obdRow, k, half int) positionDist {
	var clicks, n positionDist
	var pc, pn [3]float64
	for p := range clicks {
		clicks[p], n[p] = make([]float64, k), make([]float64, k)
	}
	for j, r := range rows {
		if j%2 != half {
			continue
		}
		clicks[r.pos][r.item] += r.click
		n[r.pos][r.item]++
		pc[r.pos] += r.click
		pn[r.pos]++
	}
	var q positionDist
	for p := range q {
		q[p] = make([]float64, k)
		m := pn[p] / pc[p] // 1/c_p
		for i := range q[p] {
			q[p][i] = (clicks[p][i] + 1) / (n[p][i] + m)
		}
	}
	return q
}

// obdEval is one evaluation of a target policy on one log.
type obdEval struct {
	name    string
	summary *Summary
	truth   *Summary // the target's own log: its observed click rate is the truth
	methods []Method // the rows to show; nil is all but observed
}

// evaluate feeds a log to a Summary for the target dist (or, if perRow is
// set, a target probability per row). The reward model is cross-fitted: a
// row in half h is scored by the model fitted on the other half.
func evaluate(t *testing.T, rows []obdRow, k int, dist positionDist, perRow func(obdRow) float64, cfg Config, seed uint64) *Summary {
	t.Helper()
	models := [2]positionDist{clickModel(rows, k, 0), clickModel(rows, k, 1)}
	s, err := NewSummary(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := NewResampler(cfg.Bootstrap, rand.NewPCG(seed, 2021))
	var counts []float64
	for j, r := range rows {
		q := models[1-j%2]
		var qt float64
		for i, p := range dist[r.pos] {
			qt += p * q[r.pos][i]
		}
		rec := Record{Reward: r.click, Logging: r.prop, Target: dist[r.pos][r.item], Model: q[r.pos][r.item], ModelTarget: qt}
		if perRow != nil {
			rec.Target = perRow(r)
		}
		if cfg.Bootstrap > 0 {
			counts = res.Counts(counts)
		}
		if err := s.Add(rec, counts); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func meanClick(rows []obdRow) float64 {
	var s float64
	for _, r := range rows {
		s += r.click
	}
	return s / float64(len(rows))
}

// TestOpenBanditDataset evaluates, on the Open Bandit Dataset sample, the
// Bernoulli Thompson sampling policy (BTS) from the uniform-random log and
// the random policy from the BTS log, and compares each estimate with the
// policy's observed click rate in its own log (Saito et al. 2021, Section 5).
// The table it logs is in docs/evaluation.md:
//
//	go test -run TestOpenBanditDataset -v ./offpolicy/
func TestOpenBanditDataset(t *testing.T) {
	if testing.Short() {
		t.Skip("Open Bandit Dataset evaluation (about 8 s)")
	}
	if _, err := os.Stat(obdDir); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("the Open Bandit Dataset sample is not at %s (see the shared data's SOURCE.md); skipping", obdDir)
	}
	// B = 1000 replicates: enough for 2.5% and 97.5% percentiles (200, and
	// coarser percentiles, under the race detector).
	boot := 1000
	if raceEnabled {
		boot = 200
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| campaign | target ← log | estimator | estimate | 95%% normal CI | 95%% bootstrap CI | 95%% Bernstein CI | rel. error | rel. error, bootstrap mean ± sd | z vs on-policy |\n")
	fmt.Fprintf(&table, "|---|---|---|---|---|---|---|---|---|---|\n")
	var diag strings.Builder
	fmt.Fprintf(&diag, "| campaign | target ← log | n | ESS | ESS/n | max w | max w share | top-10 share of Σwr | mean w ± SE | warnings |\n")
	fmt.Fprintf(&diag, "|---|---|---|---|---|---|---|---|---|---|\n")

	for ci, camp := range []struct {
		name string
		k    int // items (item_context.csv has one row per item)
	}{{"men", 34}, {"women", 46}} {
		random := readOBD(t, filepath.Join(obdDir, "random", camp.name, camp.name+".csv"))
		bts := readOBD(t, filepath.Join(obdDir, "bts", camp.name, camp.name+".csv"))

		// The random log's propensities are 1/K: check every row.
		for _, r := range random {
			if math.Abs(r.prop-1/float64(camp.k)) > 1e-15 {
				t.Fatalf("%s random log: propensity %v, want 1/%d", camp.name, r.prop, camp.k)
			}
		}
		// The BTS propensities are not constant per (item, position): count
		// the (item, position) pairs that show more than one value.
		vals := map[[2]int]map[float64]bool{}
		for _, r := range bts {
			key := [2]int{r.item, r.pos}
			if vals[key] == nil {
				vals[key] = map[float64]bool{}
			}
			vals[key][r.prop] = true
		}
		varying := 0
		for _, v := range vals {
			if len(v) > 1 {
				varying++
			}
		}
		t.Logf("%s: %d of %d (item, position) pairs have more than one BTS propensity", camp.name, varying, len(vals))
		daily := map[[3]any]map[float64]bool{}
		for _, r := range bts {
			key := [3]any{r.item, r.pos, r.day}
			if daily[key] == nil {
				daily[key] = map[float64]bool{}
			}
			daily[key][r.prop] = true
		}
		dailyVarying := 0
		for _, v := range daily {
			if len(v) > 1 {
				dailyVarying++
			}
		}
		t.Logf("%s: %d of %d (item, position, day) triples have more than one BTS propensity", camp.name, dailyVarying, len(daily))
		if varying < len(vals)/2 {
			t.Errorf("%s: BTS propensities constant for most pairs (%d of %d vary); revisit how π_e is estimated", camp.name, varying, len(vals))
		}
		// The mean logged propensity per (item, position) is size-biased
		// (E[π²]/E[π] over time): it does not sum to 1 over the items.
		for p := range 3 {
			var sum float64
			for key, v := range vals {
				if key[1] != p {
					continue
				}
				var s, n float64
				for _, r := range bts {
					if r.item == key[0] && r.pos == p {
						s += r.prop
						n++
					}
				}
				_ = v
				sum += s / n
			}
			t.Logf("%s position %d: Σ_i mean logged BTS propensity = %.3f (a distribution would give 1)", camp.name, p+1, sum)
		}

		// The on-policy truths: each policy's log on its own, w = 1.
		onRandom := evaluate(t, random, camp.k, uniformDist(camp.k), nil, Config{}, 0)
		onBTS := evaluate(t, bts, camp.k, uniformDist(camp.k), func(r obdRow) float64 { return r.prop }, Config{}, 0)
		vBTS, vRandom := meanClick(bts), meanClick(random)
		pbar := frequencies(bts, camp.k)
		uni := uniformDist(camp.k)
		// Bernstein bounds: clicks in [0, 1]; the largest weight of π̄ over
		// the uniform log is K·max π̄ (known before any click is seen). For
		// the BTS log no prior bound on 1/π₀ is known: the log's own largest
		// weight stands in, which makes that interval approximate.
		maxPbar := 0.0
		for p := range pbar {
			for _, v := range pbar[p] {
				maxPbar = math.Max(maxPbar, v)
			}
		}
		minProp := 1.0
		for _, r := range bts {
			minProp = math.Min(minProp, r.prop)
		}
		cfgR := Config{Bootstrap: boot, Bounds: Bounds{0, 1, float64(camp.k) * maxPbar}}
		cfgT := Config{Bootstrap: boot, Bounds: Bounds{0, 1, 1 / float64(camp.k) / minProp}}
		seed := uint64(ci)
		evals := []obdEval{
			{"BTS ← random", evaluate(t, random, camp.k, pbar, nil, cfgR, seed), onBTS, nil},
			{"random ← BTS", evaluate(t, bts, camp.k, uni, nil, cfgT, seed+10), onRandom, nil},
			// The logged policies on their own logs.
			{"random ← random", evaluate(t, random, camp.k, uni, nil, Config{Bootstrap: boot, Bounds: Bounds{0, 1, 1}}, seed+20), onRandom, nil},
			{"BTS (π̄) ← BTS", evaluate(t, bts, camp.k, pbar, nil, Config{Bootstrap: boot}, seed+30), onBTS, nil},
			// The BTS policy with its own logged probabilities: w = 1, so IPS
			// and SNIPS are the observed mean (the model-based estimators
			// would need π_t of every item at every moment, which the log
			// does not hold).
			{"BTS (logged π₀) ← BTS", evaluate(t, bts, camp.k, pbar, func(r obdRow) float64 { return r.prop }, Config{Bootstrap: boot}, seed+40), onBTS, []Method{MethodIPS, MethodSNIPS}},
		}
		for _, ev := range evals {
			rep := ev.summary.Report()
			on, _ := ev.truth.Report().Estimate(MethodObserved)
			methods := ev.methods
			if methods == nil {
				methods = Methods[1:] // the log's own mean is the on-policy line
			}
			for _, m := range methods {
				e, _ := rep.Estimate(m)
				// Saito et al. (2021), Section 5: relative estimation error
				// |V̂ − V_on|/V_on, and its mean and sd over bootstrap
				// resamples of the evaluation log.
				rel := math.Abs(e.Value-on.Value) / on.Value
				var rm moments
				for _, v := range ev.summary.Replicates(m) {
					if !math.IsNaN(v) {
						rm.add(math.Abs(v-on.Value) / on.Value)
					}
				}
				// The difference in units of the combined standard error of the
				// estimate and of the on-policy mean (independent logs).
				z := (e.Value - on.Value) / math.Hypot(e.SE, on.SE)
				if math.Abs(z) < 0.005 {
					z = 0 // print 0.00, not −0.00
				}
				name := string(m)
				if !math.IsNaN(e.Param) {
					name = fmt.Sprintf("%s (%s = %g)", m, map[Method]string{MethodSwitchDR: "τ", MethodDRos: "λ"}[m], e.Param)
				}
				bern := "—"
				if e.Bernstein.Valid() {
					bern = fmt.Sprintf("[%.4f, %.4f]", e.Bernstein.Lo, e.Bernstein.Hi)
				}
				fmt.Fprintf(&table, "| %s | %s | %s | %.5f | [%.5f, %.5f] | [%.5f, %.5f] | %s | %.1f%% | %.1f%% ± %.1f%% | %+.2f |\n",
					camp.name, ev.name, name, e.Value, e.Normal.Lo, e.Normal.Hi, e.Bootstrap.Lo, e.Bootstrap.Hi, bern,
					100*rel, 100*rm.mean, 100*math.Sqrt(rm.variance()), z)
			}
			d := rep.Weights
			var kinds []string
			for _, w := range rep.Warnings {
				kinds = append(kinds, string(w.Kind))
			}
			fmt.Fprintf(&diag, "| %s | %s | %d | %.0f | %.2f%% | %.4g | %.1f%% | %.1f%% | %.3f ± %.3f | %s |\n",
				camp.name, ev.name, d.N, d.ESS, 100*d.ESSFraction, d.MaxWeight, 100*d.MaxShare, 100*d.TopEstimateShare,
				d.MeanWeight, d.MeanWeightSE, strings.Join(kinds, ", "))
			for _, w := range rep.Warnings {
				t.Logf("%s %s: %s", camp.name, ev.name, w.Message)
			}
		}
		// The on-policy values with their intervals.
		for _, on := range []struct {
			name string
			s    *Summary
		}{{"random", onRandom}, {"BTS", onBTS}} {
			e, _ := on.s.Report().Estimate(MethodObserved)
			t.Logf("%s on-policy %s: %.5f, 95%% CI [%.5f, %.5f] (%.0f clicks in %d)", camp.name, on.name, e.Value, e.Normal.Lo, e.Normal.Hi, e.Value*float64(e.N), e.N)
		}

		// Checks that could fail.
		// 1. The logged policies on their own logs agree with the observed
		//    mean. With w = 1 (random on random; BTS with its own logged
		//    probabilities) IPS, SNIPS and replay are the observed mean itself.
		for _, c := range []struct {
			ev    obdEval
			truth float64
			ms    []Method
		}{
			{evals[2], vRandom, []Method{MethodIPS, MethodSNIPS, MethodReplay}},
			{evals[4], vBTS, []Method{MethodIPS, MethodSNIPS}}, // replay weighs by π, not π/π₀
		} {
			rep := c.ev.summary.Report()
			for _, m := range c.ms {
				e, _ := rep.Estimate(m)
				checkClose(t, camp.name+" "+c.ev.name+" "+string(m), e.Value, c.truth, 1e-12)
			}
		}
		// 2. Every estimator's 95% interval (normal and bootstrap) for the
		//    random policy on its own log contains the observed mean, and so
		//    do those for the time-averaged BTS policy π̄ on the BTS log,
		//    where the weights π̄/π_t are not 1. DM is left out: its interval
		//    covers the sampling of contexts given the model, not the
		//    model's error, and here the contexts are only the position.
		for _, c := range []struct {
			ev    obdEval
			truth float64
		}{{evals[2], vRandom}, {evals[3], vBTS}} {
			for _, e := range c.ev.summary.Report().Estimates {
				if e.Method == MethodDM {
					continue
				}
				if !e.Normal.Contains(c.truth) || !e.Bootstrap.Contains(c.truth) {
					t.Errorf("%s %s %s: %.5f, normal %+v, bootstrap %+v do not contain the observed %.5f",
						camp.name, c.ev.name, e.Method, e.Value, e.Normal, e.Bootstrap, c.truth)
				}
			}
		}
		// 3. The weight diagnostics flag the random policy evaluated on the
		//    women's BTS log, where one impression had π₀ = 10⁻⁶.
		if camp.name == "women" {
			if rep := evals[1].summary.Report(); !hasWarning(rep.Warnings, WarnLowESS) || !hasWarning(rep.Warnings, WarnDominantWeight) {
				t.Errorf("women random ← BTS: warnings %v, want low-ess and dominant-weight", rep.Warnings)
			}
		}
	}
	t.Logf("estimates (on-policy truth: the target's observed click rate in its own log)\n%s", table.String())
	t.Logf("weight diagnostics\n%s", diag.String())
}
