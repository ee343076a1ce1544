// Package driver runs the simulator: it carries the events of the synthetic telco of
// package sim to a running nextbest exactly as client systems would, through client/
// (decide, feedback, outcomes, the outbound feed, profiles, the manual clock), and at the
// end prints the service's experiment report next to the ground truth only the world
// knows, in the plain words of package experiments.
//
// It lives beside sim, not in it, because sim is pure (no HTTP, no clock, no logging):
// the driver imports client/, the engine's types and experiments; sim imports none of
// them. cmd/nextbest simulate reads the flags into Options and calls Simulate.
package driver
