package bandit

import (
	"fmt"
	"math"
)

// Vector is a sparse feature vector: Index is strictly increasing, every
// Index is below the model's Dim, and Value[k] is the value at Index[k]. It
// has the field layout of features.Vector, so callers convert with
// bandit.Vector(v).
//
// Models trust this contract on the hot paths: an Index out of range panics,
// and duplicate or unsorted indices give wrong answers. Check untrusted
// vectors with Validate.
type Vector struct {
	Index []int32
	Value []float64
}

// Validate checks the layout contract for dimension dim: equal lengths,
// strictly increasing indices in [0, dim), finite values. Errors wrap
// ErrInvalidVector.
func (v Vector) Validate(dim int) error {
	if len(v.Index) != len(v.Value) {
		return fmt.Errorf("%w: %d indices but %d values", ErrInvalidVector, len(v.Index), len(v.Value))
	}
	prev := int32(-1)
	for k, i := range v.Index {
		if i <= prev {
			return fmt.Errorf("%w: index %d at position %d is not above %d", ErrInvalidVector, i, k, prev)
		}
		if int(i) >= dim {
			return fmt.Errorf("%w: index %d at position %d is not below dim %d", ErrInvalidVector, i, k, dim)
		}
		if x := v.Value[k]; math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: value %v at index %d is not finite", ErrInvalidVector, x, i)
		}
		prev = i
	}
	return nil
}

// Len returns the number of stored entries.
func (v Vector) Len() int { return len(v.Index) }

// dot returns xᵀw for a dense w.
func (v Vector) dot(w []float64) float64 {
	val := v.Value[:len(v.Index)]
	var s float64
	for k, i := range v.Index {
		s += val[k] * w[i]
	}
	return s
}

// scatter writes a·x into the dense dst[k0:] (zeroing it first) and returns
// k0, the first stored index (len(dst) when x is empty). Entries of dst below
// k0 are left untouched: callers only read from k0 on.
func (v Vector) scatter(dst []float64, a float64) (k0 int) {
	k0 = len(dst)
	if len(v.Index) > 0 {
		k0 = int(v.Index[0])
	}
	clear(dst[k0:])
	val := v.Value[:len(v.Index)]
	for k, i := range v.Index {
		dst[i] = a * val[k]
	}
	return k0
}
