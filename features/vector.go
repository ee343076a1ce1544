package features

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
// the entries were pushed in. It allocates nothing: insertion sort for short tails,
// heapsort for long ones.
func (v *Vector) sortTail(from int) {
	idx, val := v.Index[from:], v.Value[from:]
	n := len(idx)
	if n < 2 {
		if n == 1 && val[0] == 0 {
			v.Index, v.Value = v.Index[:from], v.Value[:from]
		}
		return
	}
	if n <= 24 {
		for i := 1; i < n; i++ {
			for j := i; j > 0 && less(idx, val, j, j-1); j-- {
				idx[j], idx[j-1] = idx[j-1], idx[j]
				val[j], val[j-1] = val[j-1], val[j]
			}
		}
	} else {
		heapSort(idx, val)
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
