// Command limiterbench measures the gateway's rate limiter alone: decisions
// per second through ratelimit.Limiter against a Redis, from -clients
// goroutines (redis-benchmark's -c), on one tier of the seed table, and
// prints them as a benchresult line. tools/cmd/gatewaybench runs it in
// rounds interleaved with `redis-benchmark -t incr -c <same clients>`.
//
// It stays in the gateway module, unlike the rest of the gateway benchmark
// (tools/cmd/gatewaybench, which drives built binaries): the limiter is
// services/gateway/internal/ratelimit, which Go's internal rule lets no
// other module import.
//
// Two tiers tell the two paths apart:
//
//   - generous (admin, 60/minute and 1000/hour in the seed): raised out of
//     reach so every decision is allowed, each goroutine on its own client
//     key, as in steady traffic; such a tier may lease tokens, so most
//     decisions can be made in process;
//
//   - strict (auth, 5/minute): the seed's numbers, and every decision on a
//     client key never seen before, so each is allowed and each is exact,
//     decided in Redis (no lease, no negative cache can answer it).
//
//     limiterbench -redis redis://127.0.0.1:6379/0 -tier generous -clients 50 -duration 5s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/acube/platform/libs/benchresult"
	"github.com/acube/platform/services/gateway"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
	"github.com/acube/platform/services/gateway/internal/rawconn"
)

// options are the command's flags.
type options struct {
	redisURL string
	prefix   string
	tier     string
	clients  int
	duration time.Duration
	cpuprof  string
	workers  int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var o options
	flag.StringVar(&o.redisURL, "redis", "redis://127.0.0.1:6379/0", "Redis the limiter decides in")
	flag.StringVar(&o.prefix, "prefix", "limiterbench:", "key prefix of the limiter's counters")
	flag.StringVar(&o.tier, "tier", "generous", "generous (admin tier, raised, one key per client) or strict (auth tier as seeded, a new key per decision)")
	flag.IntVar(&o.clients, "clients", 50, "concurrent deciding goroutines (as redis-benchmark -c)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "how long to decide")
	flag.IntVar(&o.workers, "workers", 0, "round trips in flight (RedisConfig.Workers; 0 the default)")
	flag.StringVar(&o.cpuprof, "cpuprofile", "", "write a CPU profile of the deciding to this file")
	flag.Parse()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "limiterbench:", err)
		os.Exit(1)
	}
}

// tiers maps the -tier names to the seed tier and its window override.
var tiers = map[string]struct{ seed, windows, keys string }{
	"generous": {seed: "admin", windows: "1000000000/minute,1000000000/hour", keys: "one client key per goroutine"},
	"strict":   {seed: "auth", keys: "a new client key per decision"},
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	spec, ok := tiers[o.tier]
	if !ok {
		return fmt.Errorf("-tier %q: want generous or strict", o.tier)
	}
	if o.clients < 1 || o.duration <= 0 {
		return errors.New("-clients and -duration must be positive")
	}
	routes, err := seedRoutes()
	if err != nil {
		return err
	}
	ov := ratelimit.Overrides{}
	if spec.windows != "" {
		ov.Windows = map[string]string{spec.seed: spec.windows}
	}
	table, err := ratelimit.Load(gateway.DefaultRateLimits(), ov, slices.Sorted(maps.Keys(routes)))
	if err != nil {
		return fmt.Errorf("load the seed table: %w", err)
	}
	route := ""
	for _, key := range slices.Sorted(maps.Keys(routes)) {
		if routes[key] == spec.seed {
			route = key
			break
		}
	}
	if route == "" {
		return fmt.Errorf("the seed table has no route of tier %s", spec.seed)
	}

	opts, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return fmt.Errorf("parse -redis: %w", err)
	}
	opts.PoolSize = 16
	opts.Dialer = rawconn.WrapDial(redis.NewDialer(opts)) // as the gateway's client
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	quiet := slog.New(slog.DiscardHandler)
	shared, err := ratelimit.NewRedis(rdb, ratelimit.RedisConfig{KeyPrefix: o.prefix, Timeout: time.Second, Workers: o.workers}, prometheus.NewRegistry(), quiet)
	if err != nil {
		return fmt.Errorf("limiter: %w", err)
	}
	defer shared.Close()
	limiter, err := ratelimit.New(table, shared, ratelimit.NewLocal(time.Now, 0), ratelimit.Config{}, prometheus.NewRegistry(), quiet)
	if err != nil {
		return fmt.Errorf("limiter: %w", err)
	}

	var (
		n, refused, fellBack atomic.Int64
		fresh                atomic.Int64
		wg                   sync.WaitGroup
	)
	if o.cpuprof != "" {
		f, err := os.Create(o.cpuprof)
		if err != nil {
			return fmt.Errorf("create the CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start the CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	start := time.Now()
	// Keys new to this run too: an earlier run's keys live on for the
	// hour window's reset, and would refuse a client key seen again.
	run := strconv.FormatInt(start.UnixNano(), 36) + "-"
	for c := range o.clients {
		wg.Go(func() {
			client := "10.0." + strconv.Itoa(c/256) + "." + strconv.Itoa(c%256)
			for runCtx.Err() == nil {
				if o.tier == "strict" {
					client = run + strconv.FormatInt(fresh.Add(1), 36)
				}
				d := limiter.Allow(route, client)
				switch {
				case d.Backend == ratelimit.BackendLocal || d.Backend == ratelimit.BackendOpen || d.Backend == ratelimit.BackendClosed:
					fellBack.Add(1) // Redis failed: not the figure asked for
				case !d.Allowed:
					refused.Add(1)
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}
	if f, r := fellBack.Load(), refused.Load(); f > 0 || r > 0 {
		return fmt.Errorf("%d of %d decisions fell back from Redis, %d were refused: the figure would not be the limiter's", f, n.Load(), r)
	}
	rate := float64(n.Load()) / took.Seconds()
	fmt.Fprintf(stdout, "limiter %s tier (%s, %s), %d goroutines: %.0f decisions/s\n", o.tier, spec.seed, spec.keys, o.clients, rate)
	return benchresult.Print(stdout, benchresult.Result{Area: "gateway", Name: "limiter decisions/s, " + o.tier + " tier", Value: rate,
		Unit: "decisions/s", Note: fmt.Sprintf("%s tier of the seed, %s, %d goroutines", spec.seed, spec.keys, o.clients)})
}

// seedRoutes reads the route → tier map of the seed table.
func seedRoutes() (map[string]string, error) {
	var f struct {
		Routes map[string]string `yaml:"routes"`
	}
	if err := yaml.Unmarshal(gateway.DefaultRateLimits(), &f); err != nil {
		return nil, fmt.Errorf("read the seed table's routes: %w", err)
	}
	return f.Routes, nil
}
