package ratelimit

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acube/platform/services/gateway/internal/redistest"
)

// BenchmarkRedisDecisions measures batched limiter decisions against the
// shared Redis with 50 concurrent clients, like redis-benchmark -c 50; the
// decisions/s metric is the figure to set against its INCR requests/s.
func BenchmarkRedisDecisions(b *testing.B) {
	rdb := redistest.Shared(b)
	r, err := NewRedis(rdb, RedisConfig{KeyPrefix: redistest.Prefix(b, rdb), Timeout: time.Second},
		prometheusRegistry(), discardLog())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Close)
	tier := mustTier(b, "public", "1000000000/minute,1000000000/hour")
	var next atomic.Int64
	b.SetParallelism(max(50/maxProcs(), 1))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		client := "10.0.0." + strconv.FormatInt(next.Add(1), 10)
		for pb.Next() {
			if _, err := r.Allow(tier, "GET /api/events", client); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
}

// BenchmarkLocalDecisions measures the in-process fallback.
func BenchmarkLocalDecisions(b *testing.B) {
	l := NewLocal(time.Now, 0)
	tier := mustTier(b, "public", "1000000000/minute,1000000000/hour")
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		client := "10.0.0." + strconv.FormatInt(next.Add(1), 10)
		for pb.Next() {
			l.Allow(tier, "GET /api/events", client)
		}
	})
}
