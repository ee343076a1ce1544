package experiments

import (
	"fmt"
	"math"
)

// NPS scores of one respondent (Reichheld 2003, "The One Number You Need to
// Grow", HBR): promoters rate 9–10, passives 7–8, detractors 0–6.
const (
	PromoterScore  = 100.0
	PassiveScore   = 0.0
	DetractorScore = -100.0
)

// NPSScore maps a 0–10 rating to a respondent's NPS score: +100 for a
// promoter (9–10), 0 for a passive (7–8), -100 for a detractor (0–6).
//
// The mean of these scores over n respondents is the Net Promoter Score
// 100·(p_pro − p_det). NPS is therefore an ordinary mean metric: a Summary
// of the scores gives its variance, and Welch's test compares two arms.
func NPSScore(rating int) (float64, error) {
	switch {
	case rating < 0 || rating > 10:
		return 0, fmt.Errorf("%w: NPS rating %d outside 0..10", ErrInvalidValue, rating)
	case rating >= 9:
		return PromoterScore, nil
	case rating >= 7:
		return PassiveScore, nil
	}
	return DetractorScore, nil
}

// NPSSummary is the Summary of the scores of promoters, passives and
// detractors, as from counting survey answers:
//
//	N = P + Q + D,   Σy = 100·(P − D),   Σy² = 100²·(P + D)
func NPSSummary(promoters, passives, detractors int) Summary {
	return Summary{
		N:     promoters + passives + detractors,
		Sum:   PromoterScore*float64(promoters) + DetractorScore*float64(detractors),
		SumSq: PromoterScore*PromoterScore*float64(promoters) + DetractorScore*DetractorScore*float64(detractors),
	}
}

// NPSVariance is the variance of the estimated Net Promoter Score from n
// respondents with promoter share pPro and detractor share pDet:
//
//	Var(NPS) = 100²·(pPro + pDet − (pPro − pDet)²)/n
//	         = 100²·(pPro(1−pPro) + pDet(1−pDet) + 2·pPro·pDet)/n
//
// The second line is the multinomial form Var(p̂) + Var(d̂) − 2Cov(p̂, d̂) in
// cybaea.net (2016), "Net Promoter Score confidence intervals 2: maths and
// stats". The first is the plug-in variance E[y²] − E[y]² of the ±100/0
// scores, divided by n. It is the maximum-likelihood (1/n) variance, so it
// is n/(n−1) times smaller than Summary.Variance()/n, which Compare uses.
func NPSVariance(pPro, pDet float64, n int) float64 {
	if n <= 0 {
		return math.NaN()
	}
	d := pPro - pDet
	return PromoterScore * PromoterScore * (pPro + pDet - d*d) / float64(n)
}
