package engine

import (
	"bytes"
	"testing"
	"time"

	"github.com/nextbest/nextbest/features"
	"github.com/nextbest/nextbest/record"
)

// TestCommandRoundTrip: a command decodes to what was encoded, the time to the nanosecond.
func TestCommandRoundTrip(t *testing.T) {
	r := &replication{node: "replica-2"}
	at := time.Date(2026, 12, 6, 10, 0, 0, 123456789, time.UTC)
	b := r.encodeCommand(cmdFeedback, 77, at, []byte(`{"d":"x"}`))
	kind, origin, proposal, gotAt, payload, err := decodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if kind != cmdFeedback || origin != "replica-2" || proposal != 77 || !gotAt.Equal(at) || string(payload) != `{"d":"x"}` {
		t.Errorf("decoded %d %q %d %v %q", kind, origin, proposal, gotAt, payload)
	}
}

// TestWireDecisionRoundTrip: the log's form of a decision, read without the store's
// dictionary, gives the record the store would write.
func TestWireDecisionRoundTrip(t *testing.T) {
	d := &Decision{ID: "18eea3c4c9e8e69b5e22e8cd6059ed80", CustomerID: "c1", Channel: "web", Time: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC),
		Arm: "nba", Experiment: "x", Source: "inbound", Schema: "auto", Features: features.Vector{Index: []int32{1, 5}, Value: []float64{1, 0.5}},
		Chosen: []ActionID{"a"}, Candidates: []Candidate{{ID: "a", Rank: 1, Priority: 2.5, Probability: 0.75, Propensity: 0.1}, {ID: "b", Rank: 2, Priority: 1}}}
	got, err := decodeWireDecision(encodeWireDecision(d))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := record.EncodeDecision(nil, d, nil), record.EncodeDecision(nil, got, nil); !bytes.Equal(a, b) || got.ID != d.ID {
		t.Errorf("the decision read from the log differs:\n%+v\n%+v", d, got)
	}
}

// FuzzDecodeCommand: whatever the log holds, decoding a command or a decision from it
// returns an error or a value, never a panic.
func FuzzDecodeCommand(f *testing.F) {
	r := &replication{node: "r1"}
	f.Add(r.encodeCommand(cmdCall, 1, time.Unix(0, 5), []byte(`{"m":"put_action","a":{}}`)))
	f.Add([]byte{cmdDecision, 0xff, 0xff})
	f.Add(encodeWireDecision(&Decision{ID: "d1", Time: time.Unix(1, 0)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _, _, payload, err := decodeCommand(b)
		if err == nil {
			_, _ = decodeWireDecision(payload)
		}
		_, _ = decodeWireDecision(b)
	})
}
