// Package table analyses an experiment from exported tables (CSV): it reads the files
// (one row a unit, one column the arm, one column per metric), hands the counts to
// package experiments, and writes the comparison as a table and as JSON. It does the file
// I/O that experiments, which is pure, does not; nextbest analyze reads the flags into
// Options and calls Run.
package table
