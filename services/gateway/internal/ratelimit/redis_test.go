package ratelimit

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/acube/platform/services/gateway/internal/redistest"
)

func newTestRedis(t *testing.T, rdb *redis.Client, prefix string, cfg RedisConfig) *Redis {
	t.Helper()
	cfg.KeyPrefix = prefix
	r, err := NewRedis(rdb, cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// TestIntegrationRedisMatchesRedisRate runs the same single-window
// sequences through redis_rate's Allow and through our script, and wants
// the same verdicts and numbers.
func TestIntegrationRedisMatchesRedisRate(t *testing.T) {
	rdb := redistest.Shared(t)
	tests := []struct {
		name   string
		limit  redis_rate.Limit
		limits string
		calls  int
	}{
		{name: "10 per minute", limit: redis_rate.PerMinute(10), limits: "10/minute", calls: 14},
		{name: "5 per minute", limit: redis_rate.PerMinute(5), limits: "5/minute", calls: 8},
		{name: "30 per hour", limit: redis_rate.PerHour(30), limits: "30/hour", calls: 33},
		{name: "3 per second", limit: redis_rate.PerSecond(3), limits: "3/second", calls: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := redistest.Prefix(t, rdb)
			ours := newTestRedis(t, rdb, prefix, RedisConfig{Timeout: time.Second})
			theirs := redis_rate.NewLimiter(rdb)
			tier := mustTier(t, "t", tt.limits)
			ctx := context.Background()
			theirKey := prefix + "theirs"
			t.Cleanup(func() { _ = theirs.Reset(ctx, theirKey) })
			for i := range tt.calls {
				want, err := theirs.Allow(ctx, theirKey, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				got, err := ours.Allow(tier, "route", "client")
				if err != nil {
					t.Fatal(err)
				}
				w := got.Windows[0]
				if got.Allowed != (want.Allowed > 0) || w.Remaining != want.Remaining {
					t.Fatalf("call %d: ours allowed=%v remaining=%d, redis_rate allowed=%d remaining=%d",
						i+1, got.Allowed, w.Remaining, want.Allowed, want.Remaining)
				}
				if !near(w.RetryAfter, want.RetryAfter) || !near(w.ResetAfter, want.ResetAfter) {
					t.Fatalf("call %d: ours retry=%v reset=%v, redis_rate retry=%v reset=%v",
						i+1, w.RetryAfter, w.ResetAfter, want.RetryAfter, want.ResetAfter)
				}
			}
		})
	}
}

// near compares durations measured microseconds apart on the same clock.
func near(a, b time.Duration) bool {
	if a == -1 || b == -1 {
		return a == b
	}
	d := a - b
	return d < 50*time.Millisecond && d > -50*time.Millisecond
}

// TestIntegrationRedisMatchesLocal: the script and the in-process GCRA
// give the same verdicts on the same two-window sequence.
func TestIntegrationRedisMatchesLocal(t *testing.T) {
	rdb := redistest.Shared(t)
	r := newTestRedis(t, rdb, redistest.Prefix(t, rdb), RedisConfig{Timeout: time.Second})
	l := NewLocal(time.Now, 0)
	tier := mustTier(t, "t", "5/minute,7/hour")
	for i := range 9 {
		got, err := r.Allow(tier, "route", "client")
		if err != nil {
			t.Fatal(err)
		}
		want := l.Allow(tier, "route", "client")
		if got.Allowed != want.Allowed || got.Windows[0].Remaining != want.Windows[0].Remaining ||
			got.Windows[1].Remaining != want.Windows[1].Remaining {
			t.Fatalf("call %d: redis %+v, local %+v", i+1, got, want)
		}
	}
}

// TestIntegrationRedisOneKeyPerTier: both windows of a tier live in one
// key (packed TATs, the TTL of the longest reset), both are enforced, and
// a refused request charges neither.
func TestIntegrationRedisOneKeyPerTier(t *testing.T) {
	tests := []struct {
		name         string
		limits       string
		allowed      int
		wantBlocking int // the refusing window
		wantOther    int // the other window's remaining while refused
	}{
		{name: "the minute refuses", limits: "5/minute,20/hour", allowed: 5, wantBlocking: 0, wantOther: 15},
		{name: "the hour refuses", limits: "10/minute,3/hour", allowed: 3, wantBlocking: 1, wantOther: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := redistest.Shared(t)
			prefix := redistest.Prefix(t, rdb)
			r := newTestRedis(t, rdb, prefix, RedisConfig{Timeout: time.Second, NoNegativeCache: true})
			tier := mustTier(t, "t", tt.limits)
			ctx := context.Background()
			for i := range tt.allowed {
				if d, err := r.Allow(tier, "route", "client"); err != nil || !d.Allowed {
					t.Fatalf("call %d: %+v %v", i+1, d, err)
				}
			}
			keys, err := rdb.Keys(ctx, prefix+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			key := prefix + "{route|client}:60:3600"
			if len(keys) != 1 || keys[0] != key {
				t.Fatalf("keys %q, want only %q", keys, key)
			}
			before, err := rdb.Get(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(before) != 16 || f64(before[8:]) <= f64(before) {
				t.Fatalf("value % x: want two packed TATs, the hour's later", before)
			}
			if ttl := rdb.TTL(ctx, key).Val(); ttl <= time.Minute || ttl > time.Hour {
				t.Errorf("TTL %v: want the hour's reset, longer than the minute's", ttl)
			}
			for i := range 3 {
				d, err := r.Allow(tier, "route", "client")
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed || d.Blocking() != tt.wantBlocking {
					t.Fatalf("refused call %d: %+v, want refused by window %d", i+1, d, tt.wantBlocking)
				}
				if other := d.Windows[1-tt.wantBlocking].Remaining; other != tt.wantOther {
					t.Errorf("refused call %d: other window remaining %d, want %d", i+1, other, tt.wantOther)
				}
			}
			if after, _ := rdb.Get(ctx, key).Result(); after != before {
				t.Errorf("TATs changed from % x to % x by refused requests", before, after)
			}
		})
	}
}

// TestIntegrationRedisBatchOfTiers: one script call deciding requests of
// two tiers, interleaved, gives each its own numbers and sees the earlier
// charges of its key.
func TestIntegrationRedisBatchOfTiers(t *testing.T) {
	rdb := redistest.Shared(t)
	r := newTestRedis(t, rdb, redistest.Prefix(t, rdb), RedisConfig{Timeout: time.Second})
	a := mustTier(t, "a", "2/minute")
	b := mustTier(t, "b", "1/minute,5/hour")
	steps := []struct {
		tier        *Tier
		wantAllowed bool
	}{
		{tier: a, wantAllowed: true},
		{tier: b, wantAllowed: true},
		{tier: a, wantAllowed: true},
		{tier: b, wantAllowed: false},
		{tier: a, wantAllowed: false},
	}
	bt := &batch{}
	for _, s := range steps {
		bt.calls = append(bt.calls, &call{
			d: Decision{Tier: s.tier, Backend: BackendRedis}, ask: 1, done: make(chan struct{}, 1),
			key: r.cfg.KeyPrefix + "{route|client}" + s.tier.keySuffix,
		})
	}
	calls := slices.Clone(bt.calls)
	r.exec(bt)
	for i, c := range calls {
		<-c.done
		if c.err != nil {
			t.Fatal(c.err)
		}
		if c.d.Allowed != steps[i].wantAllowed {
			t.Errorf("step %d (tier %s): allowed %v, want %v", i+1, steps[i].tier.Name, c.d.Allowed, steps[i].wantAllowed)
		}
	}
	if got := calls[1].d.Windows[1].Remaining; got != 4 {
		t.Errorf("tier b's hour remaining %d, want 4", got)
	}
}

// TestIntegrationRedisConcurrentBatches: 200 concurrent decisions on one
// key through batched round trips allow exactly the burst.
func TestIntegrationRedisConcurrentBatches(t *testing.T) {
	rdb := redistest.Shared(t)
	r := newTestRedis(t, rdb, redistest.Prefix(t, rdb), RedisConfig{Timeout: 2 * time.Second, Workers: 3, BatchMax: 16})
	tier := mustTier(t, "t", "10/minute,30/hour")
	var (
		allowed atomic.Int64
		wg      sync.WaitGroup
	)
	for range 200 {
		wg.Go(func() {
			d, err := r.Allow(tier, "route", "client")
			if err != nil {
				t.Error(err)
				return
			}
			if d.Allowed {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 10 {
		t.Errorf("allowed %d of 200 concurrent requests, want 10", got)
	}
	if n := testutil.CollectAndCount(r.batchSize); n != 1 {
		t.Errorf("batch histogram series = %d", n)
	}
}

// TestIntegrationRedisNoScript: after SCRIPT FLUSH the next decision loads
// the script again (EVALSHA falls back to EVAL).
func TestIntegrationRedisNoScript(t *testing.T) {
	srv := redistest.Start(t)
	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	r := newTestRedis(t, rdb, "p:", RedisConfig{Timeout: time.Second})
	tier := mustTier(t, "t", "10/minute")
	if _, err := r.Allow(tier, "route", "client"); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	d, err := r.Allow(tier, "route", "client")
	if err != nil || !d.Allowed || d.Windows[0].Remaining != 8 {
		t.Fatalf("after SCRIPT FLUSH: %+v %v, want allowed with 8 remaining", d, err)
	}
}

// TestIntegrationLimiterDeadRedis: with nobody at the Redis address, every
// tier falls back to its policy and the limiter reports itself degraded.
func TestIntegrationLimiterDeadRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("dials a dead port; skipped under -short")
	}
	opts, _ := redis.ParseURL(redistest.DeadURL(t))
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	r, err := NewRedis(rdb, RedisConfig{Timeout: 200 * time.Millisecond, BreakerFailures: 2, BreakerCooldown: time.Hour}, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	public := mustTier(t, "public", "2/minute")
	open := mustTier(t, "open", "2/minute")
	open.OnRedisError = FailOpen
	closed := mustTier(t, "closed", "2/minute")
	closed.OnRedisError = FailClosed
	table := &Table{
		tiers:  map[string]*Tier{"public": public, "open": open, "closed": closed},
		routes: map[string]*Tier{"a": public, "b": open, "c": closed},
	}
	l, err := New(table, r, NewLocal(time.Now, 0), Config{}, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		route       string
		wantAllowed []bool
		wantBackend Backend
	}{
		{route: "a", wantAllowed: []bool{true, true, false}, wantBackend: BackendLocal},
		{route: "b", wantAllowed: []bool{true, true, true}, wantBackend: BackendOpen},
		{route: "c", wantAllowed: []bool{false, false, false}, wantBackend: BackendClosed},
	}
	for _, tt := range tests {
		for i, want := range tt.wantAllowed {
			d := l.Allow(tt.route, "client")
			if d.Refused() == want || d.Backend != tt.wantBackend {
				t.Errorf("route %s call %d: refused=%v backend=%s, want allowed=%v backend=%s",
					tt.route, i+1, d.Refused(), d.Backend, want, tt.wantBackend)
			}
		}
	}
	st := l.Status()
	if !st.Degraded || st.Breaker != "open" || st.DegradedSince == nil {
		t.Errorf("status = %+v, want degraded with the breaker open", st)
	}
	if got := testutil.ToFloat64(r.degraded); got != 1 {
		t.Errorf("degraded gauge = %v, want 1", got)
	}
	if got := testutil.ToFloat64(l.fallbacks.WithLabelValues("closed", "closed")); got != 3 {
		t.Errorf("closed fallbacks = %v, want 3", got)
	}
	if !bytes.Contains(logs.Bytes(), []byte("rate limiter degraded")) {
		t.Errorf("no degraded log line in %s", logs.String())
	}
}

// TestIntegrationLimiterRedisStoppedMidRun: Redis dies under traffic, the
// limiter limits in process meanwhile, and returns to Redis by itself once
// it is back.
func TestIntegrationLimiterRedisStoppedMidRun(t *testing.T) {
	srv := redistest.Start(t)
	opts, _ := redis.ParseURL(srv.URL())
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	reg := prometheus.NewRegistry()
	log := slog.New(slog.DiscardHandler)
	r, err := NewRedis(rdb, RedisConfig{Timeout: 200 * time.Millisecond, BreakerFailures: 1, BreakerCooldown: 50 * time.Millisecond}, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	tier := mustTier(t, "public", "100/minute")
	table := &Table{tiers: map[string]*Tier{"public": tier}, routes: map[string]*Tier{"r": tier}}
	l, err := New(table, r, NewLocal(time.Now, 0), Config{}, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	if d := l.Allow("r", "c"); d.Backend != BackendRedis || !d.Allowed {
		t.Fatalf("before the outage: %+v", d)
	}
	srv.Stop()
	for i := range 5 {
		if d := l.Allow("r", "c"); d.Backend != BackendLocal || !d.Allowed {
			t.Fatalf("during the outage, call %d: backend %s allowed %v, want local and allowed", i+1, d.Backend, d.Allowed)
		}
	}
	if !l.Status().Degraded {
		t.Fatalf("status during the outage = %+v, want degraded", l.Status())
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := l.Allow("r", "c")
		if d.Backend == BackendRedis {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("limiter did not return to redis; status %+v", l.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := l.Status(); st.Degraded || st.Breaker != "closed" {
		t.Errorf("status after recovery = %+v, want healthy", st)
	}
}

// windowStateLua is how the script computed a window's numbers before its
// replies carried TATs instead (redis_rate's formulas), kept here to hold
// Window.state to it: ARGV[1] packs now and the TAT, ARGV[2..4] are the
// window's burst, rate and period as the tier's script arguments, ARGV[5]
// "1" when the decision allowed.
var windowStateLua = redis.NewScript(`
local now, tat = struct.unpack("<dd", ARGV[1])
local burst = tonumber(ARGV[2])
local ei = tonumber(ARGV[4]) / tonumber(ARGV[3])
local off = ei * burst
if ARGV[5] == "1" then
  return struct.pack("<ddd", (now - (tat - off)) / ei, -1, tat - now)
end
local diff = now - (tat + ei - off)
if diff < 0 then
  return struct.pack("<ddd", 0, -diff, tat - now)
end
return struct.pack("<ddd", math.min(diff / ei + 1, burst), -1, tat - now)
`)

// TestIntegrationWindowStateMatchesTheScriptsArithmetic compares
// Window.state, bit for bit, with the same formulas evaluated by Redis's
// Lua, over the seed's windows and TATs around now.
func TestIntegrationWindowStateMatchesTheScriptsArithmetic(t *testing.T) {
	rdb := redistest.Shared(t)
	const now = 313344000.123456 // seconds since 2017, microseconds as TIME gives
	for _, limits := range []string{"10/minute", "30/hour", "5/minute", "20/hour", "3/second", "100/90s"} {
		tier := mustTier(t, "t", limits)
		w, args := tier.Windows[0], tier.redisArgs[1:4] // burst, rate, period
		for _, ahead := range []float64{0, 1e-6, 0.5, w.ei - 1e-6, w.ei, w.ei * 3.5, w.offset - w.ei, w.offset, w.offset + 0.25} {
			for _, allowed := range []bool{true, false} {
				tat := now + ahead
				in := make([]byte, 16)
				binary.LittleEndian.PutUint64(in, math.Float64bits(now))
				binary.LittleEndian.PutUint64(in[8:], math.Float64bits(tat))
				flag := map[bool]string{true: "1", false: "0"}[allowed]
				out, err := windowStateLua.Run(t.Context(), rdb, nil, string(in), args[0], args[1], args[2], flag).Text()
				if err != nil {
					t.Fatal(err)
				}
				want := WindowState{Remaining: int(f64(out)), RetryAfter: seconds(f64(out[8:])), ResetAfter: seconds(f64(out[16:]))}
				if got := w.state(now, tat, allowed); got != want {
					t.Errorf("%s, TAT now+%gs, allowed %v: state = %+v, the script's arithmetic %+v", limits, ahead, allowed, got, want)
				}
			}
		}
	}
}
