// Package export writes the decision log, with each decision's outcomes, as files a data
// scientist loads elsewhere: Apache Parquet (github.com/parquet-go/parquet-go) or JSON
// lines, one row per decision, with every field off-policy evaluation needs (Row: the
// context as sent, the encoded features, every candidate with its scores, selection
// probability and model sequence, the chosen action and its probability, the no-action
// probability, the reward and the outcomes). Both formats share Row's columns; the
// schema is documented in docs/evaluation.md ("Exporting the decision log").
//
// Write streams: it reads the log in time order and writes as it reads, a Parquet row
// group at a time (Options.RowGroup rows), so an export of any size needs the memory of
// one row group. Verify reads a Parquet file back, every row, as `nextbest export
// --verify` does, and reports a damaged or foreign file as an error, never a panic.
package export
