package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/acube/platform/services/gateway/internal/ratelimit"
)

// batchMean reads the limited gateway's mean decisions per Redis round trip
// from /metrics on its internal port (base, http://host:port).
func batchMean(base string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var sum, count float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "gateway_ratelimit_batch_size_sum "); ok {
			sum, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(line, "gateway_ratelimit_batch_size_count "); ok {
			count, _ = strconv.ParseFloat(v, 64)
		}
	}
	if count == 0 {
		return 0
	}
	return sum / count
}

// limiterDecisions runs clients goroutines deciding through the batched
// Redis limiter, each on its own client key (as redis-benchmark's clients
// each INCR), and returns decisions per second.
func limiterDecisions(ctx context.Context, redisURL, prefix string, clients int, d time.Duration) (float64, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return 0, err
	}
	opts.PoolSize = 16
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	r, err := ratelimit.NewRedis(rdb, ratelimit.RedisConfig{KeyPrefix: prefix, Timeout: time.Second},
		prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		return 0, err
	}
	defer r.Close()
	table, err := ratelimit.Load([]byte("tiers:\n  public:\n    limits: [1000000000/minute, 1000000000/hour]\nroutes:\n  GET /bench: public\n"),
		ratelimit.Overrides{}, []string{"GET /bench"})
	if err != nil {
		return 0, err
	}
	tier := table.ForRoute("GET /bench")
	var (
		n, failed atomic.Int64
		wg        sync.WaitGroup
		stop      = time.Now().Add(d)
	)
	start := time.Now()
	for c := range clients {
		client := "10.0.0." + strconv.Itoa(c)
		wg.Go(func() {
			for time.Now().Before(stop) && ctx.Err() == nil {
				if dec, err := r.Allow(tier, "GET /bench", client); err != nil || !dec.Allowed {
					failed.Add(1)
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return 0, fmt.Errorf("limiter benchmark: %d of %d decisions failed or refused", f, n.Load())
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

var incrRate = regexp.MustCompile(`INCR: ([0-9.]+) requests per second`)

// redisBenchmarkIncr runs redis-benchmark -t incr with the same client count.
func redisBenchmarkIncr(ctx context.Context, redisURL string, clients, requests int) (float64, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return 0, err
	}
	host, port, _ := strings.Cut(opts.Addr, ":")
	b, err := exec.CommandContext(ctx, "redis-benchmark", "-h", host, "-p", port, "-t", "incr",
		"-c", strconv.Itoa(clients), "-n", strconv.Itoa(requests), "-q").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %w: %s", err, b)
	}
	m := incrRate.FindStringSubmatch(string(b))
	if m == nil {
		return 0, fmt.Errorf("redis-benchmark output: %s", b)
	}
	return strconv.ParseFloat(m[1], 64)
}

// cleanup deletes the benchmark's keys.
func cleanup(redisURL, prefix string) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
	// redis-benchmark's own counter.
	rdb.Del(ctx, "counter:__rand_int__")
}

func waitRedis(ctx context.Context, url string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	for range 100 {
		if rdb.Ping(ctx).Err() == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("redis-server at %s did not answer", url)
}
