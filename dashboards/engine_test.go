package dashboards

import "github.com/nextbest/nextbest/engine"

// The decision engine is what the pages read: it must satisfy every interface they
// declare (engine.go). A method renamed or retyped in engine fails this line at compile
// time, before any page test runs.
var _ Engine = (*engine.Engine)(nil)
