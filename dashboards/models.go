package dashboards

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/numtext"
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
	Ranking   ranking
	Judgement string // how it ranks, in a sentence (rankingText)
	// The uplift model of an action with an objective: its AUC at predicting the outcome.
	UpliftAUC    Num
	UpliftWarn   bool // its ranking is weak
	UpliftJudged bool
}

type ruleText struct {
	StallChosen int
	StallAge    string
	AUCDrop     string
	AUCEvidence int
	AUCJudged   int
	WeakAUC     string
}

var rules = ruleText{StallChosen: stallChosen, StallAge: "24 hours", AUCDrop: "0.05", AUCEvidence: aucEvidence, AUCJudged: aucJudged, WeakAUC: numtext.Fixed(weakAUC, 1)}

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
	r := rankingOf(h)
	row := modelRow{Action: a, Src: modelSrc(a.ID), Last: "never", Ranking: r, Judgement: rankingText(r, responseWords),
		Responses: numF("health.responses", float64(h.Responses), 1, styleCount),
		Positives: numF("health.positives", float64(h.Positives), 1, styleCount),
		PosRate:   ratio("health.positives", h.Positives, h.Responses),
		AUC:       num("health.auc", h.AUC, 1, styleDecimal),
		LogLoss:   num("health.log_loss", h.LogLoss, 1, styleDecimal),
		Chosen:    numF("chosen", float64(info.Chosen), 1, styleCount),
		Explored:  ratio("explored", info.Explored, info.Chosen),
		Version:   numF("version", float64(info.Version), 1, styleCount),
	}
	if u := info.Uplift; u != nil {
		ur := rankingOf(u.Health)
		row.UpliftAUC, row.UpliftWarn, row.UpliftJudged = num("uplift.health.auc", u.Health.AUC, 1, styleDecimal), ur.Weak, ur.Judged
	}
	return row
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
	Uplift      *upliftSection
	Recent      []recentTerms // the terms of this action in recent decisions
	RecentOf    int           // how many recent decisions were looked at
	MaxDays     int           // the longest window of the uplift report
	DefaultDays int           // the window it suggests
}

// upliftSection is the data scientist's view of an action's incremental effect on its
// objective: the uplift model's health and weights, and the uplift report of the logged
// decisions (Qini curve, effect by segment).
type upliftSection struct {
	Objective    string
	Outcome      string // "P(churn within 14 days)"
	Labels       Num    // labels learnt
	Occurred     Num    // of those, the outcome occurred
	AUC, LogLoss Num
	Window       Num
	Ranking      ranking
	Judgement    string
	Calibration  template.HTML
	CalRows      []calRow
	Effect       template.HTML
	EffectRows   []weightRow
	Baseline     template.HTML
	BaselineRows []weightRow
	Report       *upliftReportView
	Windows      []trendOption // links that compute the report over a window
}

// upliftWindows links the windows the uplift report can be computed over; active is the
// one shown (0: none).
func upliftWindows(id engine.ActionID, active int) []trendOption {
	var out []trendOption
	for _, d := range []int{7, defaultUpliftDays, maxUpliftDays} {
		out = append(out, trendOption{Name: strconv.Itoa(d), Title: fmt.Sprintf("last %d days", d), Active: d == active, Href: fmt.Sprintf("/models/%s?uplift=%d#uplift-report", id, d)})
	}
	return out
}

// upliftReportView is engine.UpliftReport on the page: over the decisions logged in the
// last Days days.
type upliftReportView struct {
	Src                           string // its API path, with the window's start
	Days                          int
	Since                         string
	Took                          string // how long reading the log took
	Decisions, Treated, Untreated Num
	Coefficient                   Num
	Qini                          template.HTML
	QiniRows                      []qiniRow
	Segments                      []segmentRow
	Empty                         bool   // no labelled decision in the window
	OneSided                      string // why the curve says little: no treated or no untreated decision
}

type qiniRow struct{ Fraction, Targeted, Gain Num }

type segmentRow struct {
	Feature                              string
	Treated, Untreated                   Num
	TreatedRate, UntreatedRate, Observed Num
	Predicted                            Num
	Agrees                               string // whether observed and predicted have the same sign
}

// recentTerms is one recent decision's candidate for this action, with its terms.
type recentTerms struct {
	Src, Time, Customer, Arm, Status, Class string
	Propensity, Value, Cost, ContactCost    Num
	Effect, EffectSD, EffectValue, Net      Num
	HasEffect                               bool
}

const (
	// The uplift report reads the decision log, a few seconds for 330,000 decisions
	// (docs/benchmarks-dashboards.md), so the model page computes it only when asked
	// (?uplift=days), over at most maxUpliftDays; defaultUpliftDays is the window it
	// suggests.
	defaultUpliftDays = 30
	maxUpliftDays     = 90
	// recentDecisions is how many of the newest decisions the model page searches for this
	// action's terms, and recentShown how many it shows.
	recentDecisions = 200
	recentShown     = 20
)

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
	now := p.eng.Clock().Now()
	pg.Warnings = modelWarnings(info, versions, now)
	obj := p.objectives()
	if info.Uplift != nil {
		pg.Uplift = upliftSectionOf(a, info, obj)
		pg.Uplift.Windows = upliftWindows(id, 0)
		// The uplift report reads the decision log: only when asked, over a capped window.
		if q := c.Query("uplift"); q != "" {
			days, err := strconv.Atoi(q)
			if err != nil || days < 1 || days > maxUpliftDays {
				return view{}, engine.Invalid("invalid_query", "uplift: a number of days from 1 to %d", maxUpliftDays)
			}
			since := now.Add(-time.Duration(days) * 24 * time.Hour).UTC().Truncate(time.Second)
			began := time.Now()
			rep, err := p.eng.UpliftReport(c.UserContext(), id, since)
			if err != nil {
				return view{}, err
			}
			pg.Uplift.Report = upliftReportOf(rep, a.ID, days, since)
			pg.Uplift.Report.Took = numtext.Fixed(time.Since(began).Seconds(), 2) + " s"
			pg.Uplift.Windows = upliftWindows(id, days)
		}
	}
	ds, err := p.eng.Recent(c.UserContext(), recentDecisions)
	if err != nil {
		return view{}, err
	}
	pg.RecentOf, pg.MaxDays, pg.DefaultDays = len(ds), maxUpliftDays, defaultUpliftDays
	pg.Recent = recentTermsOf(ds, id)
	return view{template: "model.html", title: "Model " + string(id), nav: "models", data: pg}, nil
}

// recentTermsOf finds the action among the candidates of recent decisions (newest
// first), with the terms of its net value.
func recentTermsOf(ds []*engine.Decision, id engine.ActionID) []recentTerms {
	var out []recentTerms
	for _, d := range ds {
		for i := range d.Candidates {
			c := &d.Candidates[i]
			if c.ID != id || !priced(c) || c.Filtered != "" {
				continue
			}
			base := fmt.Sprintf("candidates[%d].", i)
			r := recentTerms{Src: "/v1/decisions/" + string(d.ID), Time: fmtTime(d.Time), Customer: string(d.CustomerID), Arm: d.Arm,
				Status: fmt.Sprintf("rank %d", c.Rank), Class: "",
				Propensity: numF(base+"propensity", c.Propensity, 100, stylePct), Value: numF(base+"value", c.Value, 1, styleAmount),
				Cost: numOmit(base+"cost", c.Cost, 1, styleAmount), ContactCost: numOmit(base+"contact_cost", c.ContactCost, 1, styleAmount),
				Effect: numOmit(base+"effect", c.Effect, 100, styleSignedPP), EffectSD: numOmit(base+"effect_sd", c.EffectSD, 100, stylePP),
				EffectValue: numOmit(base+"effect_value", c.EffectValue, 1, moneyStyle(true, c.EffectValue, c.Net)),
				Net:         numOmit(base+"net_value", c.Net, 1, moneyStyle(true, c.EffectValue, c.Net)),
				HasEffect:   c.Effect != 0 || c.EffectSD != 0}
			for _, ch := range d.Chosen {
				if ch == id {
					r.Status, r.Class = "chosen", "chosen"
				}
			}
			if c.Detail == "explore: no action" {
				r.Status, r.Class = "held back: no action", "explore"
			}
			out = append(out, r)
		}
		if len(out) == recentShown {
			break
		}
	}
	return out
}

// upliftSectionOf shows an action's uplift model: its health as a predictor of the
// objective's outcome, and its top effect and baseline weights.
func upliftSectionOf(a engine.Action, info engine.ModelInfo, obj objectives) *upliftSection {
	u := info.Uplift
	h := u.Health
	r := rankingOf(h)
	sec := &upliftSection{Objective: u.Objective, Outcome: obj.outcomeOf(u.Objective),
		Labels:    numF("uplift.health.responses", float64(h.Responses), 1, styleCount),
		Occurred:  numF("uplift.health.positives", float64(h.Positives), 1, styleCount),
		AUC:       num("uplift.health.auc", h.AUC, 1, styleDecimal),
		LogLoss:   num("uplift.health.log_loss", h.LogLoss, 1, styleDecimal),
		Window:    numF("uplift.health.auc_window", float64(h.AUCWindow), 1, styleCount),
		Ranking:   r,
		Judgement: rankingText(r, labelWords(u.Objective)),
	}
	sec.Calibration, sec.CalRows = calibrationOf("Calibration of the "+u.Objective+" model of "+string(a.ID),
		fmt.Sprintf("Mean predicted probability of %s within the horizon against the observed rate, in each of the ten probability bins, over the AUC window. Points on the dashed diagonal are calibrated; the bins are in the table below.", u.Objective),
		"predicted "+u.Objective+" rate", h, "uplift.health.calibration")
	ec := WhiskerChart{Title: "Effect weights of " + string(a.ID), Desc: fmt.Sprintf("The %d effect weights with the largest absolute means, each with two posterior standard deviations either side: where offering the action changes the log-odds of %s. Below zero it prevents it. The numbers are in the table below.", len(u.Effect), u.Objective),
		XLabel: "effect on the log-odds of " + u.Objective + ", mean ± 2 sd"}
	for i, w := range u.Effect {
		base := fmt.Sprintf("uplift.effect[%d].", i)
		sec.EffectRows = append(sec.EffectRows, weightRow{Feature: w.Feature, Index: w.Index, Mean: numF(base+"mean", w.Mean, 1, styleDecimal), SD: numF(base+"sd", w.SD, 1, styleDecimal)})
		ec.Rows = append(ec.Rows, Whisker{Label: w.Feature, Mean: w.Mean, Lo: w.Mean - 2*w.SD, Hi: w.Mean + 2*w.SD, Positive: w.Mean < 0})
	}
	sec.Effect = ec.SVG()
	bc := WhiskerChart{Title: "Baseline weights of " + string(a.ID), Desc: fmt.Sprintf("The %d baseline weights with the largest absolute means, each with two posterior standard deviations either side: what makes %s likely without the action (above zero, more likely). The numbers are in the table below.", len(u.Baseline), u.Objective),
		XLabel: "log-odds of " + u.Objective + " without the action, mean ± 2 sd"}
	for i, w := range u.Baseline {
		base := fmt.Sprintf("uplift.baseline[%d].", i)
		sec.BaselineRows = append(sec.BaselineRows, weightRow{Feature: w.Feature, Index: w.Index, Mean: numF(base+"mean", w.Mean, 1, styleDecimal), SD: numF(base+"sd", w.SD, 1, styleDecimal)})
		bc.Rows = append(bc.Rows, Whisker{Label: w.Feature, Mean: w.Mean, Lo: w.Mean - 2*w.SD, Hi: w.Mean + 2*w.SD, Positive: w.Mean < 0})
	}
	sec.Baseline = bc.SVG()
	return sec
}

// upliftReportOf shows an uplift report: its Qini curve against random targeting, and
// the effect by segment, observed against predicted.
func upliftReportOf(rep *engine.UpliftReport, id engine.ActionID, days int, since time.Time) *upliftReportView {
	v := &upliftReportView{Src: fmt.Sprintf("/v1/models/%s/uplift?since=%s", id, since.Format(time.RFC3339)), Days: days, Since: fmtTime(since),
		Decisions:   numF("decisions", float64(rep.Decisions), 1, styleCount),
		Treated:     numF("treated", float64(rep.Treated), 1, styleCount),
		Untreated:   numF("untreated", float64(rep.Untreated), 1, styleCount),
		Coefficient: numF("qini.coefficient", rep.Qini.Coefficient, 1, styleQini),
		Empty:       rep.Decisions == 0,
	}
	switch {
	case rep.Decisions == 0:
	case rep.Treated == 0:
		v.OneSided = "No decision in the window offered this action, so there is nothing to compare: the curve is flat and the effects by segment are the model's alone."
	case rep.Untreated == 0:
		v.OneSided = "No decision in the window offered nothing, so there is nothing to compare with: the curve counts the offered customers only."
	}
	curve := Line{Class: "s0", Dots: len(rep.Qini.Points) < 30}
	random := Line{Class: "s1 dashed"}
	final := 0.0
	if n := len(rep.Qini.Points); n > 0 {
		final = rep.Qini.Points[n-1].Gain
	}
	random.Points = []Point{{0, 0}, {1, final}}
	for i, pt := range rep.Qini.Points {
		curve.Points = append(curve.Points, Point{X: pt.Fraction, Y: pt.Gain})
		base := fmt.Sprintf("qini.points[%d].", i)
		v.QiniRows = append(v.QiniRows, qiniRow{Fraction: numF(base+"fraction", pt.Fraction, 100, stylePct), Targeted: numF(base+"targeted", float64(pt.Targeted), 1, styleCount),
			Gain: numF(base+"gain", pt.Gain, 1, styleGain)})
	}
	ch := LineChart{Title: "Qini curve of " + string(id), Desc: "Customers kept, over what the untreated rate predicts, when the action is given to the share of customers the uplift model ranks first (by predicted benefit), against random targeting (the dashed straight line). A curve above the line means the model finds the customers the action changes. The points are in the table below.",
		XDomain: [2]float64{0, 1}, XFormat: func(x float64) string { return numtext.Fixed(100*x, 0) + "%" }, YFormat: func(y float64) string { return numtext.Group(y, numtext.DecimalsFor(y, 0)) },
		XLabel: "share targeted, by predicted benefit", YLabel: "customers kept", Zero: true, Height: 280, Lines: []Line{random, curve}}
	v.Qini = ch.SVG()
	for i, sg := range rep.Segments {
		base := fmt.Sprintf("segments[%d].", i)
		row := segmentRow{Feature: sg.Feature,
			Treated: numF(base+"treated", float64(sg.Treated), 1, styleCount), Untreated: numF(base+"untreated", float64(sg.Untreated), 1, styleCount),
			TreatedRate: num(base+"treated_rate", sg.TreatedRate, 100, stylePct), UntreatedRate: num(base+"untreated_rate", sg.UntreatedRate, 100, stylePct),
			Observed: num(base+"observed", sg.Observed, 100, styleSignedPP), Predicted: numF(base+"predicted", sg.Predicted, 100, styleSignedPP)}
		if sg.Observed != nil {
			switch {
			case (*sg.Observed < 0) == (sg.Predicted < 0):
				row.Agrees = "signs agree"
			default:
				row.Agrees = "signs differ"
			}
		}
		v.Segments = append(v.Segments, row)
	}
	return v
}

func modelPageOf(a engine.Action, info engine.ModelInfo, versions []engine.Snapshot) modelPage {
	h := info.Health
	pg := modelPage{Action: a, Src: modelSrc(a.ID), VersionsSrc: "/v1/models/" + string(a.ID) + "/versions", Info: info, Rules: rules,
		Row:       modelRowOf(a, info),
		AUCWindow: numF("health.auc_window", float64(h.AUCWindow), 1, styleCount),
		Evidence:  numF("health.evidence", h.Evidence, 1, styleCount),
		Rejected:  numF("health.rejected", float64(h.Rejected), 1, styleCount),
	}
	pg.Calibration, pg.CalRows = calibrationOf("Calibration of "+string(a.ID), "Mean predicted propensity against the observed response rate in each of the ten propensity bins, over the AUC window. Points on the dashed diagonal are perfectly calibrated; the bins are in the table below.",
		"predicted response rate", h, "health.calibration")

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
			Lines: []Line{resp, pos}, XTicks: ticks, YFormat: func(v float64) string { return numtext.Group(v, 0) }, Height: 220, Width: 420}.SVG()},
		{"AUC", LineChart{Title: "AUC of " + string(a.ID), Desc: fmt.Sprintf("Windowed AUC at each stored version: how well the model ranks responders above non-responders over its last predict-then-learn pairs (0.5 is random). A drop of more than %s below its best raises a warning.", rules.AUCDrop),
			Lines: []Line{auc}, XTicks: ticks, YFormat: func(v float64) string { return numtext.Fixed(v, 2) }, Height: 220, Width: 420}.SVG()},
		{"Exploration share", LineChart{Title: "Exploration share of " + string(a.ID), Desc: "Share of the NBA decisions choosing this action that were exploration (the greedy choice was another action), cumulative at each stored version.",
			Lines: []Line{expl}, XTicks: ticks, YFormat: func(v float64) string { return numtext.Fixed(v, 0) + "%" }, Height: 220, Width: 420, YDomain: [2]float64{0, 100}}.SVG()},
	}
	return pg
}

// calibrationOf draws a model's calibration, predicted against observed rate per bin, on
// a square zoomed to the data, and lists the bins (at path[i] in the API's response).
func calibrationOf(title, desc, xlabel string, h engine.Health, path string) (template.HTML, []calRow) {
	cal := LineChart{Title: title, Desc: desc, Diagonal: true, XLabel: xlabel, YLabel: "observed", Height: 300,
		XFormat: func(v float64) string { return numtext.Fixed(100*v, numtext.DecimalsFor(100*v, 0)) + "%" }, YFormat: func(v float64) string { return numtext.Fixed(100*v, numtext.DecimalsFor(100*v, 0)) + "%" }}
	var rows []calRow
	top, maxCount := 0.0, 0
	for _, b := range h.Calibration {
		maxCount = max(maxCount, b.Count)
	}
	for i, b := range h.Calibration {
		base := fmt.Sprintf("%s[%d].", path, i)
		rows = append(rows, calRow{Lo: numF(base+"lo", b.Lo, 100, stylePct), Hi: numF(base+"hi", b.Hi, 100, stylePct), Count: numF(base+"count", float64(b.Count), 1, styleCount),
			Predicted: num(base+"mean_predicted", b.MeanPredicted, 100, stylePct), Observed: num(base+"observed_rate", b.ObservedRate, 100, stylePct)})
		if b.MeanPredicted == nil || b.ObservedRate == nil || b.Count == 0 {
			continue
		}
		top = math.Max(top, math.Max(*b.MeanPredicted, *b.ObservedRate))
		r := 3 + 7*math.Sqrt(float64(b.Count)/float64(max(maxCount, 1)))
		cal.Dots = append(cal.Dots, Dot{X: *b.MeanPredicted, Y: *b.ObservedRate, R: r, Class: "cal",
			Title: fmt.Sprintf("%d: predicted %s, observed %s", b.Count, numtext.Fixed(100**b.MeanPredicted, 1)+"%", numtext.Fixed(100**b.ObservedRate, 1)+"%")})
	}
	_, _, hi := niceTicks(0, math.Max(top*1.05, 0.01), 5)
	hi = math.Min(hi, 1)
	cal.XDomain, cal.YDomain = [2]float64{0, hi}, [2]float64{0, hi}
	return cal.SVG(), rows
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
