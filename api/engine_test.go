package api

import "github.com/nextbest/nextbest/engine"

// The decision engine is what the API serves: it must satisfy every interface the API
// declares (engine.go). A method renamed or retyped in engine fails this line at compile
// time, before any route test runs.
var _ Engine = (*engine.Engine)(nil)
