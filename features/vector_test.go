package features

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestVectorSortTailRandom checks sortTail against slices.SortFunc on random tails of
// every length up to 40 and around the switches between its three sorts (32,
// maxBucketSort), with indices from narrow ranges (many equal, some cancelling) and
// wide ones, and a prefix that must stay as it is.
func TestVectorSortTailRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	lengths := []int{32, 33, 100, maxBucketSort, maxBucketSort + 1, 700}
	for n := range 41 {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		for _, width := range []int{1, 8, n + 1, 1 << 12, 1 << 30} {
			type entry struct {
				i int32
				x float64
			}
			v := vec(0, 1, 2, 0.5)
			var ref []entry
			for range n {
				e := entry{int32(r.IntN(width)), 0.3 * float64(r.IntN(5)-2)} // some sums cancel, some round
				v.push(e.i, e.x)
				ref = append(ref, e)
			}
			v.sortTail(2)
			slices.SortFunc(ref, func(a, b entry) int {
				return cmp.Or(cmp.Compare(a.i, b.i), cmp.Compare(a.x, b.x))
			})
			want := vec(0, 1, 2, 0.5)
			for k := 0; k < len(ref); {
				e := ref[k]
				for k++; k < len(ref) && ref[k].i == e.i; k++ {
					e.x += ref[k].x
				}
				if e.x != 0 {
					want.push(e.i, e.x)
				}
			}
			if !slices.Equal(v.Index, want.Index) || !slices.Equal(v.Value, want.Value) {
				t.Fatalf("n %d, width %d:\ngot  %v\nwant %v", n, width, v, want)
			}
		}
	}
}
