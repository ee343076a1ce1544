package engine

import "math"

// Limits on an action definition.
const (
	maxChannels      = 32
	maxLabelLength   = 128
	maxExprLength    = 4096
	maxDescLength    = 1024
	maxActionValue   = 1e12
	maxLeverMagnitde = 1e6
)

// ValidateAction checks an action definition; every error names the field at fault.
func ValidateAction(a *Action) error {
	if !ValidID(string(a.ID)) {
		return Invalid("invalid_id", "id %q: want 1-128 letters, digits or . _ : @ -", truncate(string(a.ID), 40))
	}
	if len(a.Issue) > maxLabelLength {
		return Invalid("invalid_field", "issue: longer than %d characters", maxLabelLength)
	}
	if len(a.Group) > maxLabelLength {
		return Invalid("invalid_field", "group: longer than %d characters", maxLabelLength)
	}
	if len(a.Description) > maxDescLength {
		return Invalid("invalid_field", "description: longer than %d characters", maxDescLength)
	}
	if len(a.Channels) > maxChannels {
		return errorf(ErrTooLarge, "too_many_channels", "channels: %d given, at most %d", len(a.Channels), maxChannels)
	}
	for i, c := range a.Channels {
		if !ValidID(c) {
			return Invalid("invalid_field", "channels[%d]: %q is not a valid channel name", i, truncate(c, 40))
		}
	}
	if !finite(a.Value) || math.Abs(a.Value) > maxActionValue {
		return Invalid("invalid_number", "value: must be a finite number with magnitude at most %g", maxActionValue)
	}
	if a.Value < 0 {
		return Invalid("invalid_field", "value: must not be negative")
	}
	if len(a.ValueExpr) > maxExprLength || len(a.Cost.Expr) > maxExprLength || len(a.ContactCost.Expr) > maxExprLength {
		return errorf(ErrTooLarge, "expression_too_long", "value, cost and contact_cost: expressions longer than %d characters", maxExprLength)
	}
	if a.Objective != "" && !ValidID(a.Objective) {
		return Invalid("invalid_field", "objective: %q is not a valid objective name", truncate(a.Objective, 40))
	}
	if !finite(a.Lever) || a.Lever < 0 || a.Lever > maxLeverMagnitde {
		return Invalid("invalid_number", "lever: must be a finite number in [0, %g]", maxLeverMagnitde)
	}
	if len(a.Eligibility) > maxExprLength {
		return errorf(ErrTooLarge, "expression_too_long", "eligibility: longer than %d characters", maxExprLength)
	}
	return validateModelSpec(&a.Model)
}

func validateModelSpec(m *ModelSpec) error {
	switch m.Form {
	case "", "diagonal", "diag", "full":
	default:
		return Invalid("invalid_field", "model.form: %q is not \"diagonal\" or \"full\"", truncate(m.Form, 20))
	}
	switch m.HalfLifeUnit {
	case "", "events", "seconds":
	default:
		return Invalid("invalid_field", "model.half_life_unit: %q is not \"events\" or \"seconds\"", truncate(m.HalfLifeUnit, 20))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"model.prior_mean", m.PriorMean}, {"model.prior_precision", m.PriorPrecision}, {"model.half_life", m.HalfLife}, {"model.warm_start_scale", m.WarmStartScale}} {
		if !finite(f.v) {
			return Invalid("invalid_number", "%s: must be a finite number", f.name)
		}
	}
	if m.PriorPrecision < 0 || m.HalfLife < 0 {
		return Invalid("invalid_field", "model: prior_precision and half_life must not be negative")
	}
	if !finite(m.BaseRate) || m.BaseRate < 0 || m.BaseRate >= 1 {
		return Invalid("invalid_field", "model.base_rate: must be a probability in (0, 1); 0 or absent means an even chance")
	}
	if !finite(m.EffectScale) || m.EffectScale < 0 || m.EffectScale > 10 {
		return Invalid("invalid_field", "model.effect_scale: must be in (0, 10]; 0 or absent means %g", DefaultEffectScale)
	}
	if m.WarmStartScale < 0 || m.WarmStartScale > 1 {
		return Invalid("invalid_field", "model.warm_start_scale: must be in (0, 1]")
	}
	if m.WarmStartFrom != "" && !ValidID(m.WarmStartFrom) {
		return Invalid("invalid_field", "model.warm_start_from: %q is not a valid action id", truncate(m.WarmStartFrom, 40))
	}
	return nil
}

// offeredOn reports whether action a may be offered on channel.
func offeredOn(a *Action, channel string) bool {
	if len(a.Channels) == 0 {
		return true
	}
	for _, c := range a.Channels {
		if c == channel {
			return true
		}
	}
	return false
}

// effectScale returns m.EffectScale or its default.
func effectScale(m ModelSpec) float64 {
	if m.EffectScale == 0 {
		return DefaultEffectScale
	}
	return m.EffectScale
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
