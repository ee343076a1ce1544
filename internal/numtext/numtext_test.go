package numtext

import (
	"math"
	"testing"
)

func TestNumtext(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{Fixed(-3.14159, 2), "−3.14"},
		{Fixed(-0.004, 2), "0.00"}, // rounds to zero: no sign
		{Fixed(2.5, 0), "2"},       // strconv rounds half to even
		{Group(1234567, 0), "1,234,567"},
		{Group(-1234.5, 2), "−1,234.50"},
		{Group(999.4, 0), "999"},
		{Group(-0.001, 1), "0.0"},
		{Signed("4.5%"), "+4.5%"},
		{Signed("−18%"), "−18%"},
		{Signed("0.00 pp"), "0.00 pp"},
		{Signed("1,234"), "+1,234"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	for _, tc := range []struct {
		x       float64
		d, want int
	}{{0.04, 1, 2}, {-0.04, 0, 1}, {0, 1, 1}, {0.1, 1, 1}, {12, 0, 0}} {
		if got := DecimalsFor(tc.x, tc.d); got != tc.want {
			t.Errorf("DecimalsFor(%g, %d) = %d, want %d", tc.x, tc.d, got, tc.want)
		}
	}
	if MoneyWhole(12.5, -99.9, math.Inf(1), math.NaN()) || !MoneyWhole(12.5, -100) {
		t.Error("MoneyWhole: want whole units once a finite amount is 100 or more")
	}
}
