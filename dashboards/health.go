package dashboards

import (
	"fmt"
	"time"

	"github.com/nextbest/nextbest/engine"
)

// Rules for a model's warnings, stated on the model pages.
const (
	// stallChosen is how many NBA decisions must choose an action, with no new response
	// learnt, before the model counts as not learning: at a 10% response rate, 100
	// decisions without a single response happen with probability 0.9^100 < 0.003%.
	stallChosen = 100
	// stallAge is how long responses must have been flat before the warning.
	stallAge = 24 * time.Hour
	// aucDrop is how far the current AUC may fall below the best AUC of the stored
	// versions before a warning: 0.05 is the difference between a fair and a poor
	// ranking model on the usual scale (0.5 random, 0.7 fair, 0.8 good).
	aucDrop = 0.05
	// aucEvidence is the fewest positive and negative responses each in an AUC window
	// for the AUC to be compared: with 100 of the rarer class the AUC's standard error
	// is about 0.03-0.04 (Hanley & McNeil 1982, table 1), small enough for a 0.05 drop
	// to mean something; with 20 it is about 0.08.
	aucEvidence = 100
)

// modelWarning is one problem with a model, in plain language.
type modelWarning struct {
	Kind string // "not-learning", "stalled", "auc-drop"
	Text string
}

// modelWarnings applies the rules to a model and its stored versions (newest first):
//
//   - not learning: NBA chose the action at least stallChosen times and no response has
//     ever been learnt;
//   - stopped learning: the learnt responses have not changed since a version stored at
//     least stallAge ago, while NBA chose the action at least stallChosen times since;
//   - AUC drop: the current windowed AUC is more than aucDrop below the best AUC of the
//     stored versions. Only windows with at least aucEvidence positive and negative
//     responses count, the current one included.
func modelWarnings(info engine.ModelInfo, versions []engine.Snapshot, now time.Time) []modelWarning {
	var out []modelWarning
	h := info.Health
	switch {
	case h.Responses == 0 && info.Chosen >= stallChosen:
		out = append(out, modelWarning{Kind: "not-learning", Text: fmt.Sprintf("Not learning: NBA chose this action %s times, but no response to it has been learnt. Check that feedback is sent for it (POST /v1/feedback), or that implicit negatives are on.", group(float64(info.Chosen), 0))})
	case h.Responses > 0:
		// The oldest stored version that already had every response learnt so far.
		var since *engine.Snapshot
		for i := range versions {
			if versions[i].Responses != h.Responses {
				break
			}
			since = &versions[i]
		}
		if since != nil && now.Sub(since.Time) >= stallAge && info.Chosen-since.Chosen >= stallChosen {
			out = append(out, modelWarning{Kind: "stalled", Text: fmt.Sprintf("Stopped learning: no new response since %s (version %d), although NBA chose this action %s times since. Check the feedback pipeline for it.",
				fmtTime(since.Time), since.Version, group(float64(info.Chosen-since.Chosen), 0))})
		}
	}
	if h.AUC != nil && enoughForAUC(h.Responses, h.Positives, h.AUCWindow) {
		best, bestV := -1.0, engine.Snapshot{}
		for _, v := range versions {
			if v.AUC != nil && *v.AUC > best && enoughForAUC(v.Responses, v.Positives, min(int(v.Responses), h.AUCWindow)) {
				best, bestV = *v.AUC, v
			}
		}
		if best >= 0 && best-*h.AUC > aucDrop {
			out = append(out, modelWarning{Kind: "auc-drop", Text: fmt.Sprintf("AUC dropped: %s now, against %s at version %d (%s). The customers or their responses may have changed; consider forgetting (model.half_life) or a look at recent decisions.",
				fixed(*h.AUC, 3), fixed(best, 3), bestV.Version, fmtDay(bestV.Time))})
		}
	}
	return out
}

// enoughForAUC reports whether an AUC window of the given size holds at least aucEvidence
// positive and negative responses, estimated from the model's totals (the window holds
// the newest responses; their mix is taken to be the overall one).
func enoughForAUC(responses, positives int64, window int) bool {
	if responses <= 0 || window <= 0 {
		return false
	}
	share := float64(positives) / float64(responses)
	w := float64(min(int64(window), responses))
	return share*w >= aucEvidence && (1-share)*w >= aucEvidence
}
