//go:build !race

package offpolicy

const raceEnabled = false
