package engine

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// NewDecisionID returns a decision id that sorts in time order: 16 hex digits of the
// decision time in Unix nanoseconds, then 16 hex digits from rng (64 random bits make a
// collision within the same nanosecond vanishingly unlikely).
func NewDecisionID(t time.Time, rng *rand.Rand) DecisionID {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixNano()))
	binary.BigEndian.PutUint64(b[8:], rng.Uint64())
	return DecisionID(hex.EncodeToString(b[:]))
}

// DecisionIDPrefix returns the smallest decision id for decisions at or after t, for
// seeking in the time-ordered log.
func DecisionIDPrefix(t time.Time) DecisionID {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.UnixNano()))
	return DecisionID(hex.EncodeToString(b[:]))
}
