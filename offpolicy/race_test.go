//go:build race

package offpolicy

// raceEnabled: the race detector slows these single-goroutine simulations
// about tenfold without checking anything in them, so under -race the
// coverage and Open Bandit Dataset tests run fewer repetitions (their
// tolerances follow the number of repetitions).
const raceEnabled = true
