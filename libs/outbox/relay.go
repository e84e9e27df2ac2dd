package outbox

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/periodic"
)

// RelayConfig tunes a Relay. Zero values take the defaults in brackets.
type RelayConfig struct {
	// Schema is the schema whose outbox is relayed; it names the NOTIFY
	// channel (outbox_<schema>) and the relay lock, and must be the pool's
	// search path.
	Schema string
	// BatchSize is how many events one transaction claims and publishes [500].
	BatchSize int
	// PollInterval is the fallback wake-up when no notification arrives,
	// and how often the active relay checks that its lock connection is
	// alive while no notification arrives [1s].
	PollInterval time.Duration
	// PublishTimeout bounds the wait for JetStream's acks of one wave of a
	// batch [5s].
	PublishTimeout time.Duration
	// MaxBackoff caps the wait between attempts while NATS or PostgreSQL
	// fail; the wait doubles from 100ms up to it [10s].
	MaxBackoff time.Duration
	// Retention is how long sent rows are kept before they are purged [24h].
	Retention time.Duration
	// LockRetry is how often a standby tries to take the relay lock, and so
	// bounds how long the outbox waits after the active relay dies [1s].
	LockRetry time.Duration
	// GaugeInterval is how often the active relay refreshes the backlog and
	// parked gauges, whatever else it is doing [5s].
	GaugeInterval time.Duration
	// PurgeInterval is how often the active relay deletes sent rows older
	// than Retention [1m].
	PurgeInterval time.Duration
	// MissingStreamGrace is how long a row whose subject no stream holds is
	// retried (holding back the later events of its key only) before it is
	// parked: a stream declared moments after the relay starts, as when a
	// service and NATS come up together, takes its events [1m].
	MissingStreamGrace time.Duration
	// SyncCommit makes each batch's commit wait for its WAL to reach disk
	// [false]. By default the relay's transactions commit with
	// synchronous_commit off, which saves a disk flush per batch: a crash
	// of PostgreSQL can then lose the last marks of a fraction of a second,
	// and those rows are published again, which the stream's duplicate
	// window (message id = event id) and the consumers' inboxes absorb, as
	// they do for a relay that dies between publishing and committing
	// (TestIntegrationLostMarksArePublishedOnce).
	SyncCommit bool
}

func (c *RelayConfig) setDefaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 5 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.Retention <= 0 {
		c.Retention = 24 * time.Hour
	}
	if c.LockRetry <= 0 {
		c.LockRetry = time.Second
	}
	if c.GaugeInterval <= 0 {
		c.GaugeInterval = 5 * time.Second
	}
	if c.PurgeInterval <= 0 {
		c.PurgeInterval = time.Minute
	}
	if c.MissingStreamGrace <= 0 {
		c.MissingStreamGrace = time.Minute
	}
}

// Relay publishes outbox rows to JetStream and marks them sent. Of all
// relays of one schema (one per replica) exactly one is active: it holds a
// session-level PostgreSQL advisory lock on a connection of its own, and
// the others retry the lock every LockRetry. The active relay publishes
// the events of one key one at a time, in seq order, so the stream holds
// each key's events in the order they were written, across batches,
// partial failures and takeovers. The JetStream message id is the event
// id, so rows republished after a crash are dropped by the stream's
// duplicate window, and consumers' inboxes catch anything older.
type Relay struct {
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	log     *slog.Logger
	cfg     RelayConfig
	m       relayMetrics
	lockID  int64
	channel string
}

type relayMetrics struct {
	published   prometheus.Counter
	failures    prometheus.Counter
	parkedTotal prometheus.Counter
	backlog     prometheus.Gauge
	oldestAge   prometheus.Gauge
	parked      prometheus.Gauge
	active      prometheus.Gauge
	batchTimes  prometheus.Histogram
}

// NewRelay builds a relay and registers its metrics with reg.
func NewRelay(pool *pgxpool.Pool, js jetstream.JetStream, reg prometheus.Registerer, log *slog.Logger, cfg RelayConfig) (*Relay, error) {
	if cfg.Schema == "" {
		return nil, errors.New("outbox relay: schema is required")
	}
	cfg.setDefaults()
	m := relayMetrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_events_published_total", Help: "Events published from the outbox to JetStream."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_publish_failures_total", Help: "Relay attempts that failed (NATS or database unavailable)."}),
		parkedTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_events_parked_total", Help: "Events parked because their publish failed for good (no stream, permissions, size)."}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_backlog_events", Help: "Events written but not yet published, parked ones aside; reported by the active relay only (0 on standbys)."}),
		oldestAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_oldest_unsent_age_seconds", Help: "Age of the oldest unpublished, unparked event, 0 when none; reported by the active relay only."}),
		parked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_parked_events", Help: "Events parked and waiting for an operator; reported by the active relay only."}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_relay_active", Help: "1 while this replica holds its schema's relay lock and publishes, 0 on standby."}),
		batchTimes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "outbox_batch_duration_seconds", Help: "Time to claim, publish and mark one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	for _, c := range []prometheus.Collector{m.published, m.failures, m.parkedTotal, m.backlog, m.oldestAge, m.parked, m.active, m.batchTimes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register outbox metrics: %w", err)
		}
	}
	return &Relay{
		pool: pool, js: js, log: log.With("component", "outbox_relay", "schema", cfg.Schema), cfg: cfg, m: m,
		lockID: relayLockID(cfg.Schema), channel: pgx.Identifier{"outbox_" + cfg.Schema}.Sanitize(),
	}, nil
}

// relayLockID is the advisory lock key of schema's relay; it differs from
// the schema's migration lock.
func relayLockID(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("acube-outbox-relay:" + schema))
	return int64(h.Sum64())
}

// Run relays until ctx ends, standing by while another relay of the schema
// is active. It returns nil on cancellation; failures of NATS or
// PostgreSQL are retried, never returned.
func (r *Relay) Run(ctx context.Context) error {
	for {
		conn := r.acquire(ctx)
		if conn == nil {
			return nil
		}
		r.lead(ctx, conn)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// lead relays while conn holds the lock: until ctx ends or the lock
// connection fails, whichever comes first. It closes conn, which releases
// the lock, before it returns.
func (r *Relay) lead(ctx context.Context, conn *pgx.Conn) {
	active, stop := context.WithCancel(ctx)
	defer stop()
	r.log.Info("outbox relay active")
	r.m.active.Set(1)

	wake := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		// Losing the lock connection stops publishing at once: another
		// relay may take the lock as soon as the session is gone.
		defer stop()
		if err := r.watch(active, conn, wake); err != nil {
			r.log.Warn("outbox relay lost its lock; standing by", "error", err.Error())
		}
	})
	wg.Go(func() { periodic.Run(active, r.cfg.GaugeInterval, r.refreshGauges) })
	wg.Go(func() { periodic.Run(active, r.cfg.PurgeInterval, r.purge) })
	r.relay(active, wake)
	stop()
	wg.Wait()

	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = conn.Close(closeCtx) // releases the lock; a broken connection has released it already
	r.standDown()
}

// relay publishes batches until ctx ends, woken by notifications and the
// poll ticker, backing off while NATS or PostgreSQL fail.
func (r *Relay) relay(ctx context.Context, wake <-chan struct{}) {
	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	backoff := time.Duration(0)
	for {
		res, err := r.relayBatch(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.m.failures.Inc()
			backoff = min(max(2*backoff, 100*time.Millisecond), r.cfg.MaxBackoff)
			r.log.Warn("outbox relay failed; retrying", "error", err.Error(), "retry_in_ms", backoff.Milliseconds())
			if !sleep(ctx, backoff) {
				return
			}
			continue
		case res.claimed == r.cfg.BatchSize && res.done > 0:
			backoff = 0
			continue // more is waiting
		}
		backoff = 0
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-poll.C:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
