// Package bandit holds nextbest's per-action Bayesian models and the Thompson
// sampling that chooses between them. It is pure maths: no I/O, no clock, no
// logging, and every random draw comes from a *rand.Rand the caller injects
// (one per goroutine).
//
// # Model
//
// Each action has one [Model]: a Bayesian logistic regression
//
//	P(y = 1 | x, w) = σ(xᵀw),  σ(z) = 1 / (1 + e⁻ᶻ),
//
// with a Gaussian posterior N(m, S) over the weights, S = P⁻¹ the inverse of
// the precision P. The prior is N(m₀·1, λ⁻¹I) with m₀ = [Config.PriorMean] and
// λ = [Config.PriorPrecision]. Two forms are offered:
//
//   - [Diagonal]: P is diagonal, two floats per weight, as in Chapelle & Li
//     (2011), Algorithm 3. Cost per event is O(nnz(x)).
//   - [Full]: the whole precision is kept through its Cholesky factor
//     P = LLᵀ. Cost per event is O(Dim²); use it for small dense encodings.
//
// # Learning
//
// One event (x, y) is absorbed by an exact Laplace step from the current
// Gaussian (assumed-density filtering, Opper 1998; Chapelle & Li 2011,
// Algorithm 3 with a batch of one). The maximum of prior × likelihood lies on
// the line m + S x t, so the d-dimensional problem reduces to one dimension in
// z = xᵀw with prior N(μ = xᵀm, s² = xᵀSx), solved by safeguarded Newton
// iteration. Then m ← m + S x (z* − μ)/s² and P ← P + p(1−p) x xᵀ with
// p = σ(z*). [Model.UpdateBatch] is Chapelle & Li's Algorithm 3 for a
// mini-batch.
//
// # Choosing
//
// For independent per-action posteriors the sampled logit of action a is
// exactly N(xᵀm_a, α² xᵀS_a x), so Thompson sampling (Thompson 1933; Chapelle &
// Li 2011, Section 4) needs one normal draw per action, in score space, not a
// draw of the whole weight vector. [Prepare] computes the per-action means
// and standard deviations, [Sample] draws, [Select] does both, and
// [SelectionProbability] estimates the propensity of the chosen action for
// off-policy logging.
//
// # Forgetting, value, health
//
// Optional exponential forgetting toward the prior ([Config.HalfLife])
// handles non-stationarity: P ← γP + (1−γ)P₀ and Pm ← γPm + (1−γ)P₀m₀ with
// γ = 2^(−Δ/h) (Kulhavý & Zarrop 1993), Δ counted in the model's own
// events, in seconds, or in events of the caller's stream
// ([Config.HalfLifeUnit]). [Model.Forget] advances a model's clock without
// learning, so every action can decay on the stream's clock whether chosen
// or not, as in discounted Thompson sampling (Raj & Kalyani 2017). An
// optional conjugate Normal–Inverse-Gamma linear model ([Config.Value],
// [Model.UpdateValue]) learns a continuous reward next to the conversion
// model. [Model.Health] reports counts, a sliding-window AUC, calibration and
// log loss computed from predictions made before each event was learnt.
//
// # Concurrency
//
// A *Model is safe for concurrent use: predictions take a read lock, updates
// a write lock. The package-level functions are safe as long as each
// goroutine passes its own *rand.Rand and its own buffers.
//
// # References
//
//   - W. R. Thompson. On the likelihood that one unknown probability exceeds
//     another in view of the evidence of two samples. Biometrika 25(3/4), 1933.
//   - O. Chapelle, L. Li. An Empirical Evaluation of Thompson Sampling. NIPS 24, 2011.
//   - D. J. C. MacKay. The evidence framework applied to classification
//     networks. Neural Computation 4(5), 1992. Also C. M. Bishop, Pattern
//     Recognition and Machine Learning (PRML), 2006, Section 4.5.2.
//   - M. Opper. A Bayesian approach to on-line learning. In On-Line Learning
//     in Neural Networks, Cambridge University Press, 1998.
//   - P. E. Gill, G. H. Golub, W. Murray, M. A. Saunders. Methods for modifying
//     matrix factorizations. Mathematics of Computation 28(126), 1974; LINPACK
//     dchud; M. Seeger, Low rank updates for the Cholesky decomposition, 2004.
//   - R. Kulhavý, M. B. Zarrop. On a general concept of forgetting.
//     International Journal of Control 58(4), 1993.
//   - V. Raj, S. Kalyani. Taming non-stationary bandits: a Bayesian approach.
//     arXiv:1707.09727, 2017.
//   - C. M. Bishop, PRML, Section 3.3; K. P. Murphy, Machine Learning: a
//     Probabilistic Perspective, 2012, Section 7.6.3 (Normal–Inverse-Gamma).
//   - W. H. Press et al., Numerical Recipes, 3rd ed., Section 9.4 (rtsafe).
//   - J. Nocedal, S. J. Wright. Numerical Optimization, 2nd ed., Algorithm 3.1
//     (backtracking line search).
//   - M. West, J. Harrison. Bayesian Forecasting and Dynamic Models, 2nd ed.,
//     1997, Chapter 6 (discount factors).
//   - J. A. Hanley, B. J. McNeil. The meaning and use of the area under a
//     receiver operating characteristic (ROC) curve. Radiology 143, 1982.
//   - L. Li, W. Chu, J. Langford, X. Wang. Unbiased offline evaluation of
//     contextual-bandit-based news article recommendation algorithms. WSDM 2011.
package bandit
