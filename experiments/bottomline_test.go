package experiments

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestBottomLine(t *testing.T) {
	// cmp is a net-value comparison per customer with the given lift and always-valid
	// interval; 500 customers an arm and a non-zero standard error, so that it is data.
	cmp := func(lift, lo, hi float64) Comparison {
		return Comparison{Kind: Mean, Level: 0.95, NTreatment: 500, NControl: 500, AbsLift: lift, SE: 1, SeqCI: Interval{lo, hi}}
	}
	legacy := func(d Comparison, customers int64) NetValue {
		return NetValue{Arm: "NBA", Reference: "the legacy campaigns", Diff: d, Customers: customers, Currency: "EUR"}
	}
	stopped := legacy(cmp(1.1, -0.8, 3.0), 9091)
	stopped.Stopped = true
	bare := legacy(cmp(4.1, 1.2, 7.0), 9091)
	bare.Currency = ""
	level90 := legacy(cmp(4.1, 1.2, 7.0), 9091)
	level90.Diff.Level = 0.9
	for _, tc := range []struct {
		name string
		in   NetValue
		want Finding
		text string
	}{
		// Totals: 4.1 × 9,091 = 37,273.1; 2.3 × 9,091 = 20,909.3; 1.1 × 9,091 = 10,000.1.
		{"creating", legacy(cmp(4.1, 1.2, 7.0), 9091), FindingCreating,
			"NBA is creating value: EUR 4.10 a customer more than the legacy campaigns (always-valid 95% CI 1.20 to 7.00), EUR 37,273 over its 9,091 customers."},
		{"losing: magnitudes, the interval's ends negated and swapped", legacy(cmp(-2.3, -4.1, -0.5), 9091), FindingLosing,
			"NBA is losing money against the legacy campaigns: EUR 2.30 a customer less (always-valid 95% CI 0.50 to 4.10), EUR 20,909 over its 9,091 customers."},
		{"pending, more", legacy(cmp(1.1, -0.8, 3.0), 9091), FindingPending,
			"Not yet conclusive: so far NBA makes EUR 1.10 a customer more than the legacy campaigns (always-valid 95% CI −0.80 to 3.00), EUR 10,000 over its 9,091 customers."},
		{"pending, less", legacy(cmp(-1.1, -3.0, 0.8), 9091), FindingPending,
			"Not yet conclusive: so far NBA makes EUR 1.10 a customer less than the legacy campaigns (always-valid 95% CI −0.80 to 3.00), EUR 10,000 over its 9,091 customers."},
		{"stopped before conclusive", stopped, FindingInconclusive,
			"No conclusive difference: when the experiment stopped, NBA made EUR 1.10 a customer more than the legacy campaigns (always-valid 95% CI −0.80 to 3.00), EUR 10,000 over its 9,091 customers."},
		{"whole units from 100, one customer", legacy(cmp(150, 120, 180), 1), FindingCreating,
			"NBA is creating value: EUR 150 a customer more than the legacy campaigns (always-valid 95% CI 120 to 180), EUR 150 over its 1 customer."},
		{"no currency", bare, FindingCreating,
			"NBA is creating value: 4.10 a customer more than the legacy campaigns (always-valid 95% CI 1.20 to 7.00), 37,273 over its 9,091 customers."},
		{"another level", level90, FindingCreating,
			"NBA is creating value: EUR 4.10 a customer more than the legacy campaigns (always-valid 90% CI 1.20 to 7.00), EUR 37,273 over its 9,091 customers."},
		{"an empty arm", legacy(Comparison{AbsLift: math.NaN(), SeqCI: Interval{math.NaN(), math.NaN()}}, 0), FindingNone,
			"No net value to compare yet between NBA and the legacy campaigns: it needs customers in both arms, and accepted offers, costs or objective outcomes recorded."},
		{"no money recorded", legacy(Comparison{Kind: Mean, NTreatment: 500, NControl: 500}, 500), FindingNone,
			"No net value to compare yet between NBA and the legacy campaigns: it needs customers in both arms, and accepted offers, costs or objective outcomes recorded."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := BottomLine(tc.in)
			if s.Finding != tc.want || s.String() != tc.text {
				t.Errorf("got %s %q\nwant %s %q", s.Finding, s.String(), tc.want, tc.text)
			}
			checkFigures(t, s, tc.in)
		})
	}
}

// checkFigures holds every figure to its source: Value is the field Source names, and
// Text is Value × Scale rounded to the decimals it shows.
func checkFigures(t *testing.T, s Statement, in NetValue) {
	t.Helper()
	for _, p := range s.Parts {
		f := p.Figure
		if f == nil {
			continue
		}
		want := map[string]float64{FigureLift: in.Diff.AbsLift, FigureSeqLo: in.Diff.SeqCI.Lo, FigureSeqHi: in.Diff.SeqCI.Hi, FigureCustomers: float64(in.Customers)}[f.Source]
		if f.Value != want {
			t.Errorf("figure %q: value %v, its source holds %v", f.Source, f.Value, want)
		}
		num := strings.NewReplacer("EUR ", "", ",", "", "−", "-").Replace(f.Text)
		shown, err := strconv.ParseFloat(num, 64)
		if err != nil {
			t.Errorf("figure %q text %q: %v", f.Source, f.Text, err)
			continue
		}
		decimals := 0
		if _, frac, ok := strings.Cut(num, "."); ok {
			decimals = len(frac)
		}
		if math.Abs(shown-f.Value*f.Scale) > 0.5*math.Pow(10, -float64(decimals))+1e-9 {
			t.Errorf("figure %q: text %q, but value %v × scale %v = %v", f.Source, f.Text, f.Value, f.Scale, f.Value*f.Scale)
		}
	}
}

// TestBottomLineFromSummaries words a comparison the package computes: 400 customers an
// arm, net values per customer of mean 6 and 2 with standard deviation 4 (sums and sums of
// squares by hand: Σy = 400·mean, Σy² = 400·(sd²·399/400 + mean²)). The lift is 4, its
// standard error √(16/400 + 16/400) = 0.283, and the always-valid interval at N* = 5,000
// is far from zero: creating value, 4 × 400 = 1,600 in total.
func TestBottomLineFromSummaries(t *testing.T) {
	sum := func(mean, sd float64) Summary {
		return Summary{N: 400, Sum: 400 * mean, SumSq: 399*sd*sd + 400*mean*mean}
	}
	d := CompareWith(sum(6, 4), sum(2, 4), CompareOptions{Kind: Mean})
	s := BottomLine(NetValue{Arm: "NBA", Reference: "the holdout", Diff: d, Customers: 400, Currency: "EUR"})
	if s.Finding != FindingCreating || !strings.HasPrefix(s.String(), "NBA is creating value: EUR 4.00 a customer more than the holdout (always-valid 95% CI ") ||
		!strings.HasSuffix(s.String(), "), EUR 1,600 over its 400 customers.") {
		t.Errorf("%s: %q", s.Finding, s)
	}
	checkFigures(t, s, NetValue{Diff: d, Customers: 400})
}
