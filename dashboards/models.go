package dashboards

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
)

// topWeights is how many weights the model page shows (the API's default for top).
const topWeights = 20

type modelsPage struct {
	Rows  []modelRow
	Rules ruleText
}

type modelRow struct {
	Action    engine.Action
	Src       string
	Responses Num
	Positives Num
	PosRate   Num
	AUC       Num
	LogLoss   Num
	Chosen    Num
	Explored  Num // share of the chosen that was exploration
	Version   Num
	Last      string
	Warnings  []modelWarning
}

type ruleText struct {
	StallChosen int
	StallAge    string
	AUCDrop     string
	AUCEvidence int
}

var rules = ruleText{StallChosen: stallChosen, StallAge: "24 hours", AUCDrop: "0.05", AUCEvidence: aucEvidence}

func modelSrc(id engine.ActionID) string { return fmt.Sprintf("/v1/models/%s?top=%d", id, topWeights) }

func (p *Pages) models(c *fiber.Ctx) (view, error) {
	now := p.eng.Clock().Now()
	pg := modelsPage{Rules: rules}
	for _, a := range p.eng.Actions() {
		info, err := p.eng.Model(a.ID, topWeights)
		if err != nil {
			return view{}, err
		}
		versions, err := p.eng.Versions(c.UserContext(), a.ID)
		if err != nil {
			return view{}, err
		}
		row := modelRowOf(a, info)
		if len(versions) > 0 {
			row.Last = fmtTime(versions[0].Time)
		}
		row.Warnings = modelWarnings(info, versions, now)
		pg.Rows = append(pg.Rows, row)
	}
	return view{template: "models.html", title: "Models", nav: "models", data: pg}, nil
}

func modelRowOf(a engine.Action, info engine.ModelInfo) modelRow {
	h := info.Health
	return modelRow{Action: a, Src: modelSrc(a.ID), Last: "never",
		Responses: numF("health.responses", float64(h.Responses), 1, styleCount),
		Positives: numF("health.positives", float64(h.Positives), 1, styleCount),
		PosRate:   ratio("health.positives", h.Positives, h.Responses),
		AUC:       num("health.auc", h.AUC, 1, styleDecimal),
		LogLoss:   num("health.log_loss", h.LogLoss, 1, styleDecimal),
		Chosen:    numF("chosen", float64(info.Chosen), 1, styleCount),
		Explored:  ratio("explored", info.Explored, info.Chosen),
		Version:   numF("version", float64(info.Version), 1, styleCount),
	}
}

// ratio shows part/whole in percent, checked against the API's part (scaled by 100/whole).
func ratio(path string, part, whole int64) Num {
	if whole == 0 {
		return noNum()
	}
	return numF(path, float64(part), 100/float64(whole), stylePct)
}

type modelPage struct {
	Action      engine.Action
	Src         string
	VersionsSrc string
	Row         modelRow
	Info        engine.ModelInfo
	AUCWindow   Num
	Evidence    Num
	Rejected    Num
	Warnings    []modelWarning
	Rules       ruleText
	Calibration template.HTML
	CalRows     []calRow
	Weights     template.HTML
	WeightRows  []weightRow
	Learning    []learningChart
	Versions    []versionRow
}

type learningChart struct {
	Title string
	Chart template.HTML
}

type calRow struct {
	Lo, Hi, Count, Predicted, Observed Num
}

type weightRow struct {
	Feature  string
	Index    int
	Mean, SD Num
}

type versionRow struct {
	Version                                  uint64
	Time, Reason                             string
	Responses, Positives, AUC, LogLoss, Expl Num
	Chosen                                   Num
}

func (p *Pages) model(c *fiber.Ctx) (view, error) {
	id := engine.ActionID(strings.Clone(c.Params("id")))
	a, err := p.eng.Action(id)
	if err != nil {
		return view{}, err
	}
	info, err := p.eng.Model(id, topWeights)
	if err != nil {
		return view{}, err
	}
	versions, err := p.eng.Versions(c.UserContext(), id)
	if err != nil {
		return view{}, err
	}
	pg := modelPageOf(a, info, versions)
	pg.Warnings = modelWarnings(info, versions, p.eng.Clock().Now())
	return view{template: "model.html", title: "Model " + string(id), nav: "models", data: pg}, nil
}

func modelPageOf(a engine.Action, info engine.ModelInfo, versions []engine.Snapshot) modelPage {
	h := info.Health
	pg := modelPage{Action: a, Src: modelSrc(a.ID), VersionsSrc: "/v1/models/" + string(a.ID) + "/versions", Info: info, Rules: rules,
		Row:       modelRowOf(a, info),
		AUCWindow: numF("health.auc_window", float64(h.AUCWindow), 1, styleCount),
		Evidence:  numF("health.evidence", h.Evidence, 1, styleCount),
		Rejected:  numF("health.rejected", float64(h.Rejected), 1, styleCount),
	}
	// Calibration: predicted against observed rate per bin, on a zoomed square.
	cal := LineChart{Title: "Calibration of " + string(a.ID), Desc: "Mean predicted propensity against the observed response rate in each of the ten propensity bins, over the AUC window. Points on the dashed diagonal are perfectly calibrated; the bins are in the table below.",
		Diagonal: true, XLabel: "predicted response rate", YLabel: "observed", Height: 300,
		XFormat: func(v float64) string { return fixed(100*v, 0) + "%" }, YFormat: func(v float64) string { return fixed(100*v, 0) + "%" }}
	top, maxCount := 0.0, 0
	for _, b := range h.Calibration {
		maxCount = max(maxCount, b.Count)
	}
	for i, b := range h.Calibration {
		base := fmt.Sprintf("health.calibration[%d].", i)
		pg.CalRows = append(pg.CalRows, calRow{Lo: numF(base+"lo", b.Lo, 100, stylePct), Hi: numF(base+"hi", b.Hi, 100, stylePct), Count: numF(base+"count", float64(b.Count), 1, styleCount),
			Predicted: num(base+"mean_predicted", b.MeanPredicted, 100, stylePct), Observed: num(base+"observed_rate", b.ObservedRate, 100, stylePct)})
		if b.MeanPredicted == nil || b.ObservedRate == nil || b.Count == 0 {
			continue
		}
		top = math.Max(top, math.Max(*b.MeanPredicted, *b.ObservedRate))
		r := 3 + 7*math.Sqrt(float64(b.Count)/float64(max(maxCount, 1)))
		cal.Dots = append(cal.Dots, Dot{X: *b.MeanPredicted, Y: *b.ObservedRate, R: r, Class: "cal",
			Title: fmt.Sprintf("%d responses: predicted %s, observed %s", b.Count, fixed(100**b.MeanPredicted, 1)+"%", fixed(100**b.ObservedRate, 1)+"%")})
	}
	_, _, hi := niceTicks(0, math.Max(top*1.05, 0.05), 5)
	hi = math.Min(hi, 1)
	cal.XDomain, cal.YDomain = [2]float64{0, hi}, [2]float64{0, hi}
	pg.Calibration = cal.SVG()

	// Posterior weights with ±2 sd.
	wc := WhiskerChart{Title: "Posterior weights of " + string(a.ID), Desc: fmt.Sprintf("The %d largest posterior weights by absolute mean, each with its mean and an interval of two posterior standard deviations either side. The numbers are in the table below.", len(info.TopWeights)),
		XLabel: "weight (log-odds), mean ± 2 sd"}
	for i, w := range info.TopWeights {
		base := fmt.Sprintf("top_weights[%d].", i)
		pg.WeightRows = append(pg.WeightRows, weightRow{Feature: w.Feature, Index: w.Index, Mean: numF(base+"mean", w.Mean, 1, styleDecimal), SD: numF(base+"sd", w.SD, 1, styleDecimal)})
		wc.Rows = append(wc.Rows, Whisker{Label: w.Feature, Mean: w.Mean, Lo: w.Mean - 2*w.SD, Hi: w.Mean + 2*w.SD, Positive: w.Mean > 0})
	}
	pg.Weights = wc.SVG()

	// Learning curve from the stored versions, oldest first.
	n := len(versions)
	resp := Line{Class: "s0", Dots: n < 40}
	pos := Line{Class: "s1", Dots: n < 40}
	auc := Line{Class: "s0", Dots: n < 40}
	expl := Line{Class: "s0", Dots: n < 40}
	var ticks []Tick
	for i := n - 1; i >= 0; i-- {
		v := versions[i]
		x := float64(v.Time.Unix())
		resp.Points = append(resp.Points, Point{X: x, Y: float64(v.Responses)})
		pos.Points = append(pos.Points, Point{X: x, Y: float64(v.Positives)})
		y := math.NaN()
		if v.AUC != nil {
			y = *v.AUC
		}
		auc.Points = append(auc.Points, Point{X: x, Y: y})
		share := math.NaN()
		if v.Chosen > 0 {
			share = 100 * float64(v.Explored) / float64(v.Chosen)
		}
		expl.Points = append(expl.Points, Point{X: x, Y: share})
		ticks = append(ticks, Tick{At: x, Label: v.Time.UTC().Format("2 Jan")})
		base := fmt.Sprintf("versions[version=%d].", v.Version)
		row := versionRow{Version: v.Version, Time: fmtTime(v.Time), Reason: v.Reason,
			Responses: numF(base+"responses", float64(v.Responses), 1, styleCount), Positives: numF(base+"positives", float64(v.Positives), 1, styleCount),
			AUC: num(base+"auc", v.AUC, 1, styleDecimal), LogLoss: num(base+"log_loss", v.LogLoss, 1, styleDecimal),
			Chosen: numF(base+"chosen", float64(v.Chosen), 1, styleCount), Expl: ratio(base+"explored", v.Explored, v.Chosen)}
		pg.Versions = append([]versionRow{row}, pg.Versions...) // newest first, as the API lists them
	}
	ticks = dedupTicks(ticks)
	pg.Learning = []learningChart{
		{"Responses learnt", LineChart{Title: "Responses learnt by " + string(a.ID), Desc: "Responses (blue) and positive responses (orange) learnt by the model at each stored version. The numbers are in the versions table below.",
			Lines: []Line{resp, pos}, XTicks: ticks, YFormat: func(v float64) string { return group(v, 0) }, Height: 220, Width: 420}.SVG()},
		{"AUC", LineChart{Title: "AUC of " + string(a.ID), Desc: fmt.Sprintf("Windowed AUC at each stored version: how well the model ranks responders above non-responders over its last predict-then-learn pairs (0.5 is random). A drop of more than %s below its best raises a warning.", rules.AUCDrop),
			Lines: []Line{auc}, XTicks: ticks, YFormat: func(v float64) string { return fixed(v, 2) }, Height: 220, Width: 420}.SVG()},
		{"Exploration share", LineChart{Title: "Exploration share of " + string(a.ID), Desc: "Share of the NBA decisions choosing this action that were exploration (the greedy choice was another action), cumulative at each stored version.",
			Lines: []Line{expl}, XTicks: ticks, YFormat: func(v float64) string { return fixed(v, 0) + "%" }, Height: 220, Width: 420, YDomain: [2]float64{0, 100}}.SVG()},
	}
	return pg
}

// dedupTicks keeps one label per distinct text (several versions a day share a date).
func dedupTicks(ts []Tick) []Tick {
	var out []Tick
	seen := map[string]bool{}
	for _, t := range ts {
		if !seen[t.Label] {
			seen[t.Label] = true
			out = append(out, t)
		}
	}
	return out
}
