package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// state is a customer's hidden state. Each customer has two: the real one, which the
// service's actions change, and an untouched twin that lives through the same luck (the
// same random draws) without any contact at all. The twin is the counterfactual that the
// ground truth is measured against.
type state struct {
	plan        int
	allowance   float64 // GB a month, add-on included; 0 = unlimited
	price       float64 // plan price a month, add-on included, before discount
	addon       bool
	discountPct float64
	discountEnd int // day index the discount ends
	contractEnd int // day index the contract ends (a bill day); < today: out of contract
	cycleUsed   float64
	lastBill    float64
	billChange  float64 // percent, last bill against the one before
	overage     bool
	network     bool
	dispute     bool
	ticket      string // open ticket: "", "network", "billing"
	sat         float64
	fatigue     float64
	alert       int // last usage alert: 0, 80, 100 (% of the allowance)
	churned     bool
	churnedAt   time.Time
}

// customer is one simulated customer: fixed traits, the real and twin states, the plan of
// the current day, and what the ground truth needs.
type customer struct {
	id      string
	idx     int
	tenure0 int     // tenure in months on day 0
	sens    float64 // price sensitivity in [0, 1]
	need    float64 // monthly data need, GB
	area    float64 // network problem rate multiplier
	sat0    float64 // the satisfaction it returns to
	cycle   int     // bill day: days d with (d + cycle) % 30 == 0
	app     bool
	real    state
	twin    state

	arm string // the experiment arm, as the service said

	// Ground truth and realised counts, per customer (summed per arm at the end).
	contacts    int     // offers the service made (inbound offers and outbound contacts)
	expResp     float64 // expected responses to them (true probabilities)
	expValue    float64 // expected value of the responses (true probabilities x the value logged)
	contactCost float64 // the contact costs the service logged for the offers made
	responses   int     // responses that happened (feedback sent)
	expDisc     float64 // expected discount cost of the offers made
	discount    float64 // discount cost that happened (outcomes sent)
	npsAnswers  int     // survey answers sent
	npsFirst    bool    // the first answer has been given
	npsReal     float64 // expected NPS score (-100..100) of the first answer, real state
	npsTwin     float64 // the same for the twin, at the same moment
}

// create draws customer idx from its own stream.
func (w *World) create(idx int) *customer {
	p := &w.p.Population
	r := w.stream(purposeCreate, uint64(idx))
	c := &customer{id: fmt.Sprintf("c%06d", idx), idx: idx}

	plan := len(p.Plans) - 1
	u := r.Float64()
	for i, pl := range p.Plans {
		if u < pl.Share {
			plan = i
			break
		}
		u -= pl.Share
	}
	pl := p.Plans[plan]
	if r.Float64() < p.FirstYearShare {
		c.tenure0 = r.IntN(12)
	} else {
		c.tenure0 = 12 + int(r.ExpFloat64()*p.TenureMeanMonths)
	}
	c.sens = clamp(betaDraw(r, p.SensitivityA, p.SensitivityB)+pl.SensitivityShift, 0, 1)
	c.need = pl.UsageMedianGB * math.Exp(pl.UsageSpread*r.NormFloat64())
	c.area = math.Exp(p.AreaSpread*r.NormFloat64() - p.AreaSpread*p.AreaSpread/2) // mean 1
	c.sat0 = clamp(p.SatisfactionMean+p.SatisfactionSpread*r.NormFloat64(), 1, 10)
	c.cycle = r.IntN(30)
	c.app = r.Float64() < p.AppShare

	st := state{plan: plan, allowance: pl.AllowanceGB, price: pl.Price, sat: c.sat0, contractEnd: -1}
	if r.Float64() < p.InContractShare {
		firstBill := (30 - c.cycle) % 30
		st.contractEnd = firstBill + (r.IntN(p.ContractMonths))*30
	}
	st.cycleUsed = c.need * float64(c.cycle) / 30
	st.lastBill = pl.Price
	st.alert = usageBand(st.cycleUsed, st.allowance)
	prev := w.p.Network.StartPerDay * c.area / (w.p.Network.StartPerDay*c.area + w.p.Network.ResolvePerDay)
	st.network = r.Float64() < prev
	st.dispute = r.Float64() < w.p.Billing.DisputePerCycle
	if st.network {
		st.sat = clamp(st.sat-1, 0, 10)
	}
	c.real, c.twin = st, st
	return c
}

// betaDraw draws Beta(a, b) as X/(X+Y) with X, Y Gamma(a), Gamma(b); integer shapes are
// sums of exponentials, which is all world.yaml needs, other shapes use Marsaglia-Tsang.
func betaDraw(r *rand.Rand, a, b float64) float64 {
	x, y := gammaDraw(r, a), gammaDraw(r, b)
	return x / (x + y)
}

// gammaDraw draws Gamma(k, 1) (Marsaglia and Tsang, "A simple method for generating gamma
// variables", ACM TOMS 26(3), 2000).
func gammaDraw(r *rand.Rand, k float64) float64 {
	if k < 1 {
		return gammaDraw(r, k+1) * math.Pow(r.Float64(), 1/k)
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// usageBand is the last usage alert a customer has had this cycle: 80 or 100 (% of the
// allowance, the text messages operators send), or 0; always 0 on an unlimited plan.
func usageBand(used, allowance float64) int {
	if allowance <= 0 {
		return 0
	}
	pct := 100 * used / allowance
	switch {
	case pct >= 100:
		return 100
	case pct >= 80:
		return 80
	}
	return 0
}

// tenure is the customer's tenure in months on day d.
func (c *customer) tenure(d int) int { return c.tenure0 + (d+c.cycle)/30 }

// billDay reports whether day d is the customer's bill day.
func (c *customer) billDay(d int) bool { return (d+c.cycle)%30 == 0 }

// monthsToEnd is what the CRM shows as months_to_contract_end: 0 out of contract.
func monthsToEnd(st *state, d int) int {
	if st.contractEnd <= d {
		return 0
	}
	return (st.contractEnd - d + 29) / 30
}

// hazard is the probability that the customer decides to leave on day d in state st.
func (w *World) hazard(c *customer, st *state, d int) float64 {
	p := &w.p.Churn
	h := p.BaseMonthly / 30 * math.Exp(p.Sensitivity*(c.sens-p.SensitivityCenter))
	switch m := monthsToEnd(st, d); {
	case m == 0:
		h *= p.OutOfContract
	case m <= p.NearEndMonths:
		h *= p.NearEnd
	default:
		h *= p.InContract
	}
	if c.tenure(d) < 12 {
		h *= p.FirstYear
	}
	if st.network {
		h *= p.NetworkProblem
	}
	if st.dispute {
		h *= p.BillingDispute
	}
	if st.overage {
		h *= p.Overage
	}
	h *= math.Exp(-p.Satisfaction * (st.sat - p.SatisfactionRef))
	h *= 1 + p.Fatigue*st.fatigue
	if st.discountPct > 0 && d < st.discountEnd {
		h *= math.Max(0.1, 1-p.DiscountEffect*c.sens*st.discountPct)
	}
	return math.Min(h, 0.5)
}

// risk is ln(hazard / reference hazard), clipped: how much more likely than a reference
// customer this one is to leave today.
func (w *World) risk(c *customer, st *state, d int) float64 {
	return clamp(math.Log(w.hazard(c, st, d)/(w.p.Churn.BaseMonthly/30)), -2, 3)
}

// profile is what the CRM shows of the real state on day d.
func (w *World) profile(c *customer, d int) map[string]any {
	st := &c.real
	ticket := st.ticket
	if ticket == "" {
		ticket = "none"
	}
	status := "active"
	if st.churned {
		status = "churned"
	}
	return map[string]any{
		"tenure_months":          c.tenure(d),
		"plan":                   w.p.Population.Plans[st.plan].Name,
		"monthly_spend":          math.Round(st.lastBill),
		"months_to_contract_end": monthsToEnd(st, d),
		"data_used_pct":          st.alert,
		"dropped_calls_7d":       w.dropped(c, d, st.network),
		"last_bill_change_pct":   math.Round(st.billChange),
		"open_ticket":            ticket,
		"discount_pct":           st.discountPct,
		"has_app":                c.app,
		"status":                 status,
	}
}

// dropped is the CRM's count of dropped calls in the last 7 days: network telemetry.
func (w *World) dropped(c *customer, d int, problem bool) int {
	mean := w.p.Network.DroppedBaseline
	if problem {
		mean = w.p.Network.DroppedWithIssue
	}
	n := poisson(w.stream(purposeDay, uint64(c.idx), uint64(d), 99), mean)
	if problem && n == 0 {
		n = 1
	}
	return n
}

// draws are one customer's random numbers for one day, drawn in a fixed order so that the
// real state and the twin live through the same luck.
type draws struct {
	usage                                 float64 // N(0, 1)
	surveyNoise                           float64 // N(0, 1)
	netStart, netResolve                  float64
	roaming, roamingAmount                float64
	shockDispute, baseDispute, disputeEnd float64
	intent, intentTime, cancelPath        float64
	web, webTime, webPage, webDevice      float64
	app, appTime, appPage, appDevice      float64
	call, callTime, callReason            float64
	survey, surveyTime                    float64
}

func (w *World) dayDraws(c *customer, d int) draws {
	r := w.stream(purposeDay, uint64(c.idx), uint64(d))
	var x draws
	x.usage = r.NormFloat64()
	x.surveyNoise = r.NormFloat64()
	for _, f := range []*float64{&x.netStart, &x.netResolve, &x.roaming, &x.roamingAmount, &x.shockDispute, &x.baseDispute, &x.disputeEnd,
		&x.intent, &x.intentTime, &x.cancelPath, &x.web, &x.webTime, &x.webPage, &x.webDevice, &x.app, &x.appTime, &x.appPage, &x.appDevice,
		&x.call, &x.callTime, &x.callReason, &x.survey, &x.surveyTime} {
		*f = r.Float64()
	}
	return x
}

// changes records what evolve changed that the CRM sees.
type changes struct {
	bill, usage, network, dispute, discount, contract bool
}

// evolve moves st through the start of day d: usage, the bill, network problems, disputes,
// satisfaction and fatigue, the end of a discount.
func (w *World) evolve(c *customer, st *state, d int, x *draws) changes {
	var ch changes
	p := w.p
	if c.billDay(d) {
		over := 0.0
		if st.allowance > 0 {
			over = math.Max(0, st.cycleUsed-st.allowance)
		}
		bill := st.price
		if st.discountPct > 0 && d < st.discountEnd {
			bill *= 1 - st.discountPct/100
		}
		bill += over * p.Usage.OveragePerGB
		if x.roaming < p.Billing.RoamingPerCycle {
			bill += p.Billing.RoamingMean * -math.Log(1-x.roamingAmount)
		}
		st.billChange = 100 * (bill - st.lastBill) / st.lastBill
		st.lastBill = bill
		if !st.dispute && (st.billChange >= p.Billing.ShockPct && x.shockDispute < p.Billing.DisputeGivenShock || x.baseDispute < p.Billing.DisputePerCycle) {
			st.dispute = true
			ch.dispute = true
		}
		st.cycleUsed, st.alert, st.overage = 0, 0, false
		ch.bill, ch.usage, ch.contract = true, true, true
	}
	st.cycleUsed += c.need / 30 * math.Exp(p.Usage.DailyNoise*x.usage-p.Usage.DailyNoise*p.Usage.DailyNoise/2)
	if st.allowance > 0 {
		st.overage = st.cycleUsed > st.allowance
		if b := usageBand(st.cycleUsed, st.allowance); b > st.alert {
			st.alert = b
			ch.usage = true
		}
	}
	switch {
	case !st.network && x.netStart < p.Network.StartPerDay*c.area:
		st.network, ch.network = true, true
	case st.network:
		rate := p.Network.ResolvePerDay
		if st.ticket == "network" {
			rate = p.Network.TicketResolve
		}
		if x.netResolve < rate {
			st.network, ch.network = false, true
			if st.ticket == "network" {
				st.ticket = ""
			}
		}
	}
	if st.dispute && !ch.dispute && x.disputeEnd < p.Billing.ResolvePerDay {
		st.dispute, ch.dispute = false, true
		if st.ticket == "billing" {
			st.ticket = ""
		}
	}
	if st.discountPct > 0 && d >= st.discountEnd {
		st.discountPct, ch.discount = 0, true
	}
	s := &p.Satisfaction
	st.sat += s.Reversion * (c.sat0 - st.sat)
	if st.network {
		st.sat -= s.NetworkPerDay
	}
	if st.dispute {
		st.sat -= s.DisputePerDay
	}
	if st.overage {
		st.sat -= s.OveragePerDay
	}
	st.sat = clamp(st.sat, 0, 10)
	st.fatigue *= 1 - s.FatigueDecay
	return ch
}

// expectedNPS is E[100 x (promoter - detractor)] for an answer round(sat + N(0, sd)):
// promoters answer 9-10 (sat + noise >= 8.5), detractors 0-6 (< 6.5).
func expectedNPS(sat, sd float64) float64 {
	phi := func(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }
	return 100 * ((1 - phi((8.5-sat)/sd)) - phi((6.5-sat)/sd))
}

// npsAnswer is the answer a customer with satisfaction sat gives, with noise z ~ N(0, 1).
func npsAnswer(sat, sd, z float64) int {
	return int(clamp(math.Round(sat+sd*z), 0, 10))
}
