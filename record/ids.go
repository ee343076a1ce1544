package record

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// ActionID identifies an action in the catalog.
type ActionID string

// CustomerID identifies a customer.
type CustomerID string

// DecisionID identifies one decision; IDs sort in time order.
type DecisionID string

// ValidID reports whether s is a well-formed id: 1 to 128 characters of letters, digits
// and . _ : @ -, starting with a letter or digit (the regular expression
// ^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$, which the tests hold it to). Ids appear in URLs,
// store keys and logs. Every decide and feedback checks a few, so this is a loop rather
// than the regular expression (about 1% of a loaded server's CPU).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 128 || !idAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !idAlnum(c) && c != '.' && c != '_' && c != ':' && c != '@' && c != '-' {
			return false
		}
	}
	return true
}

func idAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// ExperimentID identifies an experiment.
type ExperimentID string

// CampaignID identifies a legacy campaign.
type CampaignID string

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
