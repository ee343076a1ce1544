// Package service is nextbest's running server: its Options (defaults, the YAML file,
// validation), the scheduler of its periodic jobs, API keys and sessions at start, the
// Go runtime's limits, and Run, which wires the store, the engine, the scheduler, the API
// and the dashboards into one server and shuts them down in order. cmd/nextbest reads the
// flags into Options and calls Run; nextbest-bench runs it in-process for --spawn.
package service
