package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// Errors a Redis decision can fail with; the tier's failure policy decides
// what the request gets.
var (
	// ErrUnavailable: the circuit breaker is open, Redis is not asked.
	ErrUnavailable = errors.New("rate-limit redis unavailable")
	// ErrBusy: more decisions are waiting than the queue holds.
	ErrBusy = errors.New("rate-limit queue full")
	// ErrClosed: the limiter is shutting down.
	ErrClosed = errors.New("rate limiter closed")
)

// RedisConfig tunes the shared backend.
type RedisConfig struct {
	// KeyPrefix starts every key; tests use a random one.
	KeyPrefix string
	// Timeout bounds one round trip; a slow Redis is a failed one.
	Timeout time.Duration
	// Workers is how many round trips may be in flight at once. One is
	// usually best: decisions arriving during a round trip form the next
	// batch, so batches grow with load (measured: 1 worker batched 9.7
	// decisions per trip and cost the gateway 4% of its ceiling, 4
	// workers batched 2.9 and cost 38%).
	Workers int
	// BatchMax is the most decisions in one round trip, at most 256.
	BatchMax int
	// QueueSize bounds the decisions waiting for a worker; past it a
	// decision fails at once (ErrBusy) rather than queueing behind a slow
	// Redis.
	QueueSize int
	// BreakerFailures is how many consecutive failed round trips open the
	// circuit breaker.
	BreakerFailures int
	// BreakerCooldown is how long the breaker stays open before one round
	// trip probes Redis again.
	BreakerCooldown time.Duration
	// LeaseMax caps the tokens one lease takes for a generous tier (one
	// whose every burst is ≥ 32: a lease is at most 1/16 of the smallest
	// burst, and asks for what the key used over the last LeaseTTL). 0
	// means 65 535, the most the script's reply can carry: the larger the
	// lease, the fewer round trips a busy key costs Redis, and the longer
	// its next lease has to arrive before the last is spent (with 64, a
	// key at 50 000 requests a second sent 1.5 % of its requests to Redis
	// synchronously; with 255, 0.05 %, and each lease cost Redis about
	// 0.5 µs of CPU a request). Negative turns leases off, so every
	// decision of every tier is made in Redis (the exact path, for
	// benchmarks).
	LeaseMax int
	// LeaseTTL is how long leased tokens may be spent before they lapse,
	// so a replica never hoards them (1 s by default).
	LeaseTTL time.Duration
	// NoNegativeCache turns off repeating Redis's refusals locally until
	// their Retry-After.
	NoNegativeCache bool
	// CacheEntries bounds the keys the negative cache and the leases
	// track (1<<16 by default, about 20 MB); past it a random key is
	// forgotten, which costs it one round trip (and a lease's unspent
	// tokens).
	CacheEntries int
}

func (c *RedisConfig) setDefaults() {
	if c.KeyPrefix == "" {
		c.KeyPrefix = "acube:rl:"
	}
	if c.Timeout <= 0 {
		c.Timeout = 50 * time.Millisecond
	}
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.BatchMax <= 0 || c.BatchMax > 256 {
		c.BatchMax = 256 // the script's arguments spend one byte on a call's tier
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 16 * c.BatchMax
	}
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = 3
	}
	if c.BreakerCooldown <= 0 {
		c.BreakerCooldown = 2 * time.Second
	}
	if c.LeaseMax == 0 || c.LeaseMax > maxLease {
		c.LeaseMax = maxLease
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = time.Second
	}
}

// maxLease is the largest lease: the script's reply spends two bytes on
// the tokens granted (grantBytes).
const maxLease = 1<<(8*grantBytes) - 1

// Redis is the shared backend. Requests put their decision on a queue;
// a few workers each take whatever is waiting (up to BatchMax) and send it
// as one script call, so under load many decisions share one round trip
// and Redis runs one script instead of hundreds.
// In front of the queue sit the shortcuts: a key Redis refused is refused
// locally until its Retry-After, and a generous tier's key spends tokens
// leased by an earlier round trip, so most decisions never queue at all.
type Redis struct {
	rdb     redis.Scripter
	cfg     RedisConfig
	queue   chan *call
	calls   sync.Pool
	breaker *gobreaker.CircuitBreaker[struct{}]
	stop    chan struct{}
	wg      sync.WaitGroup
	refills sync.WaitGroup // leases fetched ahead (refill), waited for by Close
	log     *slog.Logger

	cache *shortcuts

	degradedSince atomic.Int64 // unix nanoseconds; 0 while healthy
	errors        prometheus.Counter
	degraded      prometheus.Gauge
	batchSize     prometheus.Histogram
	roundTrips    prometheus.Counter
	shortcuts     *prometheus.CounterVec
	shortcutBy    *counterCache // shortcuts by tier and Shortcut
}

// call is one decision travelling to a worker and back.
type call struct {
	d       Decision
	key     string // every window's TATs, in one Redis key
	ask     int    // tokens asked for: 1, or a lease
	granted int    // tokens Redis gave: 0 refused
	err     error
	done    chan struct{}
}

// NewRedis starts the workers of a backend over rdb and registers its
// metrics with reg. Close stops them.
func NewRedis(rdb redis.Scripter, cfg RedisConfig, reg prometheus.Registerer, log *slog.Logger) (*Redis, error) {
	cfg.setDefaults()
	r := &Redis{
		rdb:   rdb,
		cfg:   cfg,
		queue: make(chan *call, cfg.QueueSize),
		stop:  make(chan struct{}),
		log:   log,
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_ratelimit_redis_errors_total",
			Help: "Rate-limit round trips to Redis that failed or timed out.",
		}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gateway_ratelimit_redis_degraded",
			Help: "1 while the Redis circuit breaker is not closed and tiers use their failure policy.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gateway_ratelimit_batch_size",
			Help:    "Decisions sent to Redis in one round trip.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}),
		roundTrips: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_ratelimit_redis_round_trips_total",
			Help: "Script calls sent to Redis by the limiter (one per batch).",
		}),
		shortcuts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_ratelimit_local_decisions_total",
			Help: "Decisions on shared counters made without a round trip: reason negative_cache (Redis refused the key until a known instant) or lease (tokens leased from Redis).",
		}, []string{"tier", "reason"}),
		cache: newShortcuts(cfg.LeaseMax, cfg.LeaseTTL, !cfg.NoNegativeCache, cfg.CacheEntries),
	}
	r.shortcutBy = newCounterCache(r.shortcuts, func(tier string, code int) []string {
		return []string{tier, Shortcut(code).String()}
	})
	r.calls.New = func() any { return &call{done: make(chan struct{}, 1)} }
	for _, c := range []prometheus.Collector{r.errors, r.degraded, r.batchSize, r.roundTrips, r.shortcuts} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register redis limiter metrics: %w", err)
		}
	}
	r.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "redis-ratelimit",
		MaxRequests: 1,
		Timeout:     cfg.BreakerCooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(cfg.BreakerFailures)
		},
		OnStateChange: r.stateChanged,
	})
	for range cfg.Workers {
		r.wg.Go(r.work)
	}
	return r, nil
}

func (r *Redis) stateChanged(_ string, from, to gobreaker.State) {
	switch to {
	case gobreaker.StateOpen:
		if from == gobreaker.StateClosed {
			r.degradedSince.Store(time.Now().UnixNano())
			r.degraded.Set(1)
			r.log.Warn("rate limiter degraded: redis unreachable, tiers use their failure policy",
				"breaker", to.String(), "cooldown", r.cfg.BreakerCooldown.String())
		}
	case gobreaker.StateClosed:
		since := r.degradedSince.Swap(0)
		r.degraded.Set(0)
		r.log.Info("rate limiter recovered: redis answers again",
			"degraded_for", time.Since(time.Unix(0, since)).String())
	case gobreaker.StateHalfOpen:
		r.log.Info("rate limiter probing redis", "breaker", to.String())
	}
}

// Breaker is the circuit breaker's state: closed, half-open or open.
func (r *Redis) Breaker() string { return r.breaker.State().String() }

// DegradedSince is when Redis stopped answering, or zero while healthy.
func (r *Redis) DegradedSince() time.Time {
	if n := r.degradedSince.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Allow decides one request on the shared counters: from the negative
// cache or a lease when they can answer, otherwise in Redis. An error means
// Redis did not decide and the tier's failure policy must.
func (r *Redis) Allow(tier *Tier, route, client string) (Decision, error) {
	d := Decision{Tier: tier, Backend: BackendRedis}
	now := r.cache.now()
	ok, ask := r.cache.lookup(tier, route, client, now, &d)
	if ok {
		r.shortcutBy.get(tier.Name, int(d.Shortcut)).Inc()
		if ask > 0 {
			r.refills.Go(func() { r.refill(tier, route, client, now, ask) })
		}
		return d, nil
	}
	d, granted, err := r.roundTrip(tier, route, client, ask)
	r.cache.record(tier, route, client, now, ask, granted, &d, err != nil)
	return d, err
}

// refill fetches the next lease of a busy key ahead of need, with no
// request waiting for it.
func (r *Redis) refill(tier *Tier, route, client string, now int64, ask int) {
	d, granted, err := r.roundTrip(tier, route, client, ask)
	r.cache.recordRefill(tier, route, client, now, ask, granted, &d, err != nil)
}

// roundTrip queues one request for ask tokens and waits for its batch;
// granted is how many Redis gave.
func (r *Redis) roundTrip(tier *Tier, route, client string, ask int) (d Decision, granted int, err error) {
	if r.breaker.State() == gobreaker.StateOpen {
		return Decision{}, 0, ErrUnavailable
	}
	c := r.calls.Get().(*call)
	c.d = Decision{Tier: tier, Backend: BackendRedis}
	c.ask, c.granted = ask, 0
	c.key = r.cfg.KeyPrefix + "{" + route + "|" + client + "}" + tier.keySuffix
	select {
	case r.queue <- c:
	case <-r.stop:
		r.calls.Put(c)
		return Decision{}, 0, ErrClosed
	default:
		r.calls.Put(c)
		return Decision{}, 0, ErrBusy
	}
	<-c.done
	d, granted, err = c.d, c.granted, c.err
	c.key, c.err = "", nil
	r.calls.Put(c)
	return d, granted, err
}

// work sends whatever decisions are waiting, as one script call, until
// Close.
func (r *Redis) work() {
	b := &batch{
		calls: make([]*call, 0, r.cfg.BatchMax),
		keys:  make([]string, 0, r.cfg.BatchMax),
		args:  make([]any, 0, 2+MaxWindows*3+1),
		reqs:  make([]byte, 0, 2*r.cfg.BatchMax),
	}
	for {
		select {
		case c := <-r.queue:
			b.calls = append(b.calls[:0], c)
		case <-r.stop:
			return
		}
	fill:
		for len(b.calls) < r.cfg.BatchMax {
			select {
			case c := <-r.queue:
				b.calls = append(b.calls, c)
			default:
				break fill
			}
		}
		r.exec(b)
	}
}

// batch is a worker's round trip: the calls and the script's keys and
// arguments, reused from one batch to the next.
type batch struct {
	calls []*call
	keys  []string
	tiers []*Tier // in the order of their arguments
	args  []any
	reqs  []byte // per call: its tier's index in tiers, and its cost (two bytes)
}

// build fills the script's keys and arguments from the calls: each tier's
// numbers once, then three bytes per call.
func (b *batch) build() {
	b.keys, b.tiers, b.reqs = b.keys[:0], b.tiers[:0], b.reqs[:0]
	for _, c := range b.calls {
		ti := slices.Index(b.tiers, c.d.Tier)
		if ti < 0 {
			ti = len(b.tiers)
			b.tiers = append(b.tiers, c.d.Tier)
		}
		// BatchMax ≤ 256 calls hold at most 256 tiers, so ti fits a byte.
		b.keys = append(b.keys, c.key)
		b.reqs = append(b.reqs, byte(ti), byte(c.ask>>8), byte(c.ask)) // ask ≤ maxLease
	}
	b.args = append(b.args[:0], len(b.tiers))
	for _, t := range b.tiers {
		b.args = append(b.args, t.redisArgs...)
	}
	b.args = append(b.args, b.reqs)
}

func (r *Redis) exec(b *batch) {
	b.build()
	r.batchSize.Observe(float64(len(b.calls)))
	r.roundTrips.Inc()
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	_, err := r.breaker.Execute(func() (struct{}, error) {
		reply, err := gcraScript.Run(ctx, r.rdb, b.keys, b.args...).Text()
		if err != nil {
			return struct{}{}, fmt.Errorf("run rate-limit script: %w", err)
		}
		if len(reply) < 8 {
			return struct{}{}, errShortReply
		}
		now, off := f64(reply), 8
		for _, c := range b.calls {
			if off+grantBytes <= len(reply) {
				c.granted = granted(reply[off:])
			}
			if off, err = decodeDecision(reply, off, now, &c.d); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, checkReply(reply, off)
	})
	cancel()
	switch {
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		err = ErrUnavailable
	case err != nil:
		r.errors.Inc()
		r.log.Debug("rate-limit round trip failed", "batch", len(b.calls), "error", err.Error())
	}
	for _, c := range b.calls {
		c.err = err
		c.done <- struct{}{}
	}
	clear(b.calls)
	clear(b.keys)
	clear(b.tiers)
	clear(b.args)
}

// Close stops the workers and fails decisions still queued, also those
// that leases being fetched ahead (refill) queue meanwhile.
func (r *Redis) Close() {
	close(r.stop)
	r.wg.Wait()
	refilled := make(chan struct{})
	go func() { r.refills.Wait(); close(refilled) }()
	fail := func(c *call) {
		c.err = ErrClosed
		c.done <- struct{}{}
	}
	for {
		select {
		case c := <-r.queue:
			fail(c)
		case <-refilled:
			for {
				select {
				case c := <-r.queue:
					fail(c)
				default:
					return
				}
			}
		}
	}
}
