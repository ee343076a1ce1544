package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nextbest/nextbest/bandit"
	"github.com/nextbest/nextbest/experiments"
)

// UpliftReport is a data scientist's view of whether an action is aimed at the customers
// it changes: over the logged decisions whose objective label has resolved, treated (the
// action offered) and untreated (nothing offered), the Qini curve of the uplift model's
// ranking (Radcliffe 2007, experiments.Qini) and the effect by segment.
//
// The ranking is by the current uplift model's predicted benefit, −effect (a lower churn
// probability is a benefit), on each decision's logged context: in-sample for the labels
// the model has learnt from, so it shows whether the model has found where the action
// works, not how well it would do on new customers. A decision the policy chose by the
// same model is not a randomised experiment either: the curve is as trustworthy as the
// overlap of treated and untreated customers in each part of it (the exploration floor
// and a holdout supply the untreated).
type UpliftReport struct {
	Action    ActionID              `json:"action"`
	Objective string                `json:"objective"`
	Since     time.Time             `json:"since"`
	Decisions int                   `json:"decisions"` // labelled decisions read
	Treated   int                   `json:"treated"`
	Untreated int                   `json:"untreated"`
	Qini      experiments.QiniCurve `json:"qini"`
	Segments  []SegmentEffect       `json:"segments"`
}

// SegmentEffect is the effect of an action on its objective's outcome in one segment (the
// decisions whose context has one feature set): the observed rates of the outcome with and
// without the action and their difference, beside the model's mean predicted effect.
type SegmentEffect struct {
	Feature       string   `json:"feature"`
	Treated       int      `json:"treated"`
	Untreated     int      `json:"untreated"`
	TreatedRate   *float64 `json:"treated_rate"`   // outcome rate when offered
	UntreatedRate *float64 `json:"untreated_rate"` // outcome rate when nothing was offered
	Observed      *float64 `json:"observed"`       // treated − untreated rate (null without both)
	Predicted     float64  `json:"predicted"`      // the model's mean effect on the probability
}

// maxSegments bounds UpliftReport.Segments: the most common features.
const maxSegments = 40

// UpliftReport computes an action's uplift report over the decisions logged since since.
// It reads the decision log once.
func (e *Engine) UpliftReport(ctx context.Context, id ActionID, since time.Time) (*UpliftReport, error) {
	e.mu.RLock()
	st := e.actions[id]
	enc := e.enc
	e.mu.RUnlock()
	if st == nil {
		return nil, errorf(ErrNotFound, "unknown_action", "no action %q", truncate(string(id), 128))
	}
	if st.uplift == nil {
		return nil, errorf(ErrUnprocessable, "no_objective", "action %q aims at no objective, so it has no uplift model (PUT the action with \"objective\")", truncate(string(id), 128))
	}
	rep := &UpliftReport{Action: id, Objective: st.action.Objective, Since: since, Segments: []SegmentEffect{}}
	m := st.uplift.model.Load()
	scale := effectScale(st.action.Model)
	schema := enc.SchemaHash()
	type seg struct {
		treated, untreated, tHits, uHits int
		predicted                        float64
	}
	segs := map[int32]*seg{}
	var obs []experiments.UpliftObservation
	var buf bandit.Vector
	err := e.store.Decisions(ctx, since, func(d *Decision) error {
		var label *Event
		for i := range d.Outcomes {
			if ev := &d.Outcomes[i]; ev.Objective == rep.Objective {
				label = ev
			}
		}
		if label == nil || d.Schema != schema || (label.ActionID != id && label.ActionID != "") {
			return nil
		}
		treated := label.ActionID == id
		hit := label.Outcome == LabelHit
		x := bandit.Vector(d.Features)
		if x.Validate(m.Config().Dim/2) != nil {
			return nil
		}
		effect := m.PredictUplift(x, scale, &buf).MeanEffect()
		kept := 1.0
		if hit {
			kept = 0
		}
		obs = append(obs, experiments.UpliftObservation{Score: -effect, Treated: treated, Outcome: kept})
		rep.Decisions++
		if treated {
			rep.Treated++
		} else {
			rep.Untreated++
		}
		for k, i := range x.Index {
			if x.Value[k] != 1 || i == 0 { // one-hot features; not the intercept
				continue
			}
			s := segs[i]
			if s == nil {
				s = &seg{}
				segs[i] = s
			}
			s.predicted += effect
			if treated {
				s.treated++
				if hit {
					s.tHits++
				}
			} else {
				s.untreated++
				if hit {
					s.uHits++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("uplift report of %q: %w", id, err)
	}
	rep.Qini = experiments.Qini(obs, 51)
	for i, s := range segs {
		se := SegmentEffect{Feature: enc.FeatureName(int(i)), Treated: s.treated, Untreated: s.untreated, Predicted: s.predicted / float64(s.treated+s.untreated)}
		if s.treated > 0 {
			r := float64(s.tHits) / float64(s.treated)
			se.TreatedRate = &r
		}
		if s.untreated > 0 {
			r := float64(s.uHits) / float64(s.untreated)
			se.UntreatedRate = &r
		}
		if se.TreatedRate != nil && se.UntreatedRate != nil {
			d := *se.TreatedRate - *se.UntreatedRate
			se.Observed = &d
		}
		rep.Segments = append(rep.Segments, se)
	}
	slices.SortFunc(rep.Segments, func(a, b SegmentEffect) int {
		return cmp.Or(cmp.Compare(b.Treated+b.Untreated, a.Treated+a.Untreated), cmp.Compare(a.Feature, b.Feature))
	})
	if len(rep.Segments) > maxSegments {
		rep.Segments = rep.Segments[:maxSegments]
	}
	return rep, nil
}
