package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// floodResult is what a flood from one over-limit client cost.
type floodResult struct {
	requests, allowed, limited, other, errors int
	took                                      time.Duration
	// commands is the Redis commands processed meanwhile (INFO excluded),
	// an upper bound on the round trips: a pipeline is one trip.
	commands  int64
	byCommand map[string]int64
}

// flood sends o.flood requests closed loop over o.conns connections to the
// gateway with the seed's limits, all from one client (this host), and
// counts the Redis commands they cost from INFO commandstats.
func flood(ctx context.Context, o options, s *setup) (floodResult, error) {
	rdb := redis.NewClient(&redis.Options{Addr: s.redisAddr})
	defer rdb.Close()
	before, err := commandStats(ctx, rdb)
	if err != nil {
		return floodResult{}, err
	}
	target, err := url.Parse(s.floodURL)
	if err != nil {
		return floodResult{}, fmt.Errorf("flood: %w", err)
	}
	req := request(target)
	var (
		next                             atomic.Int64
		allowed, limited, other, errored atomic.Int64
		wg                               sync.WaitGroup
	)
	start := time.Now()
	for range o.conns {
		wg.Go(func() {
			rc := &rawConn{host: target.Host}
			defer rc.close()
			for next.Add(1) <= int64(o.flood) && ctx.Err() == nil {
				status, err := rc.do(req)
				switch {
				case err != nil:
					errored.Add(1)
				case status == http.StatusOK:
					allowed.Add(1)
				case status == http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := ctx.Err(); err != nil {
		return floodResult{}, err
	}
	after, err := commandStats(ctx, rdb)
	if err != nil {
		return floodResult{}, err
	}
	r := floodResult{requests: o.flood, allowed: int(allowed.Load()), limited: int(limited.Load()), other: int(other.Load()),
		errors: int(errored.Load()), took: took, byCommand: map[string]int64{}}
	for cmd, n := range after {
		if d := n - before[cmd]; d > 0 && cmd != "info" {
			r.byCommand[cmd] = d
			r.commands += d
		}
	}
	return r, nil
}

// commandStats reads the calls of every command from INFO commandstats.
func commandStats(ctx context.Context, rdb *redis.Client) (map[string]int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("redis INFO commandstats: %w", err)
	}
	return parseCommandStats(info), nil
}

// parseCommandStats reads "cmdstat_<name>:calls=<n>,usec=…" lines.
func parseCommandStats(info string) map[string]int64 {
	out := map[string]int64{}
	for line := range strings.SplitSeq(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_")
		if !ok {
			continue
		}
		name, fields, _ := strings.Cut(rest, ":")
		for f := range strings.SplitSeq(fields, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[name] = n
			}
		}
	}
	return out
}

// commandsText is "evalsha 12, get 3", largest first.
func (r floodResult) commandsText() string {
	names := slices.SortedFunc(maps.Keys(r.byCommand), func(a, b string) int {
		if r.byCommand[a] != r.byCommand[b] {
			return int(r.byCommand[b] - r.byCommand[a])
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, r.byCommand[n]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
