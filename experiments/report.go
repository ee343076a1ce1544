package experiments

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Kind is the type of a metric. It decides how the metric is summarised and
// which test compares two arms.
type Kind uint8

const (
	// Binary is a 0/1 outcome per customer: responded, churned, retained.
	// Its Summary.Sum is the number of successes.
	Binary Kind = iota + 1
	// Mean is a real-valued outcome per customer: spend, discount cost.
	Mean
	// Count is a non-negative whole number per customer, such as responses
	// per assigned customer (the intent-to-treat denominator). It is
	// analysed as a mean.
	Count
	// NPS is a 0–10 survey rating per respondent. Each rating is scored
	// +100, 0 or -100 by NPSScore, and the mean of the scores is the Net
	// Promoter Score. It is analysed as a mean.
	NPS
)

var kindNames = [...]string{Binary: "binary", Mean: "mean", Count: "count", NPS: "nps"}

// String returns the kind's name: "binary", "mean", "count" or "nps".
func (k Kind) String() string {
	if k >= Binary && k <= NPS {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind parses a kind name, as written by Kind.String.
func ParseKind(s string) (Kind, error) {
	for k := Binary; k <= NPS; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown metric kind %q (want binary, mean, count or nps)", ErrInvalidConfig, s)
}

// MarshalText encodes the kind as its name, and the zero Kind as "".
func (k Kind) MarshalText() ([]byte, error) {
	if k == 0 {
		return []byte{}, nil
	}
	if k > NPS {
		return nil, fmt.Errorf("%w: invalid metric kind %d", ErrInvalidConfig, k)
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText decodes a kind name, and "" as the zero Kind.
func (k *Kind) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*k = 0
		return nil
	}
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Summary is the sufficient statistic of one metric in one arm: the count,
// sum and sum of squares of the per-customer values. Summaries add up, so
// the engine can persist one per arm, metric and day, and Merge them for any
// date range. This follows GrowthBook's SampleMeanStatistic
// (gbstats/models/statistics.py).
//
// For a Binary metric, Sum is the number of successes, and SumSq equals Sum.
// For NPS, the values are the scores from NPSScore.
//
// The variance is computed as (Σy² − (Σy)²/n)/(n−1). This loses precision
// when the mean is large compared with the standard deviation: about
// 1e-16·mean²/variance in relative terms. That is harmless for the rates,
// counts, money and scores this package is meant for.
type Summary struct {
	N     int     `json:"n"`
	Sum   float64 `json:"sum"`
	SumSq float64 `json:"sum_sq"`
}

// Add records one customer's value y.
func (s *Summary) Add(y float64) {
	s.N++
	s.Sum += y
	s.SumSq += y * y
}

// Merge returns the summary of the union of the customers in s and o.
// The two must describe disjoint sets of customers, e.g. two days.
func (s Summary) Merge(o Summary) Summary {
	return Summary{N: s.N + o.N, Sum: s.Sum + o.Sum, SumSq: s.SumSq + o.SumSq}
}

// Mean returns Σy/n, or NaN when N is 0.
func (s Summary) Mean() float64 {
	if s.N <= 0 {
		return math.NaN()
	}
	return s.Sum / float64(s.N)
}

// Variance returns the sample variance (Σy² − (Σy)²/n)/(n−1), or NaN when N
// is below 2. A value that is slightly negative from rounding is returned
// as 0.
func (s Summary) Variance() float64 {
	if s.N < 2 {
		return math.NaN()
	}
	n := float64(s.N)
	v := (s.SumSq - s.Sum*s.Sum/n) / (n - 1)
	if v < 0 {
		return 0
	}
	return v
}

// Interval is a closed interval [Lo, Hi]. Non-finite bounds encode as JSON
// null and decode as NaN.
type Interval struct {
	Lo float64
	Hi float64
}

// Contains reports whether x lies in [Lo, Hi].
func (iv Interval) Contains(x float64) bool { return iv.Lo <= x && x <= iv.Hi }

// Excludes reports whether both bounds are finite and x lies outside the
// interval.
func (iv Interval) Excludes(x float64) bool {
	return finite(iv.Lo) && finite(iv.Hi) && !iv.Contains(x)
}

type intervalJSON struct {
	Lo jsonFloat `json:"lo"`
	Hi jsonFloat `json:"hi"`
}

// MarshalJSON encodes {"lo": ..., "hi": ...}.
func (iv Interval) MarshalJSON() ([]byte, error) {
	return json.Marshal(intervalJSON{jsonFloat(iv.Lo), jsonFloat(iv.Hi)})
}

// UnmarshalJSON decodes {"lo": ..., "hi": ...}.
func (iv *Interval) UnmarshalJSON(b []byte) error {
	var j intervalJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*iv = Interval{float64(j.Lo), float64(j.Hi)}
	return nil
}

// jsonFloat encodes NaN and ±Inf as JSON null, which encoding/json refuses
// to do for float64, and decodes null as NaN.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if !finite(float64(f)) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(f), 'g', -1, 64), nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*f = jsonFloat(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// CompareOptions configures CompareWith. The zero value of every field
// except Kind means its default.
type CompareOptions struct {
	// Kind is the metric's kind. Required.
	Kind Kind
	// Level is the two-sided confidence level, in (0, 1). 0 means
	// DefaultLevel (0.95).
	Level float64
	// Tuning is the confidence sequence's tuning parameter N*: the total
	// sample size (both arms) at which the sequence is narrowest. 0 means
	// DefaultTuning (5,000, GrowthBook's default). See Sequence.
	Tuning float64
	// LowerIsBetter flips ChanceToBeat and ExpectedLoss for metrics such as
	// churn or cost, where a decrease is the good direction (gbstats
	// "inverse" metrics). Lifts and intervals are always treatment minus
	// control.
	LowerIsBetter bool
}

// Comparison is the result of comparing a treatment arm with the control arm
// on one metric. Fields that are undefined for the data are NaN. Examples:
// every statistic when an arm is empty, or the relative lift when the
// control mean is 0. Non-finite values encode as JSON null and decode as NaN.
type Comparison struct {
	Kind  Kind
	Level float64

	// Treatment and Control are the arm means. For Binary they are rates;
	// for NPS they are Net Promoter Scores on the -100..100 scale.
	Treatment, Control float64
	// NTreatment and NControl are the arm sizes (respondents, for NPS).
	NTreatment, NControl int

	// AbsLift is Treatment − Control. AbsCI is Newcombe's hybrid score
	// interval for Binary and Welch's interval otherwise.
	AbsLift float64
	AbsCI   Interval
	// SE is the unpooled standard error of AbsLift, sqrt(s²_T/n_T + s²_C/n_C).
	SE float64
	// DF is the Welch–Satterthwaite degrees of freedom, or +Inf for the
	// normal (z) test used for Binary.
	DF float64

	// RelLift is (Treatment − Control)/|Control|; RelCI is its delta-method
	// interval. For Binary and Count, RelCI's lower end is cut at −1 (−100%),
	// because a rate or count cannot fall below 0.
	RelLift float64
	RelCI   Interval

	// PValue is the two-sided fixed-horizon p-value: an unpooled z test for
	// Binary and Welch's t test otherwise. It is valid only if the data are
	// looked at once, at the planned sample size.
	PValue float64
	// Significant is PValue < 1 − Level.
	Significant bool

	// ChanceToBeat is the posterior probability that the treatment is better
	// than the control (flat prior, normal approximation). ExpectedLoss is
	// the expected shortfall, in the metric's units, of shipping the
	// treatment if it is in fact worse. See ChanceToBeat and ExpectedLoss.
	ChanceToBeat float64
	ExpectedLoss float64

	// SeqCI is the always-valid confidence sequence for AbsLift, and
	// SeqPValue the matching always-valid p-value: they may be read after
	// every day of data. SeqSignificant is SeqCI excluding 0. SeqCI is
	// intersected with the possible range of the lift: [−1, 1] for Binary,
	// [−200, 200] for NPS. The running minimum of SeqPValue
	// over looks is itself always valid, and is what the engine should
	// show. See Sequence.
	SeqCI          Interval
	SeqPValue      float64
	SeqSignificant bool
}

type comparisonJSON struct {
	Kind           Kind      `json:"kind"`
	Level          jsonFloat `json:"level"`
	Treatment      jsonFloat `json:"treatment"`
	Control        jsonFloat `json:"control"`
	NTreatment     int       `json:"n_treatment"`
	NControl       int       `json:"n_control"`
	AbsLift        jsonFloat `json:"abs_lift"`
	AbsCI          Interval  `json:"abs_ci"`
	SE             jsonFloat `json:"se"`
	DF             jsonFloat `json:"df"`
	RelLift        jsonFloat `json:"rel_lift"`
	RelCI          Interval  `json:"rel_ci"`
	PValue         jsonFloat `json:"p_value"`
	Significant    bool      `json:"significant"`
	ChanceToBeat   jsonFloat `json:"chance_to_beat"`
	ExpectedLoss   jsonFloat `json:"expected_loss"`
	SeqCI          Interval  `json:"seq_ci"`
	SeqPValue      jsonFloat `json:"seq_p_value"`
	SeqSignificant bool      `json:"seq_significant"`
}

// MarshalJSON encodes the comparison with snake_case keys, writing
// non-finite numbers as null.
func (c Comparison) MarshalJSON() ([]byte, error) {
	return json.Marshal(comparisonJSON{
		Kind: c.Kind, Level: jsonFloat(c.Level),
		Treatment: jsonFloat(c.Treatment), Control: jsonFloat(c.Control),
		NTreatment: c.NTreatment, NControl: c.NControl,
		AbsLift: jsonFloat(c.AbsLift), AbsCI: c.AbsCI,
		SE: jsonFloat(c.SE), DF: jsonFloat(c.DF),
		RelLift: jsonFloat(c.RelLift), RelCI: c.RelCI,
		PValue: jsonFloat(c.PValue), Significant: c.Significant,
		ChanceToBeat: jsonFloat(c.ChanceToBeat), ExpectedLoss: jsonFloat(c.ExpectedLoss),
		SeqCI: c.SeqCI, SeqPValue: jsonFloat(c.SeqPValue), SeqSignificant: c.SeqSignificant,
	})
}

// UnmarshalJSON decodes what MarshalJSON writes. A null decodes as NaN, so
// DF = +Inf comes back as NaN.
func (c *Comparison) UnmarshalJSON(b []byte) error {
	var j comparisonJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Comparison{
		Kind: j.Kind, Level: float64(j.Level),
		Treatment: float64(j.Treatment), Control: float64(j.Control),
		NTreatment: j.NTreatment, NControl: j.NControl,
		AbsLift: float64(j.AbsLift), AbsCI: j.AbsCI,
		SE: float64(j.SE), DF: float64(j.DF),
		RelLift: float64(j.RelLift), RelCI: j.RelCI,
		PValue: float64(j.PValue), Significant: j.Significant,
		ChanceToBeat: float64(j.ChanceToBeat), ExpectedLoss: float64(j.ExpectedLoss),
		SeqCI: j.SeqCI, SeqPValue: float64(j.SeqPValue), SeqSignificant: j.SeqSignificant,
	}
	return nil
}

// Compare compares a treatment arm with the control arm on a metric of the
// given kind, two-sided at the given level (0 means 0.95). It uses the
// default confidence-sequence tuning and treats higher values as better. See
// CompareWith for the other options and Comparison for what is computed.
func Compare(treatment, control Summary, kind Kind, level float64) Comparison {
	return CompareWith(treatment, control, CompareOptions{Kind: kind, Level: level})
}

// CompareWith compares a treatment arm with the control arm.
//
// Binary metrics (Kind Binary) use:
//
//   - per-customer variance p(1−p);
//   - SE = sqrt(p_T(1−p_T)/n_T + p_C(1−p_C)/n_C);
//   - z = (p_T − p_C)/SE, p = 2(1 − Φ(|z|)), the unpooled two-proportion z
//     test (it matches the unpooled variance of the interval);
//   - AbsCI from Newcombe's hybrid score interval (Newcombe 1998b).
//
// Mean, Count and NPS metrics use Welch's t test and interval (see Welch).
//
// Both families then get the relative lift (RelativeLift), ChanceToBeat,
// ExpectedLoss and the confidence sequence (Sequence), all on SE.
//
// For Binary, AbsCI (Newcombe) and PValue (z) are different procedures. At
// the sample sizes of marketing experiments they agree. Near the 5% boundary
// on small arms they can disagree: Significant follows PValue.
//
// CompareWith panics on programmer error: opts.Kind not a valid Kind,
// opts.Level outside [0, 1), or opts.Tuning negative or not finite.
// Analyze validates user input before it gets here.
func CompareWith(treatment, control Summary, opts CompareOptions) Comparison {
	lv := resolveLevel(opts.Level)
	nan := math.NaN()
	r := Comparison{
		Kind: opts.Kind, Level: lv,
		Treatment: treatment.Mean(), Control: control.Mean(),
		NTreatment: treatment.N, NControl: control.N,
		AbsLift: nan, AbsCI: Interval{nan, nan}, SE: nan, DF: nan,
		RelLift: nan, RelCI: Interval{nan, nan}, PValue: nan,
		ChanceToBeat: nan, ExpectedLoss: nan,
		SeqCI: Interval{nan, nan}, SeqPValue: nan,
	}
	var varT, varC, df float64 // per-customer variances and degrees of freedom
	switch opts.Kind {
	case Binary:
		if !binaryOK(treatment) || !binaryOK(control) {
			return r
		}
		varT = r.Treatment * (1 - r.Treatment)
		varC = r.Control * (1 - r.Control)
		df = math.Inf(1)
	case Mean, Count, NPS:
		if treatment.N < 2 || control.N < 2 {
			return r
		}
		varT, varC = treatment.Variance(), control.Variance()
		df = welchDF(varT, treatment.N, varC, control.N)
	default:
		panic(fmt.Sprintf("experiments: invalid metric kind %d", opts.Kind))
	}
	if !finite(r.Treatment) || !finite(r.Control) || !finite(varT) || !finite(varC) {
		return r
	}
	nT, nC := float64(treatment.N), float64(control.N)
	vmT, vmC := varT/nT, varC/nC // variances of the two means
	diff := r.Treatment - r.Control
	se := math.Sqrt(vmT + vmC)
	r.AbsLift, r.SE, r.DF = diff, se, df
	crit := tCrit(lv, df)

	if se == 0 {
		// Both arms constant: the difference is known exactly.
		r.PValue = 1
		if diff != 0 {
			r.PValue = 0
		}
		r.AbsCI = Interval{diff, diff}
	} else {
		r.PValue = tTwoSidedP(diff/se, df)
		r.AbsCI = Interval{diff - crit*se, diff + crit*se}
	}
	if opts.Kind == Binary {
		r.AbsCI = newcombe(r.Treatment, nT, r.Control, nC, zCrit(lv))
	}
	r.Significant = r.PValue < 1-lv

	if rel, relSE := RelativeLift(r.Treatment, vmT, r.Control, vmC); finite(rel) && finite(relSE) {
		r.RelLift = rel
		r.RelCI = Interval{rel - crit*relSE, rel + crit*relSE}
		if relSE == 0 {
			r.RelCI = Interval{rel, rel}
		}
		if opts.Kind == Binary || opts.Kind == Count {
			// A rate or count is ≥ 0, so the lift over a positive control
			// is ≥ −100%. Cutting the interval at −1 only drops impossible
			// values, so its coverage is unchanged.
			r.RelCI.Lo = math.Max(r.RelCI.Lo, -1)
		}
	}

	good := diff // the difference in the "better" direction
	if opts.LowerIsBetter {
		good = -diff
	}
	r.ChanceToBeat = ChanceToBeat(good, se)
	r.ExpectedLoss = ExpectedLoss(good, se)

	seq := Sequence{Level: lv, Tuning: opts.Tuning}
	hw := seq.HalfWidth(se, treatment.N+control.N)
	r.SeqCI = Interval{diff - hw, diff + hw}
	// A difference of rates lies in [−1, 1] and of NPS in [−200, 200].
	// Intersecting with that range only drops impossible values, so
	// coverage is kept. Early in an experiment the sequence is otherwise
	// wider than the range.
	switch opts.Kind {
	case Binary:
		r.SeqCI = Interval{math.Max(r.SeqCI.Lo, -1), math.Min(r.SeqCI.Hi, 1)}
	case NPS:
		r.SeqCI = Interval{math.Max(r.SeqCI.Lo, -200), math.Min(r.SeqCI.Hi, 200)}
	}
	r.SeqPValue = seq.PValue(diff, se, treatment.N+control.N)
	r.SeqSignificant = r.SeqCI.Excludes(0)
	return r
}

// binaryOK reports whether s can be a Binary summary: at least one customer
// and 0 ≤ successes ≤ n.
func binaryOK(s Summary) bool {
	return s.N > 0 && s.Sum >= 0 && s.Sum <= float64(s.N)
}
