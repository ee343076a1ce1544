package access

import (
	"fmt"
	"slices"
)

// Role is what a key may do.
type Role string

// The roles, from the issue that introduced them.
const (
	// Decide is for decision services: decide, feedback, outcomes, customer profiles.
	Decide Role = "decide"
	// Analyst is for data scientists: actions, campaigns, experiments, models, schema, the
	// decision log, and everything a viewer sees.
	Analyst Role = "analyst"
	// Viewer is for executives: dashboards and reports, read only.
	Viewer Role = "viewer"
	// Admin manages keys, backups and everything else.
	Admin Role = "admin"
)

// Roles lists every role.
var Roles = []Role{Decide, Analyst, Viewer, Admin}

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles, r) {
		return "", fmt.Errorf("role %q: want one of decide, analyst, viewer, admin", s)
	}
	return r, nil
}

// Permission is a class of operations; routes declare which one they need.
type Permission string

// Permissions. Every route needs exactly one (see api/routes).
const (
	PermDecide    Permission = "decide"    // POST /v1/decide, /v1/feedback, /v1/outcomes
	PermProfiles  Permission = "profiles"  // PUT/GET /v1/customers
	PermConfigure Permission = "configure" // actions, campaigns, experiments, schema: writes
	PermInspect   Permission = "inspect"   // catalog, models, decision log, assignments: reads
	PermReport    Permission = "report"    // reports and dashboards
	PermMetrics   Permission = "metrics"   // /metrics
	PermAdmin     Permission = "admin"     // keys, backup
)

// grants is the role-permission table, documented in docs/security.md.
var grants = map[Role][]Permission{
	Decide:  {PermDecide, PermProfiles},
	Analyst: {PermProfiles, PermConfigure, PermInspect, PermReport, PermMetrics},
	Viewer:  {PermReport},
	Admin:   {PermDecide, PermProfiles, PermConfigure, PermInspect, PermReport, PermMetrics, PermAdmin},
}

// Allows reports whether the role grants the permission.
func (r Role) Allows(p Permission) bool { return slices.Contains(grants[r], p) }
