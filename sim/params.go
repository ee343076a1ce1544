package sim

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"gopkg.in/yaml.v3"
)

// defaultWorld is world.yaml: every parameter of the world, with why its value is
// plausible.
//
//go:embed world.yaml
var defaultWorld []byte

// Params is the whole world: who the customers are, how they behave, and the scenario
// the simulator sets up on the service (legacy campaigns, experiment, features schema).
// world.yaml documents every field.
type Params struct {
	Population   Population   `yaml:"population"`
	Usage        Usage        `yaml:"usage"`
	Network      Network      `yaml:"network"`
	Billing      Billing      `yaml:"billing"`
	Churn        Churn        `yaml:"churn"`
	Satisfaction Satisfaction `yaml:"satisfaction"`
	NPS          NPS          `yaml:"nps"`
	Interactions Interactions `yaml:"interactions"`
	Responses    Responses    `yaml:"responses"`
	Effects      Effects      `yaml:"effects"`
	Scenario     Scenario     `yaml:"scenario"`
}

// Plan is one tariff.
type Plan struct {
	Name             string  `yaml:"name"`
	Share            float64 `yaml:"share"`
	Price            float64 `yaml:"price"`        // euros per month
	AllowanceGB      float64 `yaml:"allowance_gb"` // 0 = unlimited
	UsageMedianGB    float64 `yaml:"usage_median_gb"`
	UsageSpread      float64 `yaml:"usage_spread"`      // sigma of ln(monthly need)
	SensitivityShift float64 `yaml:"sensitivity_shift"` // added to price sensitivity
}

// Population draws the customers.
type Population struct {
	Plans              []Plan  `yaml:"plans"`
	FirstYearShare     float64 `yaml:"first_year_share"`
	TenureMeanMonths   float64 `yaml:"tenure_mean_months"` // beyond the first year, exponential
	InContractShare    float64 `yaml:"in_contract_share"`
	ContractMonths     int     `yaml:"contract_months"`
	SensitivityA       float64 `yaml:"sensitivity_a"` // Beta(a, b) price sensitivity
	SensitivityB       float64 `yaml:"sensitivity_b"`
	AppShare           float64 `yaml:"app_share"`
	AreaSpread         float64 `yaml:"area_spread"` // sigma of ln(network problem rate multiplier)
	SatisfactionMean   float64 `yaml:"satisfaction_mean"`
	SatisfactionSpread float64 `yaml:"satisfaction_spread"`
}

// Usage is mobile data use and its charges.
type Usage struct {
	DailyNoise   float64 `yaml:"daily_noise"` // sigma of ln(daily use / mean daily use)
	OveragePerGB float64 `yaml:"overage_per_gb"`
	AddonGB      float64 `yaml:"addon_gb"`
	AddonPrice   float64 `yaml:"addon_price"`
}

// Network is problems on a customer's line.
type Network struct {
	StartPerDay      float64 `yaml:"start_per_day"`
	ResolvePerDay    float64 `yaml:"resolve_per_day"`
	TicketResolve    float64 `yaml:"ticket_resolve_per_day"`
	DroppedWithIssue float64 `yaml:"dropped_calls_with_problem"` // mean dropped calls a week
	DroppedBaseline  float64 `yaml:"dropped_calls_baseline"`
}

// Billing is bills, bill shocks and disputes.
type Billing struct {
	RoamingPerCycle   float64 `yaml:"roaming_per_cycle"`
	RoamingMean       float64 `yaml:"roaming_mean"`
	ShockPct          float64 `yaml:"shock_pct"`
	DisputeGivenShock float64 `yaml:"dispute_given_shock"`
	DisputePerCycle   float64 `yaml:"dispute_per_cycle"`
	ResolvePerDay     float64 `yaml:"resolve_per_day"`
}

// Churn is the daily hazard of deciding to leave, and what changes it.
type Churn struct {
	BaseMonthly       float64 `yaml:"base_monthly"`
	Sensitivity       float64 `yaml:"price_sensitivity"` // log-hazard per unit of price sensitivity
	SensitivityCenter float64 `yaml:"price_sensitivity_center"`
	InContract        float64 `yaml:"in_contract"`
	NearEnd           float64 `yaml:"near_contract_end"`
	NearEndMonths     int     `yaml:"near_contract_end_months"`
	OutOfContract     float64 `yaml:"out_of_contract"`
	FirstYear         float64 `yaml:"first_year"`
	NetworkProblem    float64 `yaml:"network_problem"`
	BillingDispute    float64 `yaml:"billing_dispute"`
	Overage           float64 `yaml:"overage"`
	Satisfaction      float64 `yaml:"satisfaction"` // log-hazard per point of satisfaction below the center
	SatisfactionRef   float64 `yaml:"satisfaction_center"`
	Fatigue           float64 `yaml:"fatigue"`         // hazard x (1 + fatigue x units)
	DiscountEffect    float64 `yaml:"discount_effect"` // hazard x (1 - effect x sensitivity x percent)
	CallFirst         float64 `yaml:"call_first"`      // a leaving customer calls to cancel
	WebFirst          float64 `yaml:"web_first"`       // ... or opens the cancel page
}

// Satisfaction moves a customer's hidden satisfaction (0 to 10).
type Satisfaction struct {
	Reversion       float64 `yaml:"reversion_per_day"`
	NetworkPerDay   float64 `yaml:"network_problem_per_day"`
	DisputePerDay   float64 `yaml:"billing_dispute_per_day"`
	OveragePerDay   float64 `yaml:"overage_per_day"`
	FixBonus        float64 `yaml:"fix_bonus"`
	ExplainBonus    float64 `yaml:"explanation_bonus"`
	AcceptBonus     float64 `yaml:"accepted_offer_bonus"`
	IgnoredOutbound float64 `yaml:"ignored_outbound"`
	IgnoredInbound  float64 `yaml:"ignored_inbound"`
	FatigueDecay    float64 `yaml:"fatigue_decay_per_day"`
	FatigueOutbound float64 `yaml:"fatigue_outbound"`
	FatigueInbound  float64 `yaml:"fatigue_inbound"`
	FatigueCall     float64 `yaml:"fatigue_call"`
}

// NPS is the surveys.
type NPS struct {
	AnswerNoise     float64 `yaml:"answer_noise"`
	InvitePerDay    float64 `yaml:"invite_per_day"`
	ResponseRate    float64 `yaml:"response_rate"`
	AfterCallAnswer float64 `yaml:"after_call_answer"`
}

// Interactions is how often customers come to us, and why.
type Interactions struct {
	WebPerDay     float64 `yaml:"web_per_day"`
	AppPerDay     float64 `yaml:"app_per_day"`
	CallPerDay    float64 `yaml:"call_per_day"`
	NeedBoost     float64 `yaml:"need_boost"`
	CallNetwork   float64 `yaml:"call_network_per_day"`
	CallDispute   float64 `yaml:"call_dispute_per_day"`
	FirstHour     int     `yaml:"first_hour"`
	LastHour      int     `yaml:"last_hour"`
	EmailLagHours float64 `yaml:"email_lag_hours"` // mean of the exponential response lag
	EmailMinLag   float64 `yaml:"email_min_lag_hours"`
}

// Responses are the ground-truth response functions: logits of P(accept).
type Responses struct {
	Channel         map[string]float64 `yaml:"channel"`
	RetentionBase   float64            `yaml:"retention_base"`
	RetentionPct    float64            `yaml:"retention_per_percent"`
	RetentionSens   float64            `yaml:"retention_price_sensitivity"`
	RetentionRisk   float64            `yaml:"retention_risk"`
	RetentionLeave  float64            `yaml:"retention_leaving"`
	AddonBase       float64            `yaml:"addon_base"`
	AddonNear       float64            `yaml:"addon_near_allowance"`
	UpgradeBase     float64            `yaml:"upgrade_base"`
	UpgradeOver     float64            `yaml:"upgrade_overuse"`
	UpgradeSens     float64            `yaml:"upgrade_price_sensitivity"`
	FixProblem      float64            `yaml:"fix_with_problem"`
	FixNone         float64            `yaml:"fix_without_problem"`
	ExplainDispute  float64            `yaml:"explain_with_dispute"`
	ExplainNone     float64            `yaml:"explain_without_dispute"`
	DeviceNear      float64            `yaml:"device_near_end"`
	DeviceElse      float64            `yaml:"device_elsewhere"`
	DeviceSens      float64            `yaml:"device_price_sensitivity"`
	DeviceTenure    float64            `yaml:"device_per_tenure_year"`
	Other           float64            `yaml:"other"`
	SaveWhenFixed   float64            `yaml:"save_when_cause_fixed"`
	SaveOtherwise   float64            `yaml:"save_otherwise"`
	FixSuccess      float64            `yaml:"fix_success"`
	ExplainResolves float64            `yaml:"explanation_resolves"`
}

// Effects maps the catalog's action ids to what they do in the world.
type Effects struct {
	Retention map[string]float64 `yaml:"retention"` // action -> discount percent
	Addon     string             `yaml:"data_addon"`
	Upgrade   string             `yaml:"plan_upgrade"`
	Fix       string             `yaml:"network_fix"`
	Explain   string             `yaml:"bill_explanation"`
	Device    string             `yaml:"device_upgrade"`
	Months    int                `yaml:"discount_months"`
}

// Scenario is what the simulator sets up on the service before the first day.
type Scenario struct {
	Experiment ExperimentSpec   `yaml:"experiment"`
	Campaigns  []map[string]any `yaml:"campaigns"`
	Schema     map[string]any   `yaml:"schema"`
	Active     string           `yaml:"active_rule"` // eligibility clause that excludes gone customers
	// Eligibility adds a clause to an action's eligibility (action id -> expression).
	Eligibility map[string]string `yaml:"eligibility"`
}

// ExperimentSpec is the experiment's arms.
type ExperimentSpec struct {
	Arms    []map[string]any `yaml:"arms"`
	Control string           `yaml:"control"`
}

// DefaultParams returns the parameters of world.yaml.
func DefaultParams() *Params {
	p, err := ParseParams(defaultWorld)
	if err != nil {
		panic("sim: world.yaml: " + err.Error()) // programmer error: the embedded file is checked by tests
	}
	return p
}

// LoadParams reads a world file: world.yaml's values, overridden by the file's.
func LoadParams(path string) (*Params, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read world file: %w", err)
	}
	p := DefaultParams()
	if err := decode(raw, p); err != nil {
		return nil, fmt.Errorf("world file %s: %w", path, err)
	}
	return p, p.Validate()
}

// ParseParams parses a complete world file.
func ParseParams(raw []byte) (*Params, error) {
	p := new(Params)
	if err := decode(raw, p); err != nil {
		return nil, err
	}
	return p, p.Validate()
}

func decode(raw []byte, p *Params) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	return dec.Decode(p)
}

// ErrParams reports an invalid world file.
var ErrParams = errors.New("invalid world parameters")

// Validate checks the parameters that would make the world meaningless.
func (p *Params) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrParams, fmt.Sprintf(format, a...))
	}
	share := 0.0
	for _, pl := range p.Population.Plans {
		if pl.Share < 0 || pl.Price <= 0 || pl.AllowanceGB < 0 || pl.UsageMedianGB <= 0 {
			return bad("plan %q: share >= 0, price > 0, allowance >= 0, usage > 0", pl.Name)
		}
		share += pl.Share
	}
	if len(p.Population.Plans) == 0 || math.Abs(share-1) > 1e-6 {
		return bad("population.plans: shares must add up to 1 (they add up to %g)", share)
	}
	for name, v := range map[string]float64{
		"population.first_year_share": p.Population.FirstYearShare, "population.in_contract_share": p.Population.InContractShare,
		"population.app_share": p.Population.AppShare, "churn.call_first + churn.web_first": p.Churn.CallFirst + p.Churn.WebFirst,
		"nps.response_rate": p.NPS.ResponseRate, "nps.after_call_answer": p.NPS.AfterCallAnswer,
		"responses.fix_success": p.Responses.FixSuccess, "responses.explanation_resolves": p.Responses.ExplainResolves,
	} {
		if v < 0 || v > 1 {
			return bad("%s: a probability, got %g", name, v)
		}
	}
	if p.Population.SensitivityA <= 0 || p.Population.SensitivityB <= 0 {
		return bad("population.sensitivity_a and _b must be > 0")
	}
	if p.Churn.BaseMonthly <= 0 || p.Churn.BaseMonthly >= 1 {
		return bad("churn.base_monthly: a monthly probability in (0, 1)")
	}
	in := p.Interactions
	if in.FirstHour < 0 || in.LastHour > 24 || in.FirstHour >= in.LastHour {
		return bad("interactions: want 0 <= first_hour < last_hour <= 24")
	}
	if in.EmailLagHours <= 0 || in.EmailMinLag < 0 {
		return bad("interactions.email_lag_hours must be > 0")
	}
	if p.Effects.Months <= 0 {
		return bad("effects.discount_months must be > 0")
	}
	arms := map[string]bool{}
	for _, a := range p.Scenario.Experiment.Arms {
		name, _ := a["name"].(string)
		arms[name] = true
	}
	if !arms[p.Scenario.Experiment.Control] {
		return bad("scenario.experiment.control %q is not one of the arms", p.Scenario.Experiment.Control)
	}
	return nil
}

// Actions returns the catalog action ids the world knows, sorted.
func (p *Params) Actions() []string {
	var out []string
	for id := range p.Effects.Retention {
		out = append(out, id)
	}
	out = append(out, p.Effects.Addon, p.Effects.Upgrade, p.Effects.Fix, p.Effects.Explain, p.Effects.Device)
	slices.Sort(out)
	return out
}
