// Package loadgen holds what the benchmark and the soak share when they read latencies: one
// percentile function, so every figure they print is read off its samples the same way.
package loadgen

import (
	"slices"
	"time"
)

// Percentiles of a set of latencies.
type Percentiles struct{ P50, P95, P99 time.Duration }

// PercentilesOf sorts the samples (in place) and reads p50, p95 and p99 off them: the
// nearest-rank value at or above each quantile. No samples: zeros.
func PercentilesOf(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q int) time.Duration { return d[min(len(d)-1, len(d)*q/100)] }
	return Percentiles{P50: at(50), P95: at(95), P99: at(99)}
}
