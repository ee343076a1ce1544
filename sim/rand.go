package sim

import (
	"math"
	"math/rand/v2"
)

// Every random draw of the world comes from a PCG seeded with the run's seed and a key
// that names what the draw is for: the customer, the day, and the purpose (and, for a
// contact, its time and action). No stream is shared, so the world does not depend on the
// order in which the simulator's workers happen to run.

// Purposes of the world's random streams.
const (
	purposeCreate uint64 = iota + 1
	purposeDay
	purposeReact
	purposeContact
	purposeResponse
)

// splitmix64 is the finaliser of SplitMix64 (Steele, Lea and Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014): a bijection that spreads every input bit.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// key folds its parts into one 64-bit stream key.
func key(parts ...uint64) uint64 {
	h := uint64(0x6a09e667f3bcc909)
	for _, p := range parts {
		h = splitmix64(h ^ p)
	}
	return h
}

// stream returns the random source for the given key parts.
func (w *World) stream(parts ...uint64) *rand.Rand {
	return rand.New(rand.NewPCG(w.seed, key(parts...)))
}

// hashString is FNV-1a, for folding a string (an action id) into a key.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// poisson draws a Poisson variate by inversion of its CDF (fine for the small means used).
func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	u := r.Float64()
	pmf := math.Exp(-mean)
	cdf := pmf
	k := 0
	for u > cdf && k < 1000 {
		k++
		pmf *= mean / float64(k)
		cdf += pmf
	}
	return k
}
