// Package demo holds the demo telco catalog (catalog.yaml, embedded): serve loads it into
// an empty store, and the simulator checks the server's rules against it (docs/demo.md).
package demo
