package dashboards

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/nextbest/nextbest/internal/numtext"
)

// The charts are SVG drawn here, so the pages need no JavaScript and no third-party code.
// Every chart has a <title> and <desc> for screen readers, and the page puts the numbers
// it draws in a table next to it. Colours come from the page's CSS classes (.s0, .s1,
// .band0, ...), so charts print and follow the page's palette.

const (
	chartW    = 560.0 // default width of the wide drawing, in user units (CSS px at scale 1)
	narrowW   = 380.0 // width of the drawing shown on phones
	chartH    = 250.0
	chartFont = 13.0
)

// responsive wraps a wide and a narrow drawing of the same chart: the page's CSS shows
// the narrow one on phones, so that the text stays legible at every width.
func responsive(wide, narrow string) template.HTML {
	return template.HTML(`<div class="chart-wide">` + wide + `</div><div class="chart-narrow">` + narrow + `</div>`)
}

// Point is one (x, y) of a line; NaN y leaves a gap.
type Point struct{ X, Y float64 }

// BandPoint is one x of a shaded interval; NaN ends leave a gap.
type BandPoint struct{ X, Lo, Hi float64 }

// Line is one series of a chart.
type Line struct {
	Class  string // CSS class: s0, s1, ... (colour), plus "dashed" or "thin"
	Points []Point
	Dots   bool
}

// Band is a shaded interval.
type Band struct {
	Class  string // band0, band1, ...
	Points []BandPoint
}

// Dot is a marker, for scatter plots.
type Dot struct {
	X, Y, R float64
	Class   string
	Title   string
}

// Tick is an axis label at a position.
type Tick struct {
	At    float64
	Label string
}

// LineChart is an x-y chart with lines, shaded bands and dots.
type LineChart struct {
	Title, Desc string
	XTicks      []Tick // labelled positions; empty: numeric ticks with XFormat
	XFormat     func(float64) string
	YFormat     func(float64) string
	XLabel      string
	YLabel      string
	Lines       []Line
	Bands       []Band
	Dots        []Dot
	Zero        bool       // emphasise y = 0
	Diagonal    bool       // draw y = x (calibration)
	XDomain     [2]float64 // fixed x domain when both differ
	YDomain     [2]float64 // fixed y domain when both differ
	// YLimit, when both differ, bounds the y domain that the data sets: the axis fits
	// the data but never goes beyond it, and values beyond are drawn at its edge (an NPS
	// difference's interval can reach ±200 early on, which would flatten everything).
	YLimit [2]float64
	Height float64 // viewBox height; 0 = default
	Width  float64 // viewBox width of the wide drawing; 0 = default
}

type frame struct {
	w, h                     float64
	left, right, top, bottom float64
	x0, x1, y0, y1           float64
	clampY                   bool // draw y values beyond [y0, y1] at the edge
}

func (f frame) x(v float64) float64 {
	if f.x1 == f.x0 {
		return (f.left + f.w - f.right) / 2
	}
	return f.left + (v-f.x0)/(f.x1-f.x0)*(f.w-f.left-f.right)
}

func (f frame) y(v float64) float64 {
	if f.y1 == f.y0 {
		return (f.top + f.h - f.bottom) / 2
	}
	if f.clampY {
		v = math.Min(math.Max(v, f.y0), f.y1)
	}
	return f.h - f.bottom - (v-f.y0)/(f.y1-f.y0)*(f.h-f.top-f.bottom)
}

// niceTicks returns about n round tick values covering [lo, hi] (steps of 1, 2 or 5
// times a power of ten) and the domain they span.
func niceTicks(lo, hi float64, n int) (ticks []float64, dlo, dhi float64) {
	if !finite(lo) || !finite(hi) {
		lo, hi = 0, 1
	}
	if lo == hi {
		pad := math.Max(math.Abs(lo)*0.1, 1e-3)
		lo, hi = lo-pad, hi+pad
	}
	raw := (hi - lo) / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	dlo, dhi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	for v := dlo; v <= dhi+step/2; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, v)
	}
	return ticks, dlo, dhi
}

// SVG draws the chart twice, wide and narrow (see responsive).
func (c LineChart) SVG() template.HTML {
	w := c.Width
	if w == 0 {
		w = chartW
	}
	return responsive(c.draw(w, ""), c.draw(narrowW, "-n"))
}

func (c LineChart) draw(width float64, suffix string) string {
	h := c.Height
	if h == 0 {
		h = chartH
	}
	yfmt := c.YFormat
	if yfmt == nil {
		yfmt = func(v float64) string { return numtext.Fixed(v, 2) }
	}
	xfmt := c.XFormat
	if xfmt == nil {
		xfmt = func(v float64) string { return numtext.Fixed(v, 0) }
	}
	// Domains from the data.
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	seeX := func(v float64) {
		if finite(v) {
			xlo, xhi = math.Min(xlo, v), math.Max(xhi, v)
		}
	}
	seeY := func(v float64) {
		if finite(v) {
			ylo, yhi = math.Min(ylo, v), math.Max(yhi, v)
		}
	}
	for _, l := range c.Lines {
		for _, p := range l.Points {
			if finite(p.Y) {
				seeX(p.X)
				seeY(p.Y)
			}
		}
	}
	for _, b := range c.Bands {
		for _, p := range b.Points {
			if finite(p.Lo) && finite(p.Hi) {
				seeX(p.X)
				seeY(p.Lo)
				seeY(p.Hi)
			}
		}
	}
	for _, d := range c.Dots {
		seeX(d.X)
		seeY(d.Y)
	}
	if c.Zero {
		seeY(0)
	}
	if c.XDomain[0] != c.XDomain[1] {
		xlo, xhi = c.XDomain[0], c.XDomain[1]
	}
	if c.YDomain[0] != c.YDomain[1] {
		ylo, yhi = c.YDomain[0], c.YDomain[1]
	}
	empty := !finite(xlo) || !finite(ylo)
	if empty {
		xlo, xhi, ylo, yhi = 0, 1, 0, 1
	}
	limit := c.YLimit[0] != c.YLimit[1]
	if limit && !empty {
		ylo, yhi = math.Max(ylo, c.YLimit[0]), math.Min(yhi, c.YLimit[1])
		if ylo > yhi { // every value beyond one edge
			ylo, yhi = math.Min(ylo, c.YLimit[1]), math.Max(yhi, c.YLimit[0])
		}
	}
	yticks, y0, y1 := niceTicks(ylo, yhi, 5)
	if c.YDomain[0] != c.YDomain[1] {
		y0, y1 = c.YDomain[0], c.YDomain[1]
		yticks = trimTicks(yticks, y0, y1)
	}
	if limit {
		y0, y1 = math.Max(y0, c.YLimit[0]), math.Min(y1, c.YLimit[1])
		yticks = trimTicks(yticks, y0, y1)
	}
	// Leave room on the left for the longest y label.
	longest := 0
	for _, t := range yticks {
		longest = max(longest, len([]rune(yfmt(t))))
	}
	left := 14 + float64(longest)*chartFont*0.6
	if c.YLabel != "" {
		left += chartFont + 4
	}
	bottom := 2.4 * chartFont
	if c.XLabel != "" {
		bottom += chartFont + 4
	}
	// Leave room on the right for half of the last x label.
	right := 16.0
	xticks := c.XTicks
	if len(xticks) > 0 {
		right = math.Max(right, float64(len([]rune(xticks[len(xticks)-1].Label)))*chartFont*0.31+4)
	}
	f := frame{w: width, h: h, left: left, right: right, top: 12, bottom: bottom, x0: xlo, x1: xhi, y0: y0, y1: y1, clampY: limit}
	if xhi == xlo {
		f.x0, f.x1 = xlo-0.5, xhi+0.5
	}

	var b strings.Builder
	id := chartID(c.Title) + suffix
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-labelledby="%s-t %s-d" preserveAspectRatio="xMidYMid meet">`, width, h, id, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, escape(c.Title), id, escape(c.Desc))
	// Grid and y axis labels.
	for _, t := range yticks {
		y := f.y(t)
		cls := "grid"
		if t == 0 && c.Zero {
			cls = "zero"
		}
		fmt.Fprintf(&b, `<line class="%s" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, cls, f.left, f.w-f.right, y, y)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, f.left-6, y, escape(yfmt(t)))
	}
	if c.Zero && !containsTick(yticks, 0) && y0 <= 0 && y1 >= 0 {
		y := f.y(0)
		fmt.Fprintf(&b, `<line class="zero" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, f.left, f.w-f.right, y, y)
	}
	// X axis labels.
	if len(xticks) == 0 && !empty {
		vals, _, _ := niceTicks(xlo, xhi, 5)
		for _, v := range vals {
			if v >= f.x0-1e-9 && v <= f.x1+1e-9 {
				xticks = append(xticks, Tick{At: v, Label: xfmt(v)})
			}
		}
	}
	xticks = thinTicks(xticks, f)
	base := f.h - f.bottom
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, f.left, f.w-f.right, base, base)
	for _, t := range xticks {
		x := f.x(t.At)
		fmt.Fprintf(&b, `<line class="axis" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x, x, base, base+4)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, base+chartFont+6, escape(t.Label))
	}
	if c.XLabel != "" {
		fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, (f.left+f.w-f.right)/2, f.h-4, escape(c.XLabel))
	}
	if c.YLabel != "" {
		fmt.Fprintf(&b, `<text class="label" transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle">%s</text>`, chartFont, (f.top+base)/2, escape(c.YLabel))
	}
	if c.Diagonal {
		lo, hi := math.Max(f.x0, f.y0), math.Min(f.x1, f.y1)
		fmt.Fprintf(&b, `<line class="diagonal" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, f.x(lo), f.y(lo), f.x(hi), f.y(hi))
	}
	if empty {
		fmt.Fprintf(&b, `<text class="empty" x="%.1f" y="%.1f" text-anchor="middle">No data yet</text>`, (f.left+f.w-f.right)/2, (f.top+base)/2)
	}
	// Paths in whole user units: a unit is about a CSS pixel at the drawings' sizes, and a
	// 90-day chart's paths are most of a page's bytes.
	for _, band := range c.Bands {
		for _, seg := range bandSegments(band.Points) {
			var p strings.Builder
			for i, q := range seg {
				fmt.Fprintf(&p, "%s%.0f,%.0f ", map[bool]string{true: "M", false: "L"}[i == 0], f.x(q.X), f.y(q.Hi))
			}
			for i := len(seg) - 1; i >= 0; i-- {
				fmt.Fprintf(&p, "L%.0f,%.0f ", f.x(seg[i].X), f.y(seg[i].Lo))
			}
			if len(seg) == 1 { // a single day: a vertical bar
				q := seg[0]
				fmt.Fprintf(&b, `<line class="%s bar" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, band.Class, f.x(q.X), f.x(q.X), f.y(q.Lo), f.y(q.Hi))
				continue
			}
			fmt.Fprintf(&b, `<path class="%s" d="%sZ"/>`, band.Class, strings.TrimSpace(p.String()))
		}
	}
	for _, l := range c.Lines {
		for _, seg := range lineSegments(l.Points) {
			if len(seg) > 1 {
				var p strings.Builder
				for i, q := range seg {
					fmt.Fprintf(&p, "%s%.0f,%.0f ", map[bool]string{true: "M", false: "L"}[i == 0], f.x(q.X), f.y(q.Y))
				}
				fmt.Fprintf(&b, `<path class="line %s" d="%s"/>`, l.Class, strings.TrimSpace(p.String()))
			}
			if l.Dots || len(seg) == 1 {
				for _, q := range seg {
					fmt.Fprintf(&b, `<circle class="dot %s" cx="%.1f" cy="%.1f" r="3"/>`, l.Class, f.x(q.X), f.y(q.Y))
				}
			}
		}
	}
	for _, d := range c.Dots {
		fmt.Fprintf(&b, `<circle class="dot %s" cx="%.1f" cy="%.1f" r="%.1f">`, d.Class, f.x(d.X), f.y(d.Y), d.R)
		if d.Title != "" {
			fmt.Fprintf(&b, `<title>%s</title>`, escape(d.Title))
		}
		b.WriteString(`</circle>`)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func containsTick(ts []float64, v float64) bool {
	for _, t := range ts {
		if t == v {
			return true
		}
	}
	return false
}

func trimTicks(ts []float64, lo, hi float64) []float64 {
	var out []float64
	for _, t := range ts {
		if t >= lo-1e-12 && t <= hi+1e-12 {
			out = append(out, t)
		}
	}
	return out
}

// thinTicks drops x labels until they no longer overlap.
func thinTicks(ts []Tick, f frame) []Tick {
	if len(ts) < 2 {
		return ts
	}
	widest := 0
	for _, t := range ts {
		widest = max(widest, len([]rune(t.Label)))
	}
	need := float64(widest)*chartFont*0.62 + 10
	avail := f.w - f.left - f.right
	every := 1
	for float64(len(ts)/every)*need > avail && every < len(ts) {
		every++
	}
	if every == 1 {
		return ts
	}
	var out []Tick
	for i := 0; i < len(ts); i += every {
		out = append(out, ts[i])
	}
	return out
}

// segments splits ps into runs of consecutive points that ok accepts (finite
// coordinates), so that a gap in the data is a gap in the drawing.
func segments[P any](ps []P, ok func(P) bool) [][]P {
	var out [][]P
	var cur []P
	for _, p := range ps {
		if !ok(p) {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, p)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func lineSegments(ps []Point) [][]Point {
	return segments(ps, func(p Point) bool { return finite(p.X) && finite(p.Y) })
}

func bandSegments(ps []BandPoint) [][]BandPoint {
	return segments(ps, func(p BandPoint) bool { return finite(p.X) && finite(p.Lo) && finite(p.Hi) })
}

// chartID makes an id for aria references from a title.
func chartID(title string) string {
	var b strings.Builder
	b.WriteString("c-")
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
		if b.Len() > 60 {
			break
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// Whisker is one row of a whisker chart: an estimate with an interval.
type Whisker struct {
	Label    string
	Mean     float64
	Lo, Hi   float64
	Positive bool
}

// WhiskerChart draws estimates with intervals as horizontal rows (model weights ± 2 sd).
type WhiskerChart struct {
	Title, Desc string
	Rows        []Whisker
	XFormat     func(float64) string
	XLabel      string
}

// SVG draws the chart twice, wide and narrow (see responsive).
func (c WhiskerChart) SVG() template.HTML {
	return responsive(c.draw(chartW, ""), c.draw(narrowW, "-n"))
}

func (c WhiskerChart) draw(width float64, suffix string) string {
	const rowH = 22.0
	xfmt := c.XFormat
	if xfmt == nil {
		xfmt = func(v float64) string { return numtext.Fixed(v, 1) }
	}
	lo, hi := 0.0, 0.0
	longest := 4
	for _, r := range c.Rows {
		if finite(r.Lo) {
			lo = math.Min(lo, r.Lo)
		}
		if finite(r.Hi) {
			hi = math.Max(hi, r.Hi)
		}
		longest = max(longest, min(len([]rune(r.Label)), maxLabel(width)))
	}
	ticks, x0, x1 := niceTicks(lo, hi, 5)
	left := 12 + float64(longest)*chartFont*0.58
	top := 8.0
	bottom := 2.4*chartFont + 4
	if c.XLabel != "" {
		bottom += chartFont + 4
	}
	h := top + bottom + rowH*float64(max(len(c.Rows), 1))
	f := frame{w: width, h: h, left: left, right: 16, top: top, bottom: bottom, x0: x0, x1: x1, y0: 0, y1: 1}
	var b strings.Builder
	id := chartID(c.Title) + suffix
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %.0f" role="img" aria-labelledby="%s-t %s-d">`, width, h, id, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, escape(c.Title), id, escape(c.Desc))
	base := h - bottom
	for _, t := range ticks {
		x := f.x(t)
		cls := "grid"
		if t == 0 {
			cls = "zero"
		}
		fmt.Fprintf(&b, `<line class="%s" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, cls, x, x, top, base)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, base+chartFont+6, escape(xfmt(t)))
	}
	if c.XLabel != "" {
		fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, (f.left+f.w-f.right)/2, h-4, escape(c.XLabel))
	}
	if len(c.Rows) == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%.1f" y="%.1f" text-anchor="middle">No weights learnt yet</text>`, (f.left+f.w-f.right)/2, top+rowH/2)
	}
	for i, r := range c.Rows {
		y := top + rowH*(float64(i)+0.5)
		label := r.Label
		if n := maxLabel(width); len([]rune(label)) > n {
			label = string([]rune(label)[:n-1]) + "…"
		}
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle"><title>%s</title>%s</text>`, f.left-8, y, escape(r.Label), escape(label))
		cls := "s1"
		if r.Positive {
			cls = "s0"
		}
		if finite(r.Lo) && finite(r.Hi) {
			fmt.Fprintf(&b, `<line class="whisker %s" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, cls, f.x(r.Lo), f.x(r.Hi), y, y)
			for _, e := range []float64{r.Lo, r.Hi} {
				fmt.Fprintf(&b, `<line class="whisker %s" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, cls, f.x(e), f.x(e), y-5, y+5)
			}
		}
		fmt.Fprintf(&b, `<circle class="dot %s" cx="%.1f" cy="%.1f" r="4"/>`, cls, f.x(r.Mean), y)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// maxLabel is the longest row label a whisker chart of the width shows in full.
func maxLabel(width float64) int {
	if width < chartW {
		return 20
	}
	return 28
}
