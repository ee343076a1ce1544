package bench

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// latencyMax is the largest latency a histogram holds; longer ones count as it.
const latencyMax = time.Minute

// latencies is a histogram of request latencies: an HDR histogram (HdrHistogram) from
// 1 µs to latencyMax with 3 significant digits, so a quantile is within 0.1% of the
// recorded value it stands for, in constant memory however many requests a phase makes.
// It is not safe for concurrent use: each worker keeps its own and merges it after.
type latencies struct{ h *hdrhistogram.Histogram }

func newLatencies() *latencies {
	return &latencies{hdrhistogram.New(1, int64(latencyMax/time.Microsecond), 3)}
}

// record adds one latency, clamped to [1 µs, latencyMax].
func (l *latencies) record(d time.Duration) {
	l.h.RecordValue(min(max(d.Microseconds(), 1), int64(latencyMax/time.Microsecond)))
}

// merge adds o's latencies to l.
func (l *latencies) merge(o *latencies) { l.h.Merge(o.h) }

// count returns how many latencies were recorded.
func (l *latencies) count() int64 { return l.h.TotalCount() }

// quantile returns the q-quantile (0 < q <= 1): the smallest recorded value (to the
// histogram's precision) with at least q of the values at or below it; 0 for none.
func (l *latencies) quantile(q float64) time.Duration {
	if l.count() == 0 {
		return 0
	}
	return time.Duration(l.h.ValueAtQuantile(100*q)) * time.Microsecond
}

// max returns the largest recorded latency (to the histogram's precision); 0 for none.
func (l *latencies) max() time.Duration {
	if l.count() == 0 {
		return 0
	}
	return time.Duration(l.h.Max()) * time.Microsecond
}
