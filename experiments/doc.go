// Package experiments is the pure maths of nextbest's A/B tests: it assigns
// customers to arms with a salted hash, and it compares the arms with a small
// statistics engine. nextbest tests its Next-Best-Action policy against the
// legacy campaigns it replaces and a no-contact holdout.
//
// The package does no I/O apart from reading an io.Reader in Analyze and
// writing an io.Writer in (*Analysis).WriteText. It has no clock, no logging
// and no global state. Where randomness is needed (only in tests) the caller
// passes a math/rand/v2 source.
//
// # Assignment
//
// Bucket hashes a customer into one of Buckets (10,000) buckets:
//
//	bucket = xxHash64(seed 0, bytes of salt + ":" + customerID) mod 10000
//
// Allocate turns arm weights into contiguous bucket ranges, and Assign looks a
// bucket up in them. The other platforms hash in the same shape with
// different functions:
//
//   - GrowthBook: FNV-1a 32-bit, hashed twice ("v2"), mod 10000.
//   - Statsig: SHA-256(salt + unit id) mod 10000.
//   - Eppo: the first 4 bytes of MD5, mod 10000.
//
// Stickiness: the engine persists each customer's first assignment and
// serves it on every later visit. That persisted record is what guarantees
// that a customer never changes arm. The hash only decides the arm the first
// time a customer is seen. Reallocate is the pure helper for changing the
// weights of a running experiment. It moves the fewest buckets possible, so
// that even customers who have no sticky record yet, or who lost theirs, stay
// where they were whenever their bucket did not have to move.
//
// # Statistics
//
// Every metric is kept per arm as a Summary (n, Σy, Σy²). Summaries are
// sufficient statistics: daily summaries add up (Summary.Merge), which is what
// the engine persists. Compare turns a treatment and a control Summary into a
// Comparison, two-sided at a configurable level (default 95%). A Comparison
// holds:
//
//   - the absolute lift and its interval: Newcombe's hybrid score interval
//     for proportions (Newcombe 1998, method 10, built on Wilson 1927), and
//     Welch's interval for means (Welch 1947);
//   - the relative lift with a delta-method interval (Deng, Knoblich & Lu
//     2018; the GrowthBook formula);
//   - a two-sided p-value: an unpooled two-proportion z test, or Welch's t
//     test with Welch–Satterthwaite degrees of freedom;
//   - the Bayesian chance to beat control and the expected loss, from a normal
//     approximation with a flat prior (as in GrowthBook and Eppo);
//   - an always-valid confidence sequence for the absolute lift (Waudby-Smith
//     et al. 2023, as in GrowthBook). A dashboard can read it every day
//     without raising the false-positive rate.
//
// NPS is analysed as the mean of per-respondent scores of +100, 0 or -100
// (see NPSScore), so it uses the same Welch machinery.
//
// Qini computes the Qini curve and coefficient of an uplift model's ranking from
// logged treated and untreated outcomes (Radcliffe 2007): whether the customers a
// model ranks first are those an action changes most.
//
// BottomLine words an experiment's bottom line: whether an arm creates value against a
// reference, per customer and in total, from the comparison of net value per customer and
// its always-valid interval. The sentence's figures are kept apart from its words
// (Statement), so a page can tie each to the value it shows; this is the one place that
// words it.
//
// Design.Verdict words one comparison of an experiment's report in the same way
// (conclusive by the always-valid interval, with the lift, its interval and how many more
// days), Design.Headline answers "is NBA winning?" over the primary metrics, and
// MetricText holds each metric's title, noun and verbs. The dashboards, the simulator's
// report and any other reader render these; none words a verdict of its own.
//
// Holm adjusts a family of p-values (Holm 1979). SRM runs Pearson's
// chi-square test of the observed arm counts against the designed weights.
// PowerPlan gives sample sizes and minimum detectable effects. Analyze runs
// all of this over a CSV table, and (*Analysis).WriteText prints it.
//
// # References
//
//   - Wilson, E. B. (1927). Probable inference, the law of succession, and
//     statistical inference. JASA 22:209–212.
//   - Newcombe, R. G. (1998a). Two-sided confidence intervals for the single
//     proportion: comparison of seven methods. Stat Med 17:857–872.
//   - Newcombe, R. G. (1998b). Interval estimation for the difference between
//     independent proportions: comparison of eleven methods. Stat Med
//     17:873–890.
//   - Welch, B. L. (1947). The generalization of "Student's" problem when
//     several different population variances are involved. Biometrika
//     34:28–35. Satterthwaite, F. E. (1946). Biometrics Bulletin 2:110–114.
//   - Deng, A., Knoblich, U. & Lu, J. (2018). Applying the delta method in
//     metric analytics: a practical guide with novel ideas. KDD 2018.
//   - Waudby-Smith, I., Arbour, D., Sinha, R., Kennedy, E. H. & Ramdas, A.
//     (2023). Time-uniform central limit theory and asymptotic confidence
//     sequences. arXiv:2103.06476v7, eq. 9 and 161.
//   - Radcliffe, N. J. (2007). Using control groups to target on predicted
//     lift: building and assessing uplift models. Direct Marketing Analytics
//     Journal 1:14–21.
//   - Holm, S. (1979). A simple sequentially rejective multiple test
//     procedure. Scand J Statist 6:65–70.
//   - Kohavi, R., Tang, D. & Xu, Y. (2020). Trustworthy Online Controlled
//     Experiments. Cambridge University Press: the rule n ≈ 16σ²/δ² and
//     ch. 21 (sample ratio mismatch).
//   - Chow, S.-C., Shao, J. & Wang, H. (2008). Sample Size Calculations in
//     Clinical Research, 2nd ed., ch. 3 and 4 (two-sample tests for
//     equality).
//   - Pearson, K. (1900). On the criterion that a given system of deviations
//     from the probable ... has arisen from random sampling. Philosophical
//     Magazine, series 5, 50:157–175.
//   - GrowthBook gbstats (packages/stats/gbstats: frequentist/tests.py,
//     bayesian/tests.py, utils.py) and docs/statistics/*.mdx.
//   - cybaea.net (2016). Net Promoter Score confidence intervals 2: maths
//     and stats.
package experiments
