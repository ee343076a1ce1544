package bandit

import (
	"math"
	"slices"
)

// CalibrationBins is the number of equal-width bins over [0, 1] in
// Health.Calibration.
const CalibrationBins = 10

// logLossEps clips predictions to [eps, 1−eps] before taking logs, the
// convention of scikit-learn's log_loss, so one confident miss cannot make
// the window's log loss infinite.
const logLossEps = 1e-15

// Health is a snapshot of a model's track record. The window statistics
// (AUC, Calibration, LogLoss) use the last AUCWindow events, each scored by
// the propensity the model predicted before learning that event
// (predict-then-learn), so they measure out-of-sample performance.
type Health struct {
	// Responses is the number of events learnt; Positives how many were positive.
	Responses, Positives int64
	// Rejected counts events ignored because their vector gave a non-finite
	// prediction (for example a NaN feature value).
	Rejected int64
	// Evidence is Σ of event weights, each decayed by the forgetting factor
	// since it was learnt; equal to Responses when forgetting is off.
	Evidence float64
	// AUC is the area under the ROC curve over the window: the Mann–Whitney
	// probability that a positive outscores a negative, ties counting ½. It is
	// NaN when the window has no positive or no negative (AUC is undefined);
	// note that encoding/json rejects NaN.
	AUC float64
	// AUCWindow is the number of (score, outcome) pairs in the window.
	AUCWindow int
	// Calibration holds CalibrationBins equal-width bins over [0, 1]; their
	// Counts sum to AUCWindow.
	Calibration []CalibrationBin
	// LogLoss is the mean of −[y log p + (1−y) log(1−p)] over the window, p
	// clipped to [1e-15, 1−1e-15]; NaN when the window is empty.
	LogLoss float64
}

// CalibrationBin summarises the window's events whose predicted propensity
// fell in [Lo, Hi) (the last bin includes 1).
type CalibrationBin struct {
	Lo, Hi float64
	// Count is the number of events in the bin.
	Count int
	// MeanPredicted is the mean predicted propensity; 0 when Count is 0.
	MeanPredicted float64
	// ObservedRate is the fraction of positives; 0 when Count is 0.
	ObservedRate float64
}

// window holds the last size (score, outcome) pairs. The slices grow by
// append until they hold size pairs, so a model that has seen few events
// costs little memory, and then act as a ring whose oldest pair is at next.
type window struct {
	size  int
	score []float64
	pos   []bool
	next  int // once full: the oldest pair, overwritten next
}

func newWindow(size int) window { return window{size: size} }

// len returns the number of pairs held.
func (w *window) len() int { return len(w.score) }

func (w *window) observe(score float64, positive bool) {
	if len(w.score) < w.size {
		w.score = append(w.score, score)
		w.pos = append(w.pos, positive)
		return
	}
	w.score[w.next] = score
	w.pos[w.next] = positive
	w.next++
	if w.next == w.size {
		w.next = 0
	}
}

// ordered calls fn for each pair from oldest to newest.
func (w *window) ordered(fn func(score float64, positive bool)) {
	n := len(w.score)
	for k := range n {
		i := w.next + k
		if i >= n {
			i -= n
		}
		fn(w.score[i], w.pos[i])
	}
}

func (w *window) clone() window {
	return window{size: w.size, score: cloneFloats(w.score), pos: slices.Clone(w.pos), next: w.next}
}

// health computes the window statistics into h.
func (w *window) health(h *Health) {
	n := w.len()
	h.AUCWindow = n
	scores := make([]float64, 0, n)
	pos := make([]bool, 0, n)
	w.ordered(func(s float64, p bool) {
		scores = append(scores, s)
		pos = append(pos, p)
	})
	h.AUC = aucRanks(scores, pos)
	h.Calibration = calibration(scores, pos)
	h.LogLoss = logLoss(scores, pos)
}

// aucRanks is the ROC AUC by the Mann–Whitney U statistic with mid-ranks for
// ties (Hanley & McNeil 1982, "The meaning and use of the area under a ROC
// curve", Radiology 143; Mann & Whitney 1947):
//
//	AUC = (R₊ − n₊(n₊+1)/2) / (n₊ n₋),
//
// R₊ the sum of the positives' ranks among all scores. O(n log n); NaN when
// n₊ or n₋ is 0.
func aucRanks(scores []float64, pos []bool) float64 {
	n := len(scores)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case scores[a] < scores[b]:
			return -1
		case scores[a] > scores[b]:
			return 1
		}
		return 0
	})
	var rankSum float64
	var nPos int
	for i := 0; i < n; {
		j := i + 1
		for j < n && scores[order[j]] == scores[order[i]] {
			j++
		}
		mid := float64(i+1+j) / 2 // mean of ranks i+1 … j
		for _, k := range order[i:j] {
			if pos[k] {
				rankSum += mid
				nPos++
			}
		}
		i = j
	}
	nNeg := n - nPos
	if nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	np := float64(nPos)
	return (rankSum - np*(np+1)/2) / (np * float64(nNeg))
}

// calibration bins the scores into CalibrationBins equal-width bins over [0, 1].
func calibration(scores []float64, pos []bool) []CalibrationBin {
	bins := make([]CalibrationBin, CalibrationBins)
	for b := range bins {
		bins[b].Lo = float64(b) / CalibrationBins
		bins[b].Hi = float64(b+1) / CalibrationBins
	}
	for i, s := range scores {
		b := int(s * CalibrationBins)
		b = min(max(b, 0), CalibrationBins-1)
		bins[b].Count++
		bins[b].MeanPredicted += s
		if pos[i] {
			bins[b].ObservedRate++
		}
	}
	for b := range bins {
		if c := bins[b].Count; c > 0 {
			bins[b].MeanPredicted /= float64(c)
			bins[b].ObservedRate /= float64(c)
		}
	}
	return bins
}

// logLoss is the mean binary cross-entropy, predictions clipped by logLossEps.
func logLoss(scores []float64, pos []bool) float64 {
	if len(scores) == 0 {
		return math.NaN()
	}
	var sum float64
	for i, s := range scores {
		p := min(max(s, logLossEps), 1-logLossEps)
		if pos[i] {
			sum -= math.Log(p)
		} else {
			sum -= math.Log1p(-p)
		}
	}
	return sum / float64(len(scores))
}
