package ratelimit

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/gateway/internal/redistest"
)

// tripCounter is a go-redis hook counting round trips: every command
// processed alone and every pipeline.
type tripCounter struct{ n atomic.Int64 }

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// countedRedis returns a client of the shared Redis whose round trips are
// counted, and a key prefix of the test's own.
func countedRedis(t testing.TB) (*redis.Client, *tripCounter, string) {
	t.Helper()
	rdb := redistest.Shared(t)
	prefix := redistest.Prefix(t, rdb)
	trips := &tripCounter{}
	rdb.AddHook(trips)
	return rdb, trips, prefix
}

// newTestLimiter is one gateway replica: a Limiter over its own Redis
// backend (sharing rdb and prefix with the other replicas) and table.
func newTestLimiter(t testing.TB, rdb *redis.Client, prefix string, cfg RedisConfig, tiers ...*Tier) *Limiter {
	t.Helper()
	cfg.KeyPrefix = prefix
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	reg := prometheus.NewRegistry()
	r, err := NewRedis(rdb, cfg, reg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	table := &Table{tiers: map[string]*Tier{}, routes: map[string]*Tier{}}
	for _, tier := range tiers {
		table.tiers[tier.Name] = tier
		table.routes["route-"+tier.Name] = tier
	}
	l, err := New(table, r, NewLocal(time.Now, 0), Config{}, reg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// hammer runs goroutines×each decisions on route for client, spread over
// the replicas, and returns how many were allowed.
func hammer(replicas []*Limiter, route, client string, goroutines, each int) int {
	var (
		allowed atomic.Int64
		wg      sync.WaitGroup
	)
	for g := range goroutines {
		l := replicas[g%len(replicas)]
		wg.Go(func() {
			for range each {
				if d := l.Allow(route, client); d.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(allowed.Load())
}

// TestTierLeasable: the lease rule — every burst ≥ 32 — holds the seed's
// strict tiers out and lets admin (and the benchmark's huge tier) in.
func TestTierLeasable(t *testing.T) {
	tests := []struct {
		limits string
		want   bool
		cap    int
	}{
		{limits: "10/minute,30/hour", want: false},          // public
		{limits: "5/minute,20/hour", want: false},           // auth, export
		{limits: "10/minute,50/hour", want: false},          // upload
		{limits: "60/minute,1000/hour", want: true, cap: 3}, // admin
		{limits: "31/minute", want: false},
		{limits: "32/minute", want: true, cap: 2},
		{limits: "1000000000/minute,1000000000/hour", want: true, cap: 62500000},
	}
	for _, tt := range tests {
		tier := mustTier(t, "t", tt.limits)
		if tier.Leasable() != tt.want || (tt.want && tier.leaseCap != tt.cap) {
			t.Errorf("%s: leasable %v cap %d, want %v cap %d", tt.limits, tier.Leasable(), tier.leaseCap, tt.want, tt.cap)
		}
	}
	s := newShortcuts(64, time.Second, true, 0)
	if got := s.leaseCap(mustTier(t, "t", "1000000000/minute")); got != 64 {
		t.Errorf("lease cap of a huge tier = %d, want LeaseMax 64", got)
	}
	var cfg RedisConfig
	cfg.setDefaults()
	if cfg.LeaseMax != maxLease {
		t.Errorf("default LeaseMax = %d, want %d (the most a reply carries)", cfg.LeaseMax, maxLease)
	}
}

// TestLeaseDemand: the next lease follows the key's recent rate — one
// token for a client at one request per TTL, more for a burst.
func TestLeaseDemand(t *testing.T) {
	ttl := int64(time.Second)
	tests := []struct {
		name    string
		served  int
		elapsed time.Duration
		want    int
	}{
		{name: "one per second", served: 0, elapsed: time.Second, want: 1},
		{name: "one per two seconds", served: 0, elapsed: 2 * time.Second, want: 1},
		{name: "ten per second", served: 0, elapsed: 100 * time.Millisecond, want: 10},
		{name: "lease used up in 100ms", served: 9, elapsed: 100 * time.Millisecond, want: 100},
		{name: "slow after a lease", served: 3, elapsed: 5 * time.Second, want: 4},
		{name: "same instant", served: 0, elapsed: 0, want: 1 << 30},
	}
	for _, tt := range tests {
		e := &shortcutEntry{askedAt: 0, served: tt.served}
		if got := e.demand(int64(tt.elapsed), ttl); got != tt.want {
			t.Errorf("%s: demand %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestShortcutLeaseHeaders: tokens of a lease are spent locally with
// Remaining = Redis's remaining after the lease + tokens left, and lapse
// after the TTL.
func TestShortcutLeaseHeaders(t *testing.T) {
	s := newShortcuts(64, time.Second, true, 0)
	tier := mustTier(t, "admin", "60/minute,1000/hour")
	var d Decision
	ok, ask := s.lookup(tier, "r", "c", 0, &d)
	if ok || ask != 1 {
		t.Fatalf("first lookup: ok=%v ask=%d, want a round trip for 1", ok, ask)
	}
	s.record(tier, "r", "c", 0, ask, 1, &Decision{Tier: tier, Allowed: true}, false)
	// A second request 10 ms later projects 100 per second: the cap, 3.
	now := int64(10 * time.Millisecond)
	if ok, ask = s.lookup(tier, "r", "c", now, &d); ok || ask != 3 {
		t.Fatalf("second lookup: ok=%v ask=%d, want a round trip for the cap 3", ok, ask)
	}
	got := Decision{Tier: tier, Allowed: true, Windows: [MaxWindows]WindowState{
		{Remaining: 56, RetryAfter: -1, ResetAfter: 4 * time.Second},
		{Remaining: 996, RetryAfter: -1, ResetAfter: 14 * time.Second},
	}}
	s.record(tier, "r", "c", now, ask, 3, &got, false)
	if got.Windows[0].Remaining != 58 || got.Windows[1].Remaining != 998 {
		t.Fatalf("lease-taking decision remaining %d/%d, want 58/998", got.Windows[0].Remaining, got.Windows[1].Remaining)
	}
	for i, want := range []int{57, 56} {
		d = Decision{Tier: tier}
		now += int64(time.Millisecond)
		if ok, _ = s.lookup(tier, "r", "c", now, &d); !ok || !d.Allowed || d.Shortcut != ShortcutLease {
			t.Fatalf("lease decision %d: ok=%v %+v", i+1, ok, d)
		}
		if d.Windows[0].Remaining != want || d.Windows[0].RetryAfter != -1 ||
			d.Windows[0].ResetAfter != 4*time.Second-time.Duration(i+1)*time.Millisecond {
			t.Errorf("lease decision %d: window %+v, want remaining %d", i+1, d.Windows[0], want)
		}
	}
	if ok, ask = s.lookup(tier, "r", "c", now, &d); ok || ask < 1 {
		t.Fatalf("lease spent: ok=%v ask=%d, want a round trip", ok, ask)
	}
	s.record(tier, "r", "c", now, ask, 3, &Decision{Tier: tier, Allowed: true}, false)
	if ok, _ = s.lookup(tier, "r", "c", now+int64(time.Second), &d); ok {
		t.Fatalf("a lease older than its TTL served a decision")
	}
}

// TestShortcutDroppedWhenNumbersChange: a reload that changes a tier's
// numbers drops its cached refusals and leases; one that keeps them does
// not.
func TestShortcutDroppedWhenNumbersChange(t *testing.T) {
	s := newShortcuts(64, time.Second, true, 0)
	old := mustTier(t, "public", "2/minute")
	refused := Decision{Tier: old, Windows: [MaxWindows]WindowState{{Remaining: 0, RetryAfter: 30 * time.Second, ResetAfter: time.Minute}}}
	s.record(old, "r", "c", 0, 1, 0, &refused, false)
	var d Decision
	if ok, _ := s.lookup(old, "r", "c", 1, &d); !ok || d.Shortcut != ShortcutNegativeCache {
		t.Fatalf("refusal not cached: %+v", d)
	}
	same := mustTier(t, "public", "2/minute")
	if ok, _ := s.lookup(same, "r", "c", 2, &d); !ok {
		t.Errorf("a reload with the same numbers dropped the cached refusal")
	}
	changed := mustTier(t, "public", "20/minute")
	if ok, _ := s.lookup(changed, "r", "c", 3, &d); ok {
		t.Errorf("a reload with new numbers kept the cached refusal")
	}
}

// TestIntegrationNegativeCacheHeaders: after Redis refuses a key, the next
// refusals are local, with Remaining 0 and Retry-After counting down.
func TestIntegrationNegativeCacheHeaders(t *testing.T) {
	rdb, trips, prefix := countedRedis(t)
	tier := mustTier(t, "public", "2/minute,30/hour")
	l := newTestLimiter(t, rdb, prefix, RedisConfig{}, tier)
	for i := range 2 {
		if d := l.Allow("route-public", "c"); !d.Allowed || d.Shortcut != ShortcutNone {
			t.Fatalf("call %d: %+v", i+1, d)
		}
	}
	first := l.Allow("route-public", "c")
	if first.Allowed || first.Shortcut != ShortcutNone || first.Blocking() != 0 {
		t.Fatalf("third call: %+v, want refused by Redis on the minute", first)
	}
	before := trips.n.Load()
	prev := first
	for i := range 5 {
		time.Sleep(2 * time.Millisecond)
		d := l.Allow("route-public", "c")
		if d.Allowed || !d.Refused() || d.Shortcut != ShortcutNegativeCache || d.Backend != BackendRedis || !d.Limited() {
			t.Fatalf("cached refusal %d: %+v", i+1, d)
		}
		w, pw := d.Windows[0], prev.Windows[0]
		if w.Remaining != 0 || w.RetryAfter <= 0 || w.RetryAfter >= pw.RetryAfter || w.ResetAfter >= pw.ResetAfter {
			t.Errorf("cached refusal %d: minute %+v after %+v, want 0 remaining and both counting down", i+1, w, pw)
		}
		if d.Windows[1].Remaining != first.Windows[1].Remaining || d.Windows[1].RetryAfter != -1 {
			t.Errorf("cached refusal %d: hour %+v, want as Redis said %+v", i+1, d.Windows[1], first.Windows[1])
		}
		prev = d
	}
	if n := trips.n.Load() - before; n != 0 {
		t.Errorf("cached refusals cost %d round trips, want 0", n)
	}
	if got := testutil.ToFloat64(l.redis.shortcuts.WithLabelValues("public", "negative_cache")); got != 5 {
		t.Errorf("negative_cache decisions = %v, want 5", got)
	}
	if got := testutil.ToFloat64(l.decisions.WithLabelValues("public", OutcomeRefused, "redis")); got != 6 {
		t.Errorf("refused decisions = %v, want 6", got)
	}
}

// TestIntegrationFloodRoundTrips: 100,000 requests of one over-limit
// client from 50 goroutines cost Redis fewer than 1,000 round trips, and
// the tier still allows exactly its burst.
func TestIntegrationFloodRoundTrips(t *testing.T) {
	tests := []struct {
		name   string
		shadow bool
	}{
		{name: "enforced"},
		{name: "shadow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb, trips, prefix := countedRedis(t)
			tier := mustTier(t, "public", "10/minute,30/hour")
			tier.Shadow = tt.shadow
			l := newTestLimiter(t, rdb, prefix, RedisConfig{}, tier)
			before := trips.n.Load()
			var allowed, refused atomic.Int64
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					for range 2000 {
						d := l.Allow("route-public", "10.9.9.9")
						if d.Allowed {
							allowed.Add(1)
						}
						if d.Refused() {
							refused.Add(1)
						}
					}
				})
			}
			wg.Wait()
			n := trips.n.Load() - before
			t.Logf("100000 decisions, %d round trips", n)
			if n >= 1000 {
				t.Errorf("flood cost %d round trips, want < 1000", n)
			}
			if got := allowed.Load(); got != 10 {
				t.Errorf("allowed %d, want 10", got)
			}
			wantRefused := int64(100000 - 10)
			if tt.shadow {
				wantRefused = 0
				if got := testutil.ToFloat64(l.decisions.WithLabelValues("public", OutcomeShadowRefused, "redis")); got != 100000-10 {
					t.Errorf("shadow_refused = %v, want %d", got, 100000-10)
				}
			}
			if got := refused.Load(); got != wantRefused {
				t.Errorf("refused %d, want %d", got, wantRefused)
			}
		})
	}
}

// shiftTATs moves the TATs stored in key d earlier: for GCRA that is
// exactly d passing, so a test can live through hours in milliseconds.
// A key holds its tier's TATs as packed little-endian doubles.
func shiftTATs(t *testing.T, rdb *redis.Client, key string, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	v, err := rdb.Get(ctx, key).Bytes()
	if err != nil || len(v)%8 != 0 {
		t.Fatalf("TATs of %s: % x %v", key, v, err)
	}
	for i := 0; i < len(v); i += 8 {
		tat := math.Float64frombits(binary.LittleEndian.Uint64(v[i:]))
		tat = math.Round((tat-d.Seconds())*1e6) / 1e6 // on redis_rate's microsecond grid
		binary.LittleEndian.PutUint64(v[i:], math.Float64bits(tat))
	}
	if err := rdb.Set(ctx, key, v, 0).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationStrictTiersAcrossReplicas: two replicas sharing Redis,
// with concurrent callers, admit exactly what one GCRA would — auth 5 in a
// minute, public 10 — and, living through simulated minutes, exactly the
// hour's numbers: never a request more than the reference.
func TestIntegrationStrictTiersAcrossReplicas(t *testing.T) {
	tests := []struct {
		tier, limits string
		firstMinute  int
	}{
		{tier: "auth", limits: "5/minute,20/hour", firstMinute: 5},
		{tier: "public", limits: "10/minute,30/hour", firstMinute: 10},
		{tier: "upload", limits: "10/minute,50/hour", firstMinute: 10},
		{tier: "export", limits: "5/minute,20/hour", firstMinute: 5},
	}
	const (
		steps = 8
		step  = 61 * time.Second // off the windows' emission grid, so real milliseconds never tip a token
	)
	for _, tt := range tests {
		t.Run(tt.tier, func(t *testing.T) {
			rdb, _, prefix := countedRedis(t)
			tier := mustTier(t, tt.tier, tt.limits)
			if tier.Leasable() {
				t.Fatalf("tier %s is leasable", tt.tier)
			}
			clk := testkit.NewClock(time.Unix(1_800_000_000, 0))
			ref := NewLocal(clk.Now, 0)
			total, refTotal := 0, 0
			key := prefix + "{route-" + tt.tier + "|10.1.1.1}" + tier.keySuffix
			var hammered time.Time
			for s := range steps {
				// Fresh replicas each simulated minute: their negative
				// caches count real time, which the shift skips.
				replicas := []*Limiter{
					newTestLimiter(t, rdb, prefix, RedisConfig{}, tier),
					newTestLimiter(t, rdb, prefix, RedisConfig{}, tier),
				}
				if s > 0 {
					// Redis's clock ran on meanwhile: the shift takes off
					// the real time since the last hammering, so Redis
					// lives exactly step per step like the reference,
					// however slow the machine.
					shiftTATs(t, rdb, key, step-time.Since(hammered))
					clk.Advance(step)
				}
				hammered = time.Now()
				got := hammer(replicas, "route-"+tt.tier, "10.1.1.1", 20, 3)
				want := 0
				for range 60 {
					if ref.Allow(tier, "r", "c").Allowed {
						want++
					}
				}
				if s == 0 && got != tt.firstMinute {
					t.Errorf("first minute: two replicas admitted %d, want exactly %d", got, tt.firstMinute)
				}
				if got != want {
					t.Errorf("minute %d: two replicas admitted %d, one GCRA %d", s+1, got, want)
				}
				total, refTotal = total+got, refTotal+want
			}
			t.Logf("%s over %d simulated minutes: admitted %d (reference %d)", tt.tier, steps, total, refTotal)
		})
	}
}

// TestIntegrationAdminLeases: the admin tier is leased, most decisions
// skip Redis, and two replicas with concurrent callers admit no more than
// the minute's 60 plus what regenerates while the test runs plus the
// documented bound, and no fewer than 60 less the tokens leases may
// strand (two replicas × twice the lease cap).
func TestIntegrationAdminLeases(t *testing.T) {
	rdb, trips, prefix := countedRedis(t)
	tier := mustTier(t, "admin", "60/minute,1000/hour")
	replicas := []*Limiter{
		newTestLimiter(t, rdb, prefix, RedisConfig{}, tier),
		newTestLimiter(t, rdb, prefix, RedisConfig{}, tier),
	}
	start := time.Now()
	before := trips.n.Load()
	got := hammer(replicas, "route-admin", "10.2.2.2", 20, 50)
	elapsed := time.Since(start)
	n := trips.n.Load() - before
	regen := int(elapsed / time.Second) // 60/minute regenerates one a second
	leaseBound := 1                     // ⌈rate × TTL / period⌉ = ⌈60 × 1s / 60s⌉
	t.Logf("admin: 1000 decisions, %d admitted, %d round trips, %s", got, n, elapsed)
	if got > 60+regen+1+leaseBound {
		t.Errorf("admitted %d, want at most 60 + %d regenerated + 1 + bound %d", got, regen, leaseBound)
	}
	if strand := 2 * 2 * tier.leaseCap; got < 60-strand {
		t.Errorf("admitted %d, want at least 60 - %d stranded", got, strand)
	}
	var leased float64
	for _, l := range replicas {
		leased += testutil.ToFloat64(l.redis.shortcuts.WithLabelValues("admin", "lease"))
	}
	if leased == 0 {
		t.Errorf("no decision was served from a lease")
	}

	// A steady client: a lease follows its demand.
	rdb2, trips2, prefix2 := countedRedis(t)
	l := newTestLimiter(t, rdb2, prefix2, RedisConfig{}, mustTier(t, "admin", "100000/minute,1000000/hour"))
	before = trips2.n.Load()
	for range 3000 {
		if d := l.Allow("route-admin", "10.3.3.3"); !d.Allowed {
			t.Fatalf("refused under a generous limit: %+v", d)
		}
	}
	if n := trips2.n.Load() - before; n > 3000/32 {
		t.Errorf("3000 sequential decisions on a leased tier cost %d round trips, want ≤ %d", n, 3000/32)
	}
}

// TestIntegrationLeasesOff: LeaseMax < 0 decides every request in Redis.
func TestIntegrationLeasesOff(t *testing.T) {
	rdb, trips, prefix := countedRedis(t)
	l := newTestLimiter(t, rdb, prefix, RedisConfig{LeaseMax: -1}, mustTier(t, "admin", "100000/minute"))
	before := trips.n.Load()
	for range 50 {
		if d := l.Allow("route-admin", "c"); !d.Allowed || d.Shortcut != ShortcutNone {
			t.Fatalf("%+v", d)
		}
	}
	if n := trips.n.Load() - before; n != 50 {
		t.Errorf("50 sequential decisions with leases off cost %d round trips, want 50", n)
	}
}

// TestIntegrationScriptGrantsUpTo: a request for n tokens gets the largest
// k ≤ n every window allows, charged; none when not one fits.
func TestIntegrationScriptGrantsUpTo(t *testing.T) {
	rdb, _, prefix := countedRedis(t)
	r := newTestRedis(t, rdb, prefix, RedisConfig{Timeout: time.Second})
	tier := mustTier(t, "t", "10/minute,8/hour")
	tests := []struct {
		ask, wantGranted, wantMinute, wantHour int
	}{
		{ask: 3, wantGranted: 3, wantMinute: 7, wantHour: 5},
		{ask: 1, wantGranted: 1, wantMinute: 6, wantHour: 4},
		{ask: 5, wantGranted: 4, wantMinute: 2, wantHour: 0}, // the hour has 4 left
		{ask: 2, wantGranted: 0, wantMinute: 2, wantHour: 0},
	}
	for i, tt := range tests {
		d, granted, err := r.roundTrip(tier, "route", "client", tt.ask)
		if err != nil {
			t.Fatal(err)
		}
		if granted != tt.wantGranted || d.Allowed != (tt.wantGranted > 0) ||
			d.Windows[0].Remaining != tt.wantMinute || d.Windows[1].Remaining != tt.wantHour {
			t.Errorf("step %d ask %d: granted %d allowed %v remaining %d/%d, want %d and %d/%d", i+1, tt.ask,
				granted, d.Allowed, d.Windows[0].Remaining, d.Windows[1].Remaining, tt.wantGranted, tt.wantMinute, tt.wantHour)
		}
	}
}

// TestIntegrationScriptGrantsLargeLeases: asks and grants past one byte
// (up to maxLease) go through the script whole. The day's window refills
// a token every 0.86 s: a slow run may see one or two more; and
// redis_rate's remaining truncates a float, so it may read one less.
func TestIntegrationScriptGrantsLargeLeases(t *testing.T) {
	rdb, _, prefix := countedRedis(t)
	r := newTestRedis(t, rdb, prefix, RedisConfig{Timeout: time.Second})
	tier := mustTier(t, "t", "100000/day")
	const slack = 2
	tests := []struct{ ask, wantGranted, wantRemaining int }{
		{ask: maxLease, wantGranted: maxLease, wantRemaining: 100000 - maxLease},
		{ask: 256, wantGranted: 256, wantRemaining: 100000 - maxLease - 256},
		{ask: 40000, wantGranted: 100000 - maxLease - 256, wantRemaining: 0},
		{ask: 300, wantGranted: 0, wantRemaining: 0},
	}
	for i, tt := range tests {
		d, granted, err := r.roundTrip(tier, "route", "client", tt.ask)
		if err != nil {
			t.Fatal(err)
		}
		if granted < tt.wantGranted || granted > min(tt.wantGranted+slack, tt.ask) || d.Allowed != (granted > 0) ||
			d.Windows[0].Remaining < max(tt.wantRemaining-1, 0) || d.Windows[0].Remaining > tt.wantRemaining+slack {
			t.Errorf("step %d ask %d: granted %d allowed %v remaining %d, want %d and %d (or up to %d more)", i+1, tt.ask,
				granted, d.Allowed, d.Windows[0].Remaining, tt.wantGranted, tt.wantRemaining, slack)
		}
	}
}

// TestIntegrationSetTableDropsShortcuts: after SetTable changes a tier's
// numbers, neither a cached refusal nor a lease answers for it; the next
// decision goes to Redis under the new numbers.
func TestIntegrationSetTableDropsShortcuts(t *testing.T) {
	rdb, _, prefix := countedRedis(t)
	strict := mustTier(t, "public", "2/minute")
	generous := mustTier(t, "admin", "6000/minute")
	l := newTestLimiter(t, rdb, prefix, RedisConfig{}, strict, generous)
	for range 3 {
		l.Allow("route-public", "c")
	}
	if d := l.Allow("route-public", "c"); d.Shortcut != ShortcutNegativeCache {
		t.Fatalf("refusal not cached: %+v", d)
	}
	for range 20 {
		l.Allow("route-admin", "c")
	}
	if d := l.Allow("route-admin", "c"); d.Shortcut != ShortcutLease {
		t.Fatalf("no lease after 20 quick decisions: %+v", d)
	}
	l.SetTable(&Table{
		tiers: map[string]*Tier{"public": mustTier(t, "public", "3/minute"), "admin": mustTier(t, "admin", "7000/minute")},
		routes: map[string]*Tier{
			"route-public": mustTier(t, "public", "3/minute"),
			"route-admin":  mustTier(t, "admin", "7000/minute"),
		},
	})
	if d := l.Allow("route-public", "c"); d.Shortcut != ShortcutNone || d.Tier.Windows[0].Rate != 3 {
		t.Errorf("after the reload the public decision was %+v, want one made in Redis", d)
	}
	if d := l.Allow("route-admin", "c"); d.Shortcut != ShortcutNone || !d.Allowed {
		t.Errorf("after the reload the admin decision was %+v, want one made in Redis", d)
	}
}

// TestShortcutsBounded: a flood of distinct refused clients never holds
// more keys than the cap, and spent entries are swept.
func TestShortcutsBounded(t *testing.T) {
	s := newShortcuts(64, time.Second, true, 2*localShards)
	tier := mustTier(t, "public", "10/minute")
	refused := Decision{Tier: tier, Windows: [MaxWindows]WindowState{{RetryAfter: time.Second, ResetAfter: time.Minute}}}
	for i := range 10000 {
		s.record(tier, "r", strconv.Itoa(i), 0, 1, 0, &refused, false)
	}
	if n := s.len(); n > 2*localShards {
		t.Errorf("%d keys tracked, want at most %d", n, 2*localShards)
	}
	// Long after every refusal ran out, new keys sweep the spent ones.
	later := int64(time.Minute)
	for i := range 3000 {
		s.record(tier, "r", "late"+strconv.Itoa(i), later, 1, 0, &refused, false)
	}
	var d Decision
	for i := range 10000 {
		if ok, _ := s.lookup(tier, "r", strconv.Itoa(i), later, &d); ok {
			t.Fatalf("client %d: a refusal that ran out a minute ago still answers", i)
		}
	}
}

// TestIntegrationLeaseRefilledAhead: a busy key's next lease is fetched
// in the background once the current one is half spent, so its requests
// stop waiting for Redis: after the first leases, none does as long as
// each refill lands before the tokens left run out (awaited here).
func TestIntegrationLeaseRefilledAhead(t *testing.T) {
	rdb, trips, prefix := countedRedis(t)
	l := newTestLimiter(t, rdb, prefix, RedisConfig{}, mustTier(t, "admin", "100000/minute,1000000/hour"))
	const n = 400
	waited, before := 0, trips.n.Load()
	for range n {
		d := l.Allow("route-admin", "10.4.4.4")
		if !d.Allowed {
			t.Fatalf("refused under a generous limit: %+v", d)
		}
		if d.Shortcut == ShortcutNone {
			waited++
		}
		testkit.Eventually(t, "the refill in flight to land", func() bool { return pendingOf(l, "route-admin", "10.4.4.4") == 0 })
	}
	t.Logf("%d decisions: %d waited for Redis, %d round trips", n, waited, trips.n.Load()-before)
	if waited > 8 {
		t.Errorf("%d of %d decisions waited for a round trip, want only the first few (leases growing to their cap)", waited, n)
	}
	if rt := trips.n.Load() - before; rt > n/8 {
		t.Errorf("%d round trips for %d decisions, want at most %d", rt, n, n/8)
	}
}

// pendingOf is how many tokens the round trips in flight for a key ask.
func pendingOf(l *Limiter, route, client string) int {
	s := l.redis.cache
	key := localKey{route, client}
	sh := &s.shards[maphash.Comparable(s.seed, key)%localShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.entries[key]; e != nil {
		return e.pending
	}
	return 0
}
