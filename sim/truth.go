package sim

// ArmTruth is what the simulator knows about one arm at the end: realised counts (what it
// sent to the service, to check the service's own counts) and the ground truth.
type ArmTruth struct {
	Arm       string
	Customers int // customers in the arm

	// Realised: what happened and was sent to the service.
	Contacts     int     // offers made (inbound offers answered, outbound contacts read)
	Responses    int     // offers taken
	Churned      int     // customers who left
	Discount     float64 // retention discount money granted
	Discounted   int     // customers granted a retention discount
	NPSResponses int     // customers who answered a survey

	// Ground truth: expected values from the true probabilities.
	ExpResponses float64 // sum over contacts of P(taken)
	ExpDiscount  float64 // sum over discount offers of P(taken) x cost
	TwinChurned  int     // customers whose untouched twin left
	NPSReal      float64 // sum over first answers of E[NPS score | satisfaction]
	NPSTwin      float64 // the same with the twin's satisfaction at that moment

	// The true value of each of the four metrics for this arm (see Truth).
	ResponseRate float64 // responses per contact
	Churn        float64 // churned per customer
	DiscountPer  float64 // discount money per customer
	NPS          float64 // Net Promoter Score of respondents

	// The net value's parts, as the service counts them (docs/value.md), at their
	// expected values: the value of the responses (true probabilities times the value the
	// service logged), the discounts (ExpDiscount), the contact costs the service logged,
	// and the departures at what each is worth (SetChurnValue), real and untouched twin.
	ExpValue       float64
	ContactCost    float64
	ChurnValue     float64 // Σ value of the customers who left
	TwinChurnValue float64 // Σ value of the customers whose twin left
	NetValue       float64 // true net value per customer (see Truth)
}

// Truth is the ground truth of a run.
type Truth struct {
	Arms []ArmTruth
	// The population's untouched values: churn and NPS had nobody been contacted, and
	// the value lost to departures per customer.
	BaselineChurn      float64
	BaselineNPS        float64
	BaselineChurnValue float64
}

// Arm returns the named arm's truth.
func (t *Truth) Arm(name string) (ArmTruth, bool) {
	for _, a := range t.Arms {
		if a.Arm == name {
			return a, true
		}
	}
	return ArmTruth{}, false
}

// Truth sums the customers per arm (arm gives each customer's arm) and computes the true
// value of each metric:
//
//   - response rate: the expected responses of the offers the arm actually made (their
//     true probabilities, times the chance that an email's answer comes before the end),
//     per contact;
//   - churn: the population's untouched churn (every customer's twin, which lived through
//     the same luck with no contact) plus the arm's mean effect, (real - twin) departures
//     per customer;
//   - discount: the expected cost of the discount offers the arm made, per customer;
//   - NPS: the population's untouched NPS (twins' expected scores at the moment of each
//     first answer) plus the arm's mean effect on the expected score of its respondents;
//   - net value: the expected value of the arm's responses, minus its expected discount
//     cost and its contact costs, per customer, plus the population's untouched
//     departures' value and the arm's mean effect on it (each customer's departure at the
//     same value, real or twin, so that only the arm's effect on who leaves counts).
//
// Comparing real with twin customer by customer removes both the noise of chance
// outcomes and the luck of which customers fell in which arm.
func (w *World) Truth(arm func(customer string) string) Truth {
	var tr Truth
	index := map[string]int{}
	twinChurned, npsN := 0, 0
	npsTwin, twinValue := 0.0, 0.0
	for _, c := range w.cust {
		name := arm(c.id)
		i, ok := index[name]
		if !ok {
			i = len(tr.Arms)
			index[name] = i
			tr.Arms = append(tr.Arms, ArmTruth{Arm: name})
		}
		a := &tr.Arms[i]
		a.Customers++
		a.Contacts += c.contacts
		a.Responses += c.responses
		a.Discount += c.discount
		if c.discount > 0 {
			a.Discounted++
		}
		a.ExpResponses += c.expResp
		a.ExpDiscount += c.expDisc
		a.ExpValue += c.expValue
		a.ContactCost += c.contactCost
		v := 0.0
		if w.churnValue != nil && (c.real.churned || c.twin.churned) {
			v = w.churnValue(w.profile(c, w.day))
		}
		if c.real.churned {
			a.Churned++
			a.ChurnValue += v
		}
		if c.twin.churned {
			a.TwinChurned++
			a.TwinChurnValue += v
			twinChurned++
			twinValue += v
		}
		if c.npsFirst {
			a.NPSResponses++
			a.NPSReal += c.npsReal
			a.NPSTwin += c.npsTwin
			npsN++
			npsTwin += c.npsTwin
		}
	}
	tr.BaselineChurn = float64(twinChurned) / float64(len(w.cust))
	tr.BaselineChurnValue = twinValue / float64(len(w.cust))
	if npsN > 0 {
		tr.BaselineNPS = npsTwin / float64(npsN)
	}
	for i := range tr.Arms {
		a := &tr.Arms[i]
		if a.Contacts > 0 {
			a.ResponseRate = a.ExpResponses / float64(a.Contacts)
		}
		a.Churn = tr.BaselineChurn + float64(a.Churned-a.TwinChurned)/float64(a.Customers)
		a.DiscountPer = a.ExpDiscount / float64(a.Customers)
		a.NetValue = tr.BaselineChurnValue + (a.ExpValue-a.ExpDiscount-a.ContactCost+a.ChurnValue-a.TwinChurnValue)/float64(a.Customers)
		a.NPS = tr.BaselineNPS
		if a.NPSResponses > 0 {
			a.NPS += (a.NPSReal - a.NPSTwin) / float64(a.NPSResponses)
		}
	}
	return tr
}
