package dashboards

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/numtext"
	"github.com/nextbest/nextbest/offpolicy"
)

// The Evaluation pages: off-policy evaluation (docs/evaluation.md) of candidate policies on
// the decision log. /evaluations lists the latest jobs and starts one from a form with the
// common target policies; /evaluations/{id} shows each candidate policy against the logged
// one, for the response and for the net value, with intervals and the weight diagnostics.
// Every number comes from the job the JSON API serves (GET /v1/evaluations/{id}).

type evaluationsPage struct {
	Jobs      []jobRow
	Actions   []engine.ActionID
	Threshold string // the engine's, for the form's placeholders
	Alpha     string
	Form      evaluationForm
	Error     string
}

// evaluationForm is what the start form holds, kept to show it again after an error.
type evaluationForm struct {
	Since          string
	Models         string
	Uniform        bool
	Threshold      string
	Alpha          string
	Always         string
	Disable        string
	Bootstrap      string
	ThresholdOn    bool
	AlphaOn        bool
	DefaultChecked bool
}

type jobRow struct {
	engine.EvaluationJob
	Policies  string
	Submitted string
	Read      Num
	Seconds   string
}

type evaluationPage struct {
	Job       engine.EvaluationJob
	Src       string
	Running   bool
	Submitted string
	Progress  Num
	Elapsed   string
	Result    *engine.Evaluation
	First     string
	Last      string
	AsOf      string
	Read      Num
	Evaluated Num
	Excluded  []exclusionRow
	Rewards   []rewardSection
	Notes     []string
}

type exclusionRow struct {
	Count   Num
	Message string
}

// rewardSection is one reward's comparison: the logged policy's observed mean, then each
// candidate with its preferred estimate (DR), the other estimators, the difference from
// the logged policy, and the weight diagnostics.
type rewardSection struct {
	Name, Title, Description string
	Unit                     string
	N                        Num
	Logged                   estimateCells
	Rows                     []policyRow
	Warned                   bool // some policy's weights warned
	Chart                    template.HTML
}

type estimateCells struct {
	Method    string
	Value     Num
	Lo, Hi    Num
	VsLogged  Num
	VsLo      Num
	VsHi      Num
	HasVs     bool
	ParamText string
}

type policyRow struct {
	Name        string
	Description string
	Preferred   estimateCells
	Others      []estimateCells
	Verdict     string
	Tone        string
	ESS         Num
	ESSFraction Num
	MaxWeight   Num
	MaxShare    Num
	MeanWeight  Num
	Warnings    []engine.WarningResult
}

// Evaluation form limits: the form offers a few common target policies; the API takes
// any spec.
const evaluationListed = 10

func (p *Pages) evaluations(c *fiber.Ctx) (view, error) {
	return p.evaluationsView(evaluationForm{Models: engine.ModelsLogged, Uniform: true, DefaultChecked: true}, ""), nil
}

func (p *Pages) evaluationsView(f evaluationForm, errMsg string) view {
	o := p.eng.Options()
	pg := evaluationsPage{Form: f, Error: errMsg, Threshold: strconv.FormatFloat(o.Threshold, 'g', -1, 64), Alpha: strconv.FormatFloat(o.Alpha, 'g', -1, 64)}
	if f.DefaultChecked {
		pg.Form.Threshold = strconv.FormatFloat(2*o.Threshold, 'g', -1, 64)
		pg.Form.Alpha = strconv.FormatFloat(2*o.Alpha, 'g', -1, 64)
		pg.Form.ThresholdOn, pg.Form.AlphaOn = true, true
	}
	for _, a := range p.eng.Actions() {
		pg.Actions = append(pg.Actions, a.ID)
	}
	for i, j := range p.eng.EvaluationJobs() {
		if i == evaluationListed {
			break
		}
		var names []string
		for _, pol := range j.Spec.Policies {
			names = append(names, pol.Name)
		}
		// A running job's progress moves on between the page and the API: only a finished
		// job's count is tied to the API for checking.
		read := Num{Text: numtext.Group(float64(j.Progress.Read), 0)}
		read.HTML = read.markup()
		if j.State != engine.JobRunning {
			read = numF(fmt.Sprintf("evaluations[id=%s].progress.decisions_read", j.ID), float64(j.Progress.Read), 1, styleCount)
		}
		pg.Jobs = append(pg.Jobs, jobRow{EvaluationJob: j, Policies: strings.Join(names, "; "), Submitted: fmtTime(j.Submitted), Read: read, Seconds: numtext.Fixed(j.Progress.Seconds, 1)})
	}
	return view{template: "evaluations.html", title: "Evaluation", nav: "evaluation", data: pg}
}

// startEvaluation builds a spec from the form: the logged policy (the sanity check)
// and each ticked candidate, and starts it as a job (engine.StartEvaluation).
func (p *Pages) startEvaluation(c *fiber.Ctx) error {
	f := evaluationForm{Since: strings.TrimSpace(c.FormValue("since")), Models: c.FormValue("models"), Uniform: c.FormValue("uniform") != "",
		Threshold: strings.TrimSpace(c.FormValue("threshold")), Alpha: strings.TrimSpace(c.FormValue("alpha")),
		ThresholdOn: c.FormValue("threshold_on") != "", AlphaOn: c.FormValue("alpha_on") != "",
		Always: c.FormValue("always"), Disable: c.FormValue("disable"), Bootstrap: strings.TrimSpace(c.FormValue("bootstrap"))}
	spec, err := f.spec()
	if err == nil {
		var job engine.EvaluationJob
		job, err = p.eng.StartEvaluation(c.UserContext(), spec)
		if err == nil {
			return c.Redirect("/evaluations/"+job.ID, fiber.StatusSeeOther)
		}
	}
	msg := err.Error()
	if ee, ok := err.(*engine.Error); ok {
		msg = ee.Message
	}
	v := p.evaluationsView(f, msg)
	return p.render(c, fiber.StatusBadRequest, v.template, page{Title: v.title, Nav: v.nav, Data: v.data})
}

// spec turns the form into an evaluation request; the engine checks it further.
func (f evaluationForm) spec() (engine.EvaluationSpec, error) {
	var s engine.EvaluationSpec
	if f.Since != "" {
		t, err := time.Parse("2006-01-02", f.Since)
		if err != nil {
			return s, engine.Invalid("invalid_field", "since: %q is not a date such as 2026-06-01", f.Since)
		}
		s.Since = t
	}
	if f.Bootstrap != "" {
		b, err := strconv.Atoi(f.Bootstrap)
		if err != nil {
			return s, engine.Invalid("invalid_field", "bootstrap: %q is not a whole number", f.Bootstrap)
		}
		s.Bootstrap = &b
	}
	models := f.Models
	if models != engine.ModelsCurrent {
		models = engine.ModelsLogged
	}
	number := func(name, v string) (*float64, error) {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, engine.Invalid("invalid_field", "%s: %q is not a number", name, v)
		}
		return &x, nil
	}
	s.Policies = append(s.Policies, engine.PolicySpec{Type: engine.PolicyLogged})
	if f.Uniform {
		s.Policies = append(s.Policies, engine.PolicySpec{Type: engine.PolicyUniform})
	}
	if f.ThresholdOn {
		t, err := number("threshold", f.Threshold)
		if err != nil {
			return s, err
		}
		s.Policies = append(s.Policies, engine.PolicySpec{Type: engine.PolicyNBA, Models: models, Threshold: t})
	}
	if f.AlphaOn {
		a, err := number("alpha", f.Alpha)
		if err != nil {
			return s, err
		}
		s.Policies = append(s.Policies, engine.PolicySpec{Type: engine.PolicyNBA, Models: models, Alpha: a})
	}
	if f.Always != "" {
		s.Policies = append(s.Policies, engine.PolicySpec{Type: engine.PolicyAlways, Action: engine.ActionID(f.Always)})
	}
	if f.Disable != "" {
		off := false
		s.Policies = append(s.Policies, engine.PolicySpec{Type: engine.PolicyNBA, Models: models,
			Actions: map[engine.ActionID]engine.ActionChange{engine.ActionID(f.Disable): {Enabled: &off}}})
	}
	if len(s.Policies) == 1 {
		// The logged policy alone checks the log: its estimates equal the observed mean.
		s.Policies = append(s.Policies, engine.PolicySpec{Type: engine.PolicyNBA, Name: "nba (re-scored)", Models: models})
	}
	return s, nil
}

func (p *Pages) cancelEvaluation(c *fiber.Ctx) error {
	if _, err := p.eng.CancelEvaluation(c.Params("id")); err != nil {
		return p.renderError(c, err)
	}
	return c.Redirect("/evaluations/"+c.Params("id"), fiber.StatusSeeOther)
}

func (p *Pages) evaluation(c *fiber.Ctx) (view, error) {
	job, err := p.eng.EvaluationJob(c.Params("id"))
	if err != nil {
		return view{}, err
	}
	pg := evaluationPage{Job: job, Src: "/v1/evaluations/" + job.ID, Running: job.State == engine.JobRunning, Submitted: fmtTime(job.Submitted),
		Progress: Num{Text: numtext.Group(float64(job.Progress.Read), 0)}, Elapsed: numtext.Fixed(job.Progress.Seconds, 1)}
	pg.Progress.HTML = pg.Progress.markup()
	if !pg.Running {
		pg.Progress = numF("progress.decisions_read", float64(job.Progress.Read), 1, styleCount)
	}
	v := view{template: "evaluation.html", title: "Evaluation " + job.ID, nav: "evaluation", data: &pg}
	if pg.Running {
		v.refresh = 2
	}
	ev := job.Result
	if ev == nil {
		return v, nil
	}
	pg.Result = ev
	pg.First, pg.Last, pg.AsOf = fmtTime(ev.First), fmtTime(ev.Last), fmtTime(ev.AsOf)
	pg.Read = numF("result.decisions_read", float64(ev.Read), 1, styleCount)
	pg.Evaluated = numF("result.decisions_evaluated", float64(ev.Evaluated), 1, styleCount)
	for i, x := range ev.Excluded {
		pg.Excluded = append(pg.Excluded, exclusionRow{Count: numF(fmt.Sprintf("result.excluded[%d].count", i), float64(x.Count), 1, styleCount), Message: x.Message})
	}
	pg.Notes = ev.Notes
	for _, rw := range ev.Rewards {
		if sec, ok := rewardView(ev, rw); ok {
			pg.Rewards = append(pg.Rewards, sec)
		}
	}
	return v, nil
}

// rewardView lays out one reward's estimates; false if no policy has them.
func rewardView(ev *engine.Evaluation, rw engine.RewardInfo) (rewardSection, bool) {
	sec := rewardSection{Name: rw.Name, Description: rw.Description}
	est := func(pr *engine.PolicyResult) *engine.RewardEstimate {
		if rw.Name == engine.RewardNetValue {
			return pr.NetValue
		}
		return pr.Response
	}
	// The response is a rate, shown in percent; the net value is money per decision.
	scale, style, diff := 100.0, stylePct2, styleSignedPP2
	sec.Title, sec.Unit = "Response rate", "% of decisions"
	if rw.Name == engine.RewardNetValue {
		scale, style, diff = 1, styleMoneyCents, styleSignedMoneyCents
		sec.Title, sec.Unit = "Net value per decision", "money per decision"
	}
	chart := WhiskerChart{Title: sec.Title + ": difference from the logged policy",
		Desc:   "Each candidate policy's doubly robust estimate minus the logged policy's observed mean, with its 95% bootstrap interval. The numbers are in the table below.",
		XLabel: "difference from the logged policy (" + sec.Unit + ")", XFormat: func(v float64) string { return formatNum(v, diff) }}
	found := false
	for i := range ev.Policies {
		pr := &ev.Policies[i]
		re := est(pr)
		if re == nil {
			continue
		}
		base := fmt.Sprintf("result.policies[%d].%s.", i, rw.Name)
		if !found {
			found = true
			sec.N = numF(base+"n", float64(re.N), 1, styleCount)
			sec.Logged = cells(base+"logged.", re.Logged, scale, style, diff, false)
		}
		row := policyRow{Name: pr.Name, Description: pr.Description, Warnings: re.Warnings}
		for _, e := range re.Estimates {
			path := fmt.Sprintf("%sestimates[method=%s].", base, e.Method)
			c := cells(path, e, scale, style, diff, true)
			if e.Method == re.Preferred {
				row.Preferred = c
			} else if e.Method == offpolicy.MethodSNIPS || e.Method == offpolicy.MethodIPS || e.Method == offpolicy.MethodDM {
				row.Others = append(row.Others, c)
			}
		}
		w := re.Weights
		row.ESS = num(base+"weights.ess", ptr(float64(w.ESS)), 1, styleCount)
		row.ESSFraction = num(base+"weights.ess_fraction", ptr(float64(w.ESSFraction)), 100, stylePct)
		row.MaxWeight = num(base+"weights.max_weight", ptr(float64(w.MaxWeight)), 1, styleGain)
		row.MaxShare = num(base+"weights.max_share", ptr(float64(w.MaxShare)), 100, stylePct)
		row.MeanWeight = num(base+"weights.mean_weight", ptr(float64(w.MeanWeight)), 1, styleDecimal)
		if pe, ok := re.Estimate(re.Preferred); ok {
			row.Verdict, row.Tone = verdictOf(pe, len(re.Warnings) > 0)
			lo, hi := float64(pe.VsLoggedInterval.Lo), float64(pe.VsLoggedInterval.Hi)
			if finite(float64(pe.VsLogged)) {
				chart.Rows = append(chart.Rows, Whisker{Label: pr.Name, Mean: float64(pe.VsLogged) * scale, Lo: lo * scale, Hi: hi * scale, Positive: pe.VsLogged >= 0})
			}
		}
		sec.Warned = sec.Warned || len(row.Warnings) > 0
		sec.Rows = append(sec.Rows, row)
	}
	sec.Chart = chart.SVG()
	return sec, found
}

// cells formats an estimate: its value and interval (the bootstrap one when computed,
// else the normal one), and its difference from the logged policy.
func cells(path string, e engine.EstimateResult, scale float64, style, diff numStyle, vs bool) estimateCells {
	c := estimateCells{Method: methodName(e.Method), Value: num(path+"value", ptr(float64(e.Value)), scale, style)}
	iv, which := e.Bootstrap, "bootstrap"
	if !finite(float64(iv.Lo)) {
		iv, which = e.Normal, "normal"
	}
	c.Lo = num(path+which+".lo", ptr(float64(iv.Lo)), scale, style)
	c.Hi = num(path+which+".hi", ptr(float64(iv.Hi)), scale, style)
	if finite(float64(e.Param)) {
		c.ParamText = fmt.Sprintf(" (%s)", strconv.FormatFloat(float64(e.Param), 'g', 4, 64))
	}
	if vs {
		c.HasVs = true
		c.VsLogged = num(path+"vs_logged", ptr(float64(e.VsLogged)), scale, diff)
		c.VsLo = num(path+"vs_logged_interval.lo", ptr(float64(e.VsLoggedInterval.Lo)), scale, diff)
		c.VsHi = num(path+"vs_logged_interval.hi", ptr(float64(e.VsLoggedInterval.Hi)), scale, diff)
	}
	return c
}

// verdictOf words the preferred estimate's difference from the logged policy by its
// interval: higher or lower when the interval excludes zero; untrusted when the weights
// warned (docs/evaluation.md: the warning thresholds).
func verdictOf(e engine.EstimateResult, warned bool) (string, string) {
	lo, hi := float64(e.VsLoggedInterval.Lo), float64(e.VsLoggedInterval.Hi)
	switch {
	case warned:
		return "not to be trusted: see the weight warnings", "warn"
	case !finite(lo) || !finite(hi):
		return "no interval", ""
	case lo > 0:
		return "higher than the logged policy", "good"
	case hi < 0:
		return "lower than the logged policy", "bad"
	}
	return "no clear difference", ""
}

func methodName(m offpolicy.Method) string {
	switch m {
	case offpolicy.MethodObserved:
		return "observed"
	case offpolicy.MethodDR:
		return "DR"
	case offpolicy.MethodSNIPS:
		return "SNIPS"
	case offpolicy.MethodIPS:
		return "IPS"
	case offpolicy.MethodDM:
		return "DM"
	}
	return string(m)
}
