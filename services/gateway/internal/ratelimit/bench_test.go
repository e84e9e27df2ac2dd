package ratelimit

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRedisDecisions measures limiter decisions on the shared Redis
// with 50 concurrent clients, like redis-benchmark -c 50; decisions/s is
// the figure to set against its INCR requests/s, trips/decision what each
// decision costs Redis, decisions/trip the mean batch.
//   - leased: 50 clients each on their own key of a huge tier (the gateway
//     benchmark's public tier at 10⁹/minute), which leases tokens;
//   - exact: the same with leases off, every decision in Redis (how a
//     strict tier such as auth is decided while under its limit);
//     exact-2workers with two round trips in flight, the pipelining one
//     worker forgoes;
//   - flood: 50 goroutines of one client far over the public tier's
//     10/minute, answered by the negative cache.
func BenchmarkRedisDecisions(b *testing.B) {
	cases := []struct {
		name      string
		limits    string
		leaseMax  int
		workers   int
		oneClient bool
	}{
		{name: "leased", limits: "1000000000/minute,1000000000/hour"},
		{name: "exact", limits: "1000000000/minute,1000000000/hour", leaseMax: -1},
		{name: "exact-2workers", limits: "1000000000/minute,1000000000/hour", leaseMax: -1, workers: 2},
		{name: "flood", limits: "10/minute,30/hour", oneClient: true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			rdb, trips, prefix := countedRedis(b)
			r, err := NewRedis(rdb, RedisConfig{KeyPrefix: prefix, Timeout: time.Second, LeaseMax: bc.leaseMax, Workers: bc.workers},
				prometheusRegistry(), discardLog())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(r.Close)
			tier := mustTier(b, "public", bc.limits)
			var next atomic.Int64
			b.SetParallelism(max(50/maxProcs(), 1))
			before := trips.n.Load()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				client := "10.0.0." + strconv.FormatInt(next.Add(1), 10)
				if bc.oneClient {
					client = "10.0.0.1"
				}
				for pb.Next() {
					if _, err := r.Allow(tier, "GET /api/events", client); err != nil {
						b.Error(err)
						return
					}
				}
			})
			elapsed := time.Since(start)
			n := float64(trips.n.Load() - before)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "decisions/s")
			b.ReportMetric(n/float64(b.N), "trips/decision")
			if n > 0 {
				b.ReportMetric(float64(b.N)/n, "decisions/trip")
			}
		})
	}
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

// BenchmarkLimiterDecisions measures whole Limiter.Allow calls (table,
// shortcuts, metrics) on a leased tier with 50 clients of their own.
func BenchmarkLimiterDecisions(b *testing.B) {
	rdb, trips, prefix := countedRedis(b)
	l := newTestLimiter(b, rdb, prefix, RedisConfig{}, mustTier(b, "public", "1000000000/minute,1000000000/hour"))
	var next atomic.Int64
	b.SetParallelism(max(50/maxProcs(), 1))
	b.ReportAllocs()
	before := trips.n.Load()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		client := "10.0.0." + strconv.FormatInt(next.Add(1), 10)
		for pb.Next() {
			if d := l.Allow("route-public", client); !d.Allowed {
				b.Error("refused")
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
	b.ReportMetric(float64(trips.n.Load()-before)/float64(b.N), "trips/decision")
}
