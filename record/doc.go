// Package record holds what nextbest stores: the records the decision engine writes and
// the store keeps (decisions and their candidates, journal events, outcome states,
// contacts, labels, model snapshots, the catalog and the experiments' bookkeeping), the
// typed ids that name them, and the binary codecs of the records written on every
// contact and response (EncodeDecision, EncodeEvent, EncodeOutcomeState, EncodeContact
// and their decoders, with the dictionary of names, Strings).
//
// It sits below both engine and store: engine encodes a decision record on the deciding
// goroutine and store decodes what it reads, and neither needs the other to do so.
// engine re-exports every type here under the same name (engine.Decision is
// record.Decision), so the engine's API is unchanged. The package is plain data and
// codecs: no I/O, no clock, no logging.
package record
