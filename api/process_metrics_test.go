package api

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestProcessMetricsDescribed checks that every Go runtime and process family
// VictoriaMetrics/metrics writes on this machine has its own help in processFamilies, and
// a type that its name agrees with (a counter ends in _total, but for two names the
// library chose): a newer version of the library that writes a family more fails here,
// until it is described.
func TestProcessMetricsDescribed(t *testing.T) {
	var buf bytes.Buffer
	writeProcessMetrics(&buf)
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, buf.String())
	}
	// The families on every Linux machine (the pressure and cgroup ones depend on the
	// kernel and the cgroup): the dashboard and docs/operations.md rely on these.
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_max_fds", "go_goroutines", "go_gc_duration_seconds", "go_sched_latencies_seconds"} {
		if mfs[name] == nil {
			t.Errorf("%s not written", name)
		}
	}
	for name, mf := range mfs {
		d, ok := processFamilies[name]
		switch {
		case !ok || mf.GetHelp() == undescribed:
			t.Errorf("%s (%s) is not in processFamilies", name, mf.GetType())
		case (d.typ == "counter") != (strings.HasSuffix(name, "_total") || name == "go_cgo_calls_count" || name == "go_gc_forced_count"):
			t.Errorf("%s: a %s", name, d.typ)
		case !strings.EqualFold(d.typ, mf.GetType().String()):
			t.Errorf("%s: type %s, parsed as %s", name, d.typ, mf.GetType())
		case mf.GetHelp() != d.help:
			t.Errorf("%s: help %q, want %q", name, mf.GetHelp(), d.help)
		}
	}
}
