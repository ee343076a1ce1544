package dashboards

import (
	"encoding/xml"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi   float64
		ticks    []float64
		dlo, dhi float64
	}{
		{0, 1, []float64{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}, 0, 1},
		{-7.3, 2.1, []float64{-8, -6, -4, -2, 0, 2, 4}, -8, 4},
		{3, 3, []float64{2.6, 2.8000000000000003, 3, 3.2, 3.4000000000000004}, 2.6, 3.4000000000000004},
		{0, 980, []float64{0, 200, 400, 600, 800, 1000}, 0, 1000},
	} {
		ticks, dlo, dhi := niceTicks(tc.lo, tc.hi, 5)
		if len(ticks) != len(tc.ticks) || math.Abs(dlo-tc.dlo) > 1e-9 || math.Abs(dhi-tc.dhi) > 1e-9 {
			t.Errorf("niceTicks(%g, %g) = %v [%g, %g], want %v [%g, %g]", tc.lo, tc.hi, ticks, dlo, dhi, tc.ticks, tc.dlo, tc.dhi)
			continue
		}
		for i := range ticks {
			if math.Abs(ticks[i]-tc.ticks[i]) > 1e-9 {
				t.Errorf("niceTicks(%g, %g) tick %d = %g, want %g", tc.lo, tc.hi, i, ticks[i], tc.ticks[i])
			}
		}
	}
}

// svgs returns the SVG drawings in a chart's HTML, checking that each is well-formed.
func svgs(t *testing.T, html string) []string {
	t.Helper()
	out := regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(html, -1)
	if len(out) != 2 {
		t.Fatalf("want a wide and a narrow drawing, got %d", len(out))
	}
	for _, s := range out {
		var v struct {
			Title string `xml:"title"`
			Desc  string `xml:"desc"`
		}
		if err := xml.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, s)
		}
		if v.Title == "" || v.Desc == "" || !strings.Contains(s, `role="img"`) {
			t.Errorf("drawing lacks its title, description or role: %.200s", s)
		}
	}
	return out
}

func TestLineChart(t *testing.T) {
	nan := math.NaN()
	c := LineChart{Title: "Churn <difference> & band", Desc: "desc", Zero: true,
		XTicks: []Tick{{0, "2 Mar"}, {1, "3 Mar"}, {2, "4 Mar"}, {3, "5 Mar"}},
		Lines:  []Line{{Class: "s0", Points: []Point{{0, -1}, {1, nan}, {2, -2}, {3, -3}}}},
		Bands:  []Band{{Class: "band0", Points: []BandPoint{{0, -2, 0.5}, {1, nan, nan}, {2, -3, -1}, {3, -4, -2}}}},
	}
	out := svgs(t, string(c.SVG()))
	wide := out[0]
	if !strings.Contains(wide, "Churn &lt;difference&gt; &amp; band") {
		t.Error("the title is not escaped")
	}
	// The gap at x = 1 splits the line in two paths (the second with two points) and
	// leaves the first day of the band as a bar.
	if n := strings.Count(wide, `class="line s0"`); n != 1 {
		t.Errorf("%d line paths, want 1 (the other segment is a single point)", n)
	}
	if !strings.Contains(wide, `class="band0 bar"`) || strings.Count(wide, `<path class="band0"`) != 1 {
		t.Error("the band's gap is not drawn as a bar and one area")
	}
	if !strings.Contains(wide, `class="zero"`) {
		t.Error("no zero line")
	}
	for _, bad := range []string{"NaN", "Inf"} {
		if strings.Contains(wide, bad) {
			t.Errorf("drawing contains %s", bad)
		}
	}
	empty := svgs(t, string(LineChart{Title: "Empty", Desc: "nothing"}.SVG()))
	if !strings.Contains(empty[0], "No data yet") {
		t.Error("an empty chart does not say so")
	}
}

func TestWhiskerChart(t *testing.T) {
	c := WhiskerChart{Title: "Weights", Desc: "d", Rows: []Whisker{
		{Label: "context.page=billing", Mean: -1.5, Lo: -2.5, Hi: -0.5},
		{Label: "a very long feature name that must be cut short", Mean: 0.3, Lo: -0.1, Hi: 0.7, Positive: true},
	}}
	out := svgs(t, string(c.SVG()))
	if !strings.Contains(out[0], "…") || !strings.Contains(out[0], "<title>a very long feature name that must be cut short</title>") {
		t.Error("a long label is not cut, with its full text as a tooltip")
	}
	if strings.Count(out[0], `class="dot s0"`) != 1 || strings.Count(out[0], `class="dot s1"`) != 1 {
		t.Error("positive and negative weights are not told apart")
	}
	if !strings.Contains(svgs(t, string(WhiskerChart{Title: "None", Desc: "d"}.SVG()))[0], "No weights learnt yet") {
		t.Error("an empty weight chart does not say so")
	}
}

// TestLineChartYLimit: an NPS difference whose always-valid band reaches ±200 (a few
// answers) is drawn on an axis within ±100; the axis still fits data inside the limit.
func TestLineChartYLimit(t *testing.T) {
	tickRE := regexp.MustCompile(`text-anchor="end" dominant-baseline="middle">([^<]+)</text>`)
	pathRE := regexp.MustCompile(`[ML](-?[0-9.]+),(-?[0-9.]+)`)
	for _, tc := range []struct {
		name           string
		lo, hi         float64 // the band's ends
		wantLo, wantHi float64 // the axis's ends
	}{
		{"beyond the limit", -200, 200, -100, 100},
		{"inside it: fitted to the data", -12, 8, -15, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := LineChart{Title: "NPS", Desc: "d", Zero: true, YLimit: [2]float64{-100, 100},
				Lines: []Line{{Class: "s0", Points: []Point{{0, -3}, {1, -2}, {2, -1}}}},
				Bands: []Band{{Class: "band0", Points: []BandPoint{{0, tc.lo, tc.hi}, {1, tc.lo / 2, tc.hi / 2}, {2, tc.lo / 4, tc.hi / 4}}}}}
			for _, s := range svgs(t, string(c.SVG())) {
				var ticks []float64
				for _, m := range tickRE.FindAllStringSubmatch(s, -1) {
					v, err := strconv.ParseFloat(strings.NewReplacer("−", "-").Replace(m[1]), 64)
					if err != nil {
						t.Fatal(err)
					}
					ticks = append(ticks, v)
				}
				if len(ticks) == 0 || ticks[0] != tc.wantLo || ticks[len(ticks)-1] != tc.wantHi {
					t.Errorf("y ticks %v, want from %g to %g", ticks, tc.wantLo, tc.wantHi)
				}
				// Every drawn point stays inside the drawing (values beyond the limit are
				// drawn at its edge).
				h := 250.0 // chartH
				for _, m := range pathRE.FindAllStringSubmatch(s, -1) {
					if y, _ := strconv.ParseFloat(m[2], 64); y < 0 || y > h {
						t.Errorf("a point drawn at y = %g, outside the drawing", y)
					}
				}
			}
		})
	}
}
