package dashboards

import (
	"fmt"
	"math"
	"time"

	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/internal/numtext"
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
	// aucJudged is the fewest positive and negative outcomes each in the AUC window for a
	// model's ranking to be judged at all: with 20 of the rarer class the AUC's standard
	// error is about 0.07 (Hanley & McNeil 1982, table 1), so an AUC below weakAUC is
	// then more than a fluke of a handful of responses. With fewer the page says the
	// ranking is not judged yet, and does not call the model healthy.
	aucJudged = 20
	// weakAUC is the AUC below which a model's ranking is weak: 0.5 is a coin toss, and
	// Hosmer & Lemeshow (Applied Logistic Regression, 2nd ed. 2000, section 5.2.4) call
	// 0.5 to 0.7 poor discrimination. An AUC of 0.53 after 25,000 choices is a model
	// that does not rank, however long it has run.
	weakAUC = 0.6
)

// windowCounts counts the positive and negative outcomes in a model's AUC window, from
// its calibration bins (each bin's count times its observed rate); with no bins, from the
// window's size and the model's overall share of positives.
func windowCounts(h engine.Health) (pos, neg int) {
	for _, b := range h.Calibration {
		if b.ObservedRate != nil && b.Count > 0 {
			p := int(math.Round(float64(b.Count) * *b.ObservedRate))
			pos, neg = pos+p, neg+b.Count-p
		}
	}
	if pos+neg == 0 && h.Responses > 0 && h.AUCWindow > 0 {
		w := float64(min(int64(h.AUCWindow), h.Responses))
		pos = int(math.Round(w * float64(h.Positives) / float64(h.Responses)))
		neg = int(w) - pos
	}
	return pos, neg
}

// ranking judges a model's ranking from its windowed AUC: not judged while the window
// holds fewer than aucJudged positive or negative outcomes; weak below weakAUC.
type ranking struct {
	Judged   bool
	Weak     bool
	Pos, Neg int
	AUC      float64
}

func rankingOf(h engine.Health) ranking {
	pos, neg := windowCounts(h)
	r := ranking{Pos: pos, Neg: neg}
	if h.AUC == nil || pos < aucJudged || neg < aucJudged {
		return r
	}
	r.Judged, r.AUC, r.Weak = true, *h.AUC, *h.AUC < weakAUC
	return r
}

// outcomeWords name what a model predicts, for rankingText.
type outcomeWords struct {
	noun     string // "responses"
	pos, neg string // "positive responses", "negative ones"
	posShort string // "positive", in "(30 positive)"
}

var responseWords = outcomeWords{noun: "responses", pos: "positive responses", neg: "negative ones", posShort: "positive"}

// labelWords names the labels of an objective: "churn labels", "where churn occurred".
func labelWords(objective string) outcomeWords {
	return outcomeWords{noun: objective + " labels", pos: "labels where " + objective + " occurred", neg: "where it did not", posShort: "where " + objective + " occurred"}
}

// rankingText says how a model ranks, in a sentence.
func rankingText(r ranking, w outcomeWords) string {
	switch {
	case !r.Judged:
		return fmt.Sprintf("Ranking not judged yet: the AUC window holds %s %s and %s %s; at least %d of each are needed.",
			numtext.Group(float64(r.Pos), 0), w.pos, numtext.Group(float64(r.Neg), 0), w.neg, aucJudged)
	case r.Weak:
		return fmt.Sprintf("Weak ranking: AUC %s over the last %s %s (%s %s). The model barely tells them apart (0.5 is a coin toss): what it sees does not predict them, or it has not learnt how yet.",
			numtext.Fixed(r.AUC, 3), numtext.Group(float64(r.Pos+r.Neg), 0), w.noun, numtext.Group(float64(r.Pos), 0), w.posShort)
	}
	return fmt.Sprintf("Ranks: AUC %s over the last %s %s (%s %s).", numtext.Fixed(r.AUC, 3), numtext.Group(float64(r.Pos+r.Neg), 0), w.noun, numtext.Group(float64(r.Pos), 0), w.posShort)
}

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
//   - weak ranking: the AUC window holds at least aucJudged positive and negative
//     responses and the AUC is below weakAUC;
//   - AUC drop: the current windowed AUC is more than aucDrop below the best AUC of the
//     stored versions. Only windows with at least aucEvidence positive and negative
//     responses count, the current one included.
func modelWarnings(info engine.ModelInfo, versions []engine.Snapshot, now time.Time) []modelWarning {
	var out []modelWarning
	h := info.Health
	switch {
	case h.Responses == 0 && info.Chosen >= stallChosen:
		out = append(out, modelWarning{Kind: "not-learning", Text: fmt.Sprintf("Not learning: NBA chose this action %s times, but no response to it has been learnt. Check that feedback is sent for it (POST /v1/feedback), or that implicit negatives are on.", numtext.Group(float64(info.Chosen), 0))})
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
				fmtTime(since.Time), since.Version, numtext.Group(float64(info.Chosen-since.Chosen), 0))})
		}
	}
	if r := rankingOf(h); r.Weak {
		out = append(out, modelWarning{Kind: "weak-ranking", Text: rankingText(r, responseWords)})
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
				numtext.Fixed(*h.AUC, 3), numtext.Fixed(best, 3), bestV.Version, fmtDay(bestV.Time))})
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
