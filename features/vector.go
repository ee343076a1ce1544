package features

import "math/bits"

// Vector is a sparse feature vector: Index is strictly increasing, every Index is below
// the encoder's Dim, Index[0] is 0 (the intercept) with Value[0] = 1, and Index and
// Value have the same length. Its layout is that of bandit.Vector, so
// bandit.Vector(v) converts it without copying.
type Vector struct {
	Index []int32   `json:"index"`
	Value []float64 `json:"value"`
}

// Reset empties v and keeps its capacity, so that encoding into it again allocates
// nothing.
func (v *Vector) Reset() {
	v.Index = v.Index[:0]
	v.Value = v.Value[:0]
}

// push appends (i, x) to v.
func (v *Vector) push(i int32, x float64) {
	v.Index = append(v.Index, i)
	v.Value = append(v.Value, x)
}

// sortTail sorts v's entries from position from onwards by (index, value) and sums
// entries with equal index, dropping sums that are exactly 0. Sorting by value within
// an index makes the summation order, and so the rounding, independent of the order
// the entries were pushed in. It allocates nothing: insertion sort, after a bucket
// pass that leaves it little to do for more than 32 and up to maxBucketSort entries
// (on 32 to 96 random entries a quarter to two fifths faster than heapsort), and
// heapsort for longer tails.
func (v *Vector) sortTail(from int) {
	idx, val := v.Index[from:], v.Value[from:]
	n := len(idx)
	if n < 2 {
		if n == 1 && val[0] == 0 {
			v.Index, v.Value = v.Index[:from], v.Value[:from]
		}
		return
	}
	switch {
	case n > maxBucketSort:
		heapSort(idx, val)
	case n > 32:
		bucketPass(idx, val)
		fallthrough
	default:
		insertionSort(idx, val)
	}
	w := 0
	for r := 0; r < n; {
		i, s := idx[r], val[r]
		for r++; r < n && idx[r] == i; r++ {
			s += val[r]
		}
		if s != 0 {
			idx[w], val[w] = i, s
			w++
		}
	}
	v.Index, v.Value = v.Index[:from+w], v.Value[:from+w]
}

// maxBucketSort is the longest tail that sortTail sorts with bucketPass: its buffers
// live on the stack.
const maxBucketSort = 256

// bucketPass distributes the n <= maxBucketSort entries into the at least n buckets
// of equal width that cover their indices, in bucket order, so that an insertion sort
// then moves each entry past about one other (Knuth, TAOCP vol. 3, 2nd ed., section
// 5.2.1, "address calculation sorting"). A bucket is the index's offset from the
// smallest shifted right, so that the largest lands in bucket 2^shift - 1 or lower.
func bucketPass(idx []int32, val []float64) {
	n := len(idx)
	lo, hi := idx[0], idx[0]
	for _, i := range idx[1:] {
		lo, hi = min(lo, i), max(hi, i)
	}
	shift := bits.Len(uint(n - 1)) // 2^shift >= n buckets
	down := max(bits.Len32(uint32(hi-lo))-shift, 0)
	var start [maxBucketSort + 1]int32 // bucket b fills from start[b]
	for _, i := range idx {
		start[uint32(i-lo)>>down+1]++
	}
	for b := 1; b <= 1<<shift; b++ {
		start[b] += start[b-1]
	}
	var ti [maxBucketSort]int32
	var tv [maxBucketSort]float64
	copy(ti[:n], idx)
	copy(tv[:n], val)
	for k, i := range ti[:n] {
		b := uint32(i-lo) >> down
		idx[start[b]], val[start[b]] = i, tv[k]
		start[b]++
	}
}

// insertionSort sorts idx and val together by (index, value).
func insertionSort(idx []int32, val []float64) {
	for k := 1; k < len(idx); k++ {
		i, x := idx[k], val[k]
		j := k
		for ; j > 0 && (idx[j-1] > i || idx[j-1] == i && val[j-1] > x); j-- {
			idx[j], val[j] = idx[j-1], val[j-1]
		}
		idx[j], val[j] = i, x
	}
}

func less(idx []int32, val []float64, a, b int) bool {
	return idx[a] < idx[b] || idx[a] == idx[b] && val[a] < val[b]
}

// heapSort sorts idx and val together by (index, value) (Williams 1964).
func heapSort(idx []int32, val []float64) {
	n := len(idx)
	for i := n/2 - 1; i >= 0; i-- {
		siftDown(idx, val, i, n)
	}
	for end := n - 1; end > 0; end-- {
		idx[0], idx[end] = idx[end], idx[0]
		val[0], val[end] = val[end], val[0]
		siftDown(idx, val, 0, end)
	}
}

func siftDown(idx []int32, val []float64, root, n int) {
	for {
		c := 2*root + 1
		if c >= n {
			return
		}
		if c+1 < n && less(idx, val, c, c+1) {
			c++
		}
		if !less(idx, val, root, c) {
			return
		}
		idx[root], idx[c] = idx[c], idx[root]
		val[root], val[c] = val[c], val[root]
		root = c
	}
}
