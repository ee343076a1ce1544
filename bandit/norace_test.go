//go:build !race

package bandit

const raceEnabled = false
