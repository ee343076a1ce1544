package experiments

import (
	"fmt"
	"math"
	"sort"

	"github.com/cespare/xxhash/v2"
)

// Policy is what an arm does to its customers.
type Policy string

// The three policies of a nextbest experiment.
const (
	// PolicyNBA serves the Next-Best-Action engine's decisions.
	PolicyNBA Policy = "nba"
	// PolicyLegacy serves the legacy segment/rule campaigns.
	PolicyLegacy Policy = "legacy"
	// PolicyNone is the no-contact holdout. It is still measured, because
	// the analysis is intent-to-treat over every assigned customer.
	PolicyNone Policy = "none"
)

// Valid reports whether p is one of the three policies.
func (p Policy) Valid() bool {
	return p == PolicyNBA || p == PolicyLegacy || p == PolicyNone
}

// Arm is one arm of an experiment.
type Arm struct {
	Name   string  `json:"name" yaml:"name"`
	Policy Policy  `json:"policy" yaml:"policy"`
	Weight float64 `json:"weight" yaml:"weight"` // share of customers, in [0, 1]
}

// Buckets is the number of hash buckets. It is 10,000, as in GrowthBook,
// Statsig and Eppo, so a weight is honoured to 0.01%.
const Buckets = 10000

// WeightTolerance is how far the arm weights may sum from 1. Weights are not
// normalised. A sum of 1.2 is almost always a typo, and silently scaling it
// would change the design that the SRM check tests against. 1e-9 absorbs
// decimal rounding such as 0.45 + 0.45 + 0.1.
const WeightTolerance = 1e-9

// Bucket returns the customer's bucket in [0, Buckets):
//
//	Bucket = xxHash64(seed 0, salt ‖ ":" ‖ customerID) mod 10000
//
// Here ‖ is byte concatenation of the UTF-8 strings. There is no length
// prefix, so salts should not contain ':'. The salt is per experiment, and
// per phase when an experiment is restarted. A new salt re-randomises, which
// avoids carry-over bias (GrowthBook docs/kb/experiments/carryover-bias.mdx).
// xxHash64 is github.com/cespare/xxhash/v2. Taking it mod 10000 favours the
// buckets below 2⁶⁴ mod 10000 = 1616 by one part in 1.8·10¹⁵, which is
// negligible.
//
// Other platforms hash the same way with other functions. GrowthBook uses
// FNV-1a 32-bit hashed twice, mod 10000. Statsig uses SHA-256 mod 10000.
// Eppo uses the first 4 bytes of MD5, mod 10000. Changing this function
// would move customers who have no sticky record yet, so its output is
// pinned by tests.
func Bucket(salt, customerID string) int {
	var buf [128]byte // room for the usual salt and ID, hashed without allocating
	var h uint64
	if len(salt)+1+len(customerID) <= len(buf) {
		b := append(buf[:0], salt...)
		b = append(b, ':')
		b = append(b, customerID...)
		h = xxhash.Sum64(b)
	} else {
		var d xxhash.Digest
		d.Reset()
		_, _ = d.WriteString(salt)
		_, _ = d.WriteString(":")
		_, _ = d.WriteString(customerID)
		h = d.Sum64()
	}
	return int(h % Buckets)
}

// Range gives the buckets [Start, End) to an arm.
type Range struct {
	Arm   string `json:"arm"`
	Start int    `json:"start"` // first bucket, inclusive
	End   int    `json:"end"`   // last bucket, exclusive
}

// Allocate lays the arms out over the buckets as contiguous ranges, in arm
// order, starting at bucket 0. Arm i gets round(wᵢ·Buckets) buckets, by the
// largest-remainder method, so the counts sum to Buckets exactly. An arm
// with weight 0 gets no range.
//
// Allocate returns an error wrapping ErrInvalidConfig for: no arms, an
// empty or duplicate name, an unknown policy, a negative or non-finite
// weight, or weights that do not sum to 1 within WeightTolerance.
//
// For a running experiment, use Reallocate instead: it keeps as many
// buckets in place as possible.
func Allocate(arms []Arm) ([]Range, error) {
	counts, err := bucketCounts(arms)
	if err != nil {
		return nil, err
	}
	ranges := make([]Range, 0, len(arms))
	start := 0
	for i, a := range arms {
		if counts[i] == 0 {
			continue
		}
		ranges = append(ranges, Range{Arm: a.Name, Start: start, End: start + counts[i]})
		start += counts[i]
	}
	return ranges, nil
}

// Assign returns the arm whose range holds bucket. It returns false if no
// range does, which cannot happen for the output of Allocate or Reallocate
// and a bucket in [0, Buckets).
func Assign(ranges []Range, bucket int) (arm string, ok bool) {
	for _, r := range ranges {
		if bucket >= r.Start && bucket < r.End {
			return r.Arm, true
		}
	}
	return "", false
}

// Reallocate changes the weights of a running experiment. It returns ranges
// for the new arms that leave as many buckets as possible with their
// current arm. Exactly Σᵢ max(0, oldᵢ − newᵢ) buckets change arm, where oldᵢ
// and newᵢ are arm i's bucket counts before and after. No layout can do
// better, because an arm that shrinks must give up that many buckets. This
// is half the L1 distance between the two allocations. For example, going
// from 40/40/20 to 20/40/40 moves 20% of the buckets; Allocate's fresh
// contiguous layout would move 40%.
//
// The layout grows and shrinks ranges in place. Each arm keeps its lowest
// buckets, up to its new count. The buckets it gives up go, in ascending
// order, to the arms that grow, in arm order. Arms in current that are
// missing from arms get weight 0. Arms new to arms take freed buckets. An
// arm may therefore end up with more than one range. GrowthBook also lays
// arms out as bucket ranges (getBucketRanges), but only its coverage can
// grow in place. For weight changes it relies on sticky bucketing.
//
// Stickiness of customers who have already been assigned comes from the
// engine's persisted first assignment, not from this function. Reallocate
// only decides where customers seen for the first time land. It minimises
// the damage when sticky records are missing. A weight change still makes
// the arms' populations depend on arrival time: customers arriving after
// the change fill the growing arms faster. Analyse by allocation period,
// or start a new phase with a new salt, when that matters (GrowthBook issue
// #6730).
//
// current must tile [0, Buckets) exactly, as the output of Allocate or
// Reallocate does. arms is validated as in Allocate. Errors wrap
// ErrInvalidConfig.
func Reallocate(current []Range, arms []Arm) ([]Range, error) {
	target, err := bucketCounts(arms)
	if err != nil {
		return nil, err
	}
	// Arm indices: the new arms first, then arms only in current (target 0).
	index := make(map[string]int, len(arms))
	names := make([]string, 0, len(arms))
	for i, a := range arms {
		index[a.Name] = i
		names = append(names, a.Name)
	}
	var owner [Buckets]int32
	for i := range owner {
		owner[i] = -1
	}
	for _, r := range current {
		if r.Arm == "" || r.Start < 0 || r.End > Buckets || r.Start >= r.End {
			return nil, fmt.Errorf("%w: range %q [%d, %d) is not a non-empty range of [0, %d)", ErrInvalidConfig, r.Arm, r.Start, r.End, Buckets)
		}
		id, ok := index[r.Arm]
		if !ok {
			id = len(names)
			index[r.Arm] = id
			names = append(names, r.Arm)
			target = append(target, 0)
		}
		for b := r.Start; b < r.End; b++ {
			if owner[b] != -1 {
				return nil, fmt.Errorf("%w: bucket %d is in two ranges (%q and %q)", ErrInvalidConfig, b, names[owner[b]], r.Arm)
			}
			owner[b] = int32(id)
		}
	}
	// Each arm keeps its lowest buckets up to its target; the rest are freed.
	kept := make([]int, len(names))
	var free []int
	for b, id := range owner {
		switch {
		case id == -1:
			return nil, fmt.Errorf("%w: bucket %d is in no range", ErrInvalidConfig, b)
		case kept[id] < target[id]:
			kept[id]++
		default:
			free = append(free, b)
		}
	}
	// Growing arms take freed buckets in ascending order, in arm order.
	next := 0
	for id := range arms {
		for ; kept[id] < target[id]; kept[id]++ {
			owner[free[next]] = int32(id)
			next++
		}
	}
	var out []Range
	for b := 0; b < Buckets; {
		e := b + 1
		for e < Buckets && owner[e] == owner[b] {
			e++
		}
		out = append(out, Range{Arm: names[owner[b]], Start: b, End: e})
		b = e
	}
	return out, nil
}

// bucketCounts validates arms and returns each arm's number of buckets by
// the largest-remainder (Hamilton) method: ⌊wᵢ·Buckets⌋, plus one bucket for
// each of the arms with the largest fractional parts until the counts sum
// to Buckets. Ties go to the earlier arm.
func bucketCounts(arms []Arm) ([]int, error) {
	if len(arms) == 0 {
		return nil, fmt.Errorf("%w: no arms", ErrInvalidConfig)
	}
	seen := make(map[string]bool, len(arms))
	sum := 0.0
	for _, a := range arms {
		switch {
		case a.Name == "":
			return nil, fmt.Errorf("%w: arm with an empty name", ErrInvalidConfig)
		case seen[a.Name]:
			return nil, fmt.Errorf("%w: duplicate arm name %q", ErrInvalidConfig, a.Name)
		case !a.Policy.Valid():
			return nil, fmt.Errorf("%w: arm %q: unknown policy %q (want nba, legacy or none)", ErrInvalidConfig, a.Name, a.Policy)
		case !finite(a.Weight) || a.Weight < 0:
			return nil, fmt.Errorf("%w: arm %q: weight %v is not a non-negative number", ErrInvalidConfig, a.Name, a.Weight)
		}
		seen[a.Name] = true
		sum += a.Weight
	}
	if math.Abs(sum-1) > WeightTolerance {
		return nil, fmt.Errorf("%w: arm weights sum to %v, want 1", ErrInvalidConfig, sum)
	}
	counts := make([]int, len(arms))
	rem := make([]float64, len(arms))
	order := make([]int, 0, len(arms))
	left := Buckets
	for i, a := range arms {
		q := a.Weight * Buckets
		counts[i] = int(math.Floor(q))
		rem[i] = q - float64(counts[i])
		left -= counts[i]
		if a.Weight > 0 {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return rem[order[a]] > rem[order[b]] })
	for j := 0; left > 0; j++ {
		counts[order[j%len(order)]]++
		left--
	}
	return counts, nil
}
