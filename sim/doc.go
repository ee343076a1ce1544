// Package sim is the world of `nextbest simulate`: a seeded synthetic telco whose
// customers have a hidden state (tenure, plan and spend, data use against the allowance,
// network problems, billing disputes, contract end, price sensitivity, churn risk,
// satisfaction), come to the service through the web, the app and the call centre, read
// its emails, take offers or not, leave, and answer NPS surveys.
//
// The package is pure: no HTTP, no clock, no logging. sim/driver drives it and carries
// its events to a running nextbest exactly as client systems would. The service sees only
// what a CRM would (profile attributes and the context of each interaction); the hidden
// state and the true response probabilities stay here, and give the ground truth that the
// service's experiment report is compared with (Truth).
//
// Every parameter lives in world.yaml, with why its value is plausible. Every random draw
// comes from rand.NewPCG(seed, key), with the key naming the customer, the day and the
// purpose, so a run depends on the seed only, not on the order of concurrent work.
// docs/simulation.md describes the model, the ground truth and the determinism.
package sim
