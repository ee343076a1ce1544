// Package offpolicy estimates what a target policy would have earned from
// decisions another policy logged: off-policy evaluation (OPE) of contextual
// bandits. It is pure maths: no I/O, no clock, no logging, no storage and no
// engine types. The caller feeds it one logged decision at a time, and every
// summary it keeps is a set of sufficient statistics with Add and Merge, so
// a year of logs is one pass and summaries from several stores add up.
//
// # Input
//
// A logged decision i has a context x_i, the action a_i the logging policy
// π₀ chose, and its reward r_i. Seen through a target policy π, it is a
// [Record]:
//
//	Reward       r_i
//	Logging      p_i = π₀(a_i | x_i) > 0          the logged selection probability
//	Target       e_i = π(a_i | x_i) ∈ [0, 1]      0 or 1 for a deterministic π
//	Model        q̂_i = q̂(x_i, a_i)               a reward model's prediction
//	ModelTarget  q̂π_i = Σ_a π(a | x_i) q̂(x_i, a)  the model's value of π at x_i
//
// The importance weight is w_i = e_i / p_i. Model and ModelTarget are used
// only by the model-based estimators (DM, DR, switch-DR, DRos); leave them 0
// when there is no reward model (DM then reads 0 and DR equals IPS). The
// reward model must not have been fitted on the records it evaluates: fit it
// on other data, or cross-fit (fit on one half, evaluate the other, and swap;
// Chernozhukov et al. 2018, Definition 3.1), or DR's unbiasedness argument
// does not apply.
//
// The target value is V(π) = E_x Σ_a π(a|x) E[r | x, a]. With i.i.d. logged
// decisions and π₀(a|x) > 0 wherever π(a|x) > 0 (overlap), E[w r] = V(π) and
// E[w] = 1.
//
// # Estimators
//
// n is the number of records and Σ runs over them:
//
//	observed   V̂ = (1/n) Σ r_i
//	replay     V̂ = Σ e_i r_i / Σ e_i
//	IPS        V̂ = (1/n) Σ w_i r_i
//	SNIPS      V̂ = Σ w_i r_i / Σ w_i
//	DM         V̂ = (1/n) Σ q̂π_i
//	DR         V̂ = (1/n) Σ [ q̂π_i + w_i (r_i − q̂_i) ]
//	switch-DR  V̂_τ = (1/n) Σ [ q̂π_i + 1(w_i ≤ τ) w_i (r_i − q̂_i) ]
//	DRos       V̂_λ = (1/n) Σ [ q̂π_i + ŵ_λ,i (r_i − q̂_i) ],  ŵ_λ = λ w / (w² + λ)
//
// Sources and properties:
//
//   - Observed (on-policy) is the mean observed reward, the value of the
//     logging policy itself. Evaluating the logging policy (e_i = p_i, so
//     w_i = 1) must agree with it.
//   - Replay: Li, Chu, Langford & Wang (WSDM 2011), Section 3, Algorithm 1
//     and Theorem 1. For a deterministic target (e_i ∈ {0, 1}) it is the mean
//     reward of the records on which the target would have chosen the logged
//     action. It is unbiased when the log was collected uniformly at random,
//     and biased towards the logging policy's favourite actions otherwise.
//     For a randomised target we use the probability of a match,
//     e_i = π(a_i|x_i), in place of the 0/1 match of a sampled action (its
//     conditional expectation; our extension). Under uniform logging replay
//     equals SNIPS.
//   - IPS, inverse propensity scoring: Horvitz & Thompson (1952); Dudík,
//     Langford & Li (ICML 2011), Section 2. Unbiased under overlap; its
//     variance grows with the weights.
//   - SNIPS, self-normalised IPS: Swaminathan & Joachims (NeurIPS 2015),
//     Section 4. Biased by O(1/n) but consistent, bounded by the reward
//     range, and far less variable when the weights are heavy. Σ w_i / n
//     estimates E[w] = 1, its control variate.
//   - DM, the direct method. Low variance; biased by whatever the reward
//     model gets wrong, and its intervals reflect only the sampling of
//     contexts, not the model's error.
//   - DR, doubly robust: Dudík, Langford & Li (ICML 2011), Section 2; Dudík,
//     Erhan, Langford & Li (Statistical Science 2014), Section 4, for
//     randomised targets. Unbiased when the logging probabilities are right,
//     whatever the model; lower variance than IPS when the model is good.
//   - Switch-DR: Wang, Agarwal & Dudík (ICML 2017), Section 4.1. It keeps the
//     importance-weighted correction only where the weight is at most τ and
//     trusts the model elsewhere. Their SWITCH-DR,
//     Σ_a π(a|x) q̂(x,a)·1(w(x,a) > τ) plus DR over the actions with w ≤ τ,
//     collapses to the formula above for the logged action. τ = 0 is DM and
//     τ = ∞ is DR.
//   - DRos, DR with optimistic shrinkage: Su, Dimakopoulou, Krishnamurthy &
//     Dudík (ICML 2020), Section 3. The shrunk weight ŵ_λ minimises a bound on
//     the MSE; ŵ_λ ≤ min(w, √λ/2). λ = 0 is DM and λ = ∞ is DR.
//
// Switch-DR and DRos keep every value of a small fixed grid inside the
// summary, so the parameter is chosen after the pass:
//
//	τ ∈ {0, 4⁰, 4¹, …, 4¹⁰, ∞}          (13 values, 1 to about 10⁶)
//	λ ∈ {0, 16⁰, 16¹, …, 16¹⁰, ∞} = τ²   (ŵ_λ starts to shrink near w = √λ)
//
// The reported value is the grid point with the smallest estimated MSE,
// variance plus squared bias bound, as in Su et al. (2020), Section 5, and
// Open Bandit Pipeline's "mse" tuning with its bias upper bound
// (obp/ope/helper.py, estimate_high_probability_upper_bound_bias):
//
//	MSE(g) = s²_g / n + ( |B_g| + c )²
//	s²_g   = (1/n) Σ (φ_g,i − V̂_g)²              φ_g,i the estimator's term
//	B_g    = (1/n) Σ (w_i − ŵ_g,i)(r_i − q̂_i)       the direct bias estimate
//	c      = sqrt(2 (Σ w_i²/n) ln(2/δ) / n) + 2 max_i w_i ln(2/δ) / (3n)
//
// with δ = [TuningDelta] = 0.1 (OBP's BaseOffPolicyEstimatorTuning default).
// Every term is a running sum, so the selection is exact on merged summaries.
// The grid is coarse (a factor of 4 in the weight scale), and the intervals
// reported for the chosen point ignore the selection and the bias: they are
// approximate.
//
// # Intervals
//
// Every estimate has two-sided intervals at level 1 − α (default 0.95).
//
// Normal: V̂ ± z·SE with z = Φ⁻¹(1 − α/2). For the means (observed, IPS, DM,
// DR, and switch-DR and DRos at the chosen point) SE² = s²/n with s² the
// unbiased sample variance of the per-record terms. For the ratios (SNIPS
// with y = w r, x = w; replay with y = e r, x = e) the delta method (Owen
// 2013, Section 9.2; Deng, Knoblich & Lu 2018) gives, with s the unbiased
// (co)variances,
//
//	V̂ = ȳ / x̄,  SE² = (s_yy − 2 V̂ s_xy + V̂² s_xx) / (n x̄²).
//
// Bootstrap, in one pass (Hanley & MacGibbon 2006; Chamandy, Muralidharan,
// Najmi & Naidu 2012, "Estimating uncertainty for massive data streams"):
// each of B replicates gives record i an independent Poisson(1) count c_bi.
// A [Resampler] draws the counts once per record from an injected random
// source (inverting the Poisson CDF at a 32-bit uniform, exact to 2⁻³²), and
// every target policy's summary gets the same counts. Replicate b keeps the
// count-weighted sums of each estimator's terms, and its estimate is
//
//	V̂_b = Σ c_bi φ_i / Σ c_bi          (means)
//	V̂_b = Σ c_bi y_i / Σ c_bi x_i      (ratios)
//
// The interval is the α/2 and 1 − α/2 percentiles of the V̂_b (type 7, linear
// interpolation). Replicate sums add up across stores, provided each store
// draws its counts from its own independently seeded source. For switch-DR
// and DRos every grid point has replicates, and the interval is read at the
// point chosen on the full data: the selection is not re-run per replicate.
// Those two estimators' intervals (normal and bootstrap) also ignore the
// bias they accept: on the synthetic worlds of the coverage test their 95%
// intervals covered the true value 86% to 91% of the time, against 94% to 96%
// for IPS, SNIPS and DR.
//
// Empirical Bernstein (Maurer & Pontil, COLT 2009, Theorem 4), only when the
// caller states [Bounds]: rewards in [R₋, R₊] and weights at most W. For n ≥ 2
// i.i.d. terms in [a, b] with mean V̂ and unbiased variance s², Theorem 4
// applied to each tail at α/2 gives, with probability at least 1 − α and for
// every n, not only asymptotically,
//
//	|V̂ − E V̂| ≤ sqrt(2 s² ln(4/α) / n) + 7 (b − a) ln(4/α) / (3(n − 1)).
//
// The ranges [a, b] of the terms follow from the bounds:
//
//	observed  [R₋, R₊]
//	IPS       [min(0, W R₋), max(0, W R₊)]                       (w·r)
//	DM        [R₋, R₊]        (the model's predictions must lie in the reward range)
//	DR        [R₋ − W (R₊ − R₋), R₊ + W (R₊ − R₋)]
//
// It is not given for the ratios or the tuned estimators. A record outside
// the stated bounds withdraws the interval and raises a warning.
//
// # Weight diagnostics
//
// [Diagnostics] reports, from Σw, Σw², Σwr and the k largest weights (a
// mergeable top-k list, ties broken by w·r so that merged and one-pass lists
// agree):
//
//   - the effective sample size ESS = (Σ w)² / Σ w² (Kish 1965, Section
//     11.7; Owen 2013, Section 9.3), the number of equally weighted records
//     that would give the same precision;
//   - the mean weight and its standard error: E[w] = 1 under overlap with
//     correct logging probabilities (Swaminathan & Joachims 2015, Section 4);
//   - the largest weights, the share of Σ w carried by the largest one and by
//     the top k, and the share of the IPS numerator Σ w r carried by the top k
//     (among equal weights the list prefers the larger w·r, so with ties that
//     share is an upper bound).
//
// A [Warning] is raised, with a plain-English message, when:
//
//   - there are no records;
//   - Σ w = 0: the target never chooses a logged action (no overlap);
//   - ESS < [MinESS] (100) or ESS < [MinESSFraction] (1%) of n: a few
//     records carry the weighted estimates and their normal intervals are not
//     to be trusted (Owen 2013, Section 9.3, reads a small ESS as a sign of
//     trouble; the thresholds are ours, not a theorem);
//   - the largest weight is more than [MaxWeightShare] (10%) of Σ w: one
//     record moves IPS and SNIPS by itself;
//   - the mean weight differs from 1 by more than [WeightMeanZ] (3) standard
//     errors: the logging probabilities are wrong, or the target chooses
//     actions the logging policy never chose.
//
// Meeting every rule does not make an estimate trustworthy: the ESS can be
// large while a region the target visits was never logged.
//
// # References
//
//   - Chamandy, N., Muralidharan, O., Najmi, A. & Naidu, S. (2012).
//     Estimating uncertainty for massive data streams. Google technical
//     report.
//   - Chan, T. F., Golub, G. H. & LeVeque, R. J. (1979). Updating formulae
//     and a pairwise algorithm for computing sample variances. Stanford
//     CS report STAN-CS-79-773. (Merging running moments.)
//   - Chernozhukov, V. et al. (2018). Double/debiased machine learning for
//     treatment and structural parameters. Econometrics Journal 21:C1–C68.
//   - Deng, A., Knoblich, U. & Lu, J. (2018). Applying the delta method in
//     metric analytics. KDD 2018.
//   - Dudík, M., Langford, J. & Li, L. (2011). Doubly robust policy
//     evaluation and learning. ICML 2011.
//   - Dudík, M., Erhan, D., Langford, J. & Li, L. (2014). Doubly robust
//     policy evaluation and optimization. Statistical Science 29(4):485–511.
//   - Hanley, J. A. & MacGibbon, B. (2006). Creating non-parametric bootstrap
//     samples using Poisson frequencies. Computer Methods and Programs in
//     Biomedicine 83:57–62.
//   - Horvitz, D. G. & Thompson, D. J. (1952). A generalization of sampling
//     without replacement from a finite universe. JASA 47:663–685.
//   - Kish, L. (1965). Survey Sampling. Wiley.
//   - Li, L., Chu, W., Langford, J. & Wang, X. (2011). Unbiased offline
//     evaluation of contextual-bandit-based news article recommendation
//     algorithms. WSDM 2011.
//   - Maurer, A. & Pontil, M. (2009). Empirical Bernstein bounds and sample
//     variance penalization. COLT 2009.
//   - Owen, A. B. (2013). Monte Carlo theory, methods and examples, ch. 9
//     (importance sampling).
//   - Saito, Y., Aihara, S., Matsutani, M. & Narita, Y. (2021). Open Bandit
//     Dataset and Pipeline: towards realistic and reproducible off-policy
//     evaluation. NeurIPS 2021 Datasets and Benchmarks; arXiv:2008.07146.
//   - Su, Y., Dimakopoulou, M., Krishnamurthy, A. & Dudík, M. (2020). Doubly
//     robust off-policy evaluation with shrinkage. ICML 2020.
//   - Swaminathan, A. & Joachims, T. (2015). The self-normalized estimator for
//     counterfactual learning. NeurIPS 2015.
//   - Wang, Y.-X., Agarwal, A. & Dudík, M. (2017). Optimal and adaptive
//     off-policy evaluation in contextual bandits. ICML 2017.
//   - Welford, B. P. (1962). Note on a method for calculating corrected sums
//     of squares and products. Technometrics 4:419–420.
//   - Open Bandit Pipeline (st-tech/zr-obp), obp/ope/estimators.py and
//     helper.py: the estimators' reference implementation in Python.
package offpolicy
