package fastpath

import (
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
	"github.com/acube/platform/services/gateway/internal/route"
)

// BenchmarkDataPathLimited is BenchmarkDataPath's fasthttp case with the
// Redis limiter deciding every request (the public tier raised out of
// reach, as make bench-gateway's configuration (c)), to see what a
// decision adds to a proxied request (-cpuprofile).
func BenchmarkDataPathLimited(b *testing.B) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	b.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(b.Context()).Err(); err != nil {
		b.Skipf("no redis: %v", err)
	}
	base := jsonUpstream(b)
	upstreams := map[route.Owner]string{route.Booking: base, route.Admin: base, route.Exporter: base}
	clients, err := clientip.New(clientip.Config{})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	m, _ := web.NewHTTPMetrics(reg)
	var keys []string
	for _, r := range route.Table() {
		keys = append(keys, r.Key())
	}
	table, err := ratelimit.Source{Default: gateway.DefaultRateLimits(), RouteKeys: keys,
		Overrides: ratelimit.Overrides{Windows: map[string]string{"public": "1000000000/minute"}}}.Load()
	if err != nil {
		b.Fatal(err)
	}
	shared, err := ratelimit.NewRedis(rdb, ratelimit.RedisConfig{KeyPrefix: "bench:fastpath:" + time.Now().Format("150405.000") + ":"}, reg, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(shared.Close)
	lim, err := ratelimit.New(table, shared, ratelimit.NewLocal(time.Now, 0), ratelimit.Config{}, reg, log)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{Routes: route.Table(), Upstreams: upstreams, Clients: clients, Metrics: m, Limiter: lim,
		MaxBody: 1 << 20, MaxUploadBody: 1 << 20, Log: log}, reg)
	if err != nil {
		b.Fatal(err)
	}
	ln := listen(b)
	go func() { _ = s.Serve(ln) }()
	b.Cleanup(func() { _ = s.srv.Shutdown() })
	drive(b, ln.Addr().String())
}
