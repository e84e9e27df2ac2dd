package bench

import (
	"slices"
	"time"
)

// Summary is the distribution of a set of latencies.
type Summary struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// Summarize sorts a copy of samples and reads its percentiles by the
// nearest-rank method, so p99 of 100 samples is the 99th.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(float64(len(s))*p+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Summary{N: len(s), P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: s[len(s)-1]}
}

// Ms converts d to fractional milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
