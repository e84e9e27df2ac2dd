package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// RelayConfig tunes a Relay. Zero values take the defaults in brackets.
type RelayConfig struct {
	// Schema is the schema whose outbox is relayed; it names the NOTIFY
	// channel (outbox_<schema>) and must be the pool's search path.
	Schema string
	// BatchSize is how many events one transaction claims and publishes [500].
	BatchSize int
	// PollInterval is the fallback wake-up when no notification arrives [1s].
	PollInterval time.Duration
	// PublishTimeout bounds the wait for JetStream's acks of one batch [5s].
	PublishTimeout time.Duration
	// MaxBackoff caps the wait between attempts while NATS or PostgreSQL
	// fail; the wait doubles from 100ms up to it [10s].
	MaxBackoff time.Duration
	// Retention is how long sent rows are kept before they are purged [24h].
	Retention time.Duration
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
}

// Relay publishes outbox rows to JetStream in order, in batches, and marks
// them sent. Several replicas may run at once: each batch is claimed with
// FOR UPDATE SKIP LOCKED. The JetStream message id is the event id, so a
// batch republished after a crash is dropped by the stream's duplicate
// window, and consumers' inboxes catch anything older.
type Relay struct {
	pool *pgxpool.Pool
	js   jetstream.JetStream
	log  *slog.Logger
	cfg  RelayConfig
	m    relayMetrics
}

type relayMetrics struct {
	published  prometheus.Counter
	failures   prometheus.Counter
	backlog    prometheus.Gauge
	oldestAge  prometheus.Gauge
	batchTimes prometheus.Histogram
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
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_backlog_events", Help: "Events written but not yet published."}),
		oldestAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_oldest_unsent_age_seconds", Help: "Age of the oldest unpublished event, 0 when none."}),
		batchTimes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "outbox_batch_duration_seconds", Help: "Time to claim, publish and mark one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	for _, c := range []prometheus.Collector{m.published, m.failures, m.backlog, m.oldestAge, m.batchTimes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register outbox metrics: %w", err)
		}
	}
	return &Relay{pool: pool, js: js, log: log.With("component", "outbox_relay"), cfg: cfg, m: m}, nil
}

// Run relays until ctx ends. It returns nil on cancellation; failures of
// NATS or PostgreSQL are retried with back-off, never returned.
func (r *Relay) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	go r.listen(ctx, wake)

	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	housekeep := time.NewTicker(5 * time.Second)
	defer housekeep.Stop()
	backoff := time.Duration(0)
	r.housekeep(ctx)
	for {
		n, err := r.relayBatch(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.m.failures.Inc()
			backoff = min(max(2*backoff, 100*time.Millisecond), r.cfg.MaxBackoff)
			r.log.Warn("outbox relay failed; retrying", "error", err.Error(), "retry_in_ms", backoff.Milliseconds())
			if !sleep(ctx, backoff) {
				return nil
			}
			continue
		case n == r.cfg.BatchSize:
			backoff = 0
			continue // more is waiting
		}
		backoff = 0
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-poll.C:
		case <-housekeep.C:
			r.housekeep(ctx)
		}
	}
}

const (
	claimBatch = `
SELECT seq, id, subject, payload FROM outbox
WHERE sent_at IS NULL
ORDER BY seq
LIMIT $1
FOR UPDATE SKIP LOCKED`
	markSent    = `UPDATE outbox SET sent_at = now() WHERE seq = ANY($1)`
	backlogStat = `
SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
FROM outbox WHERE sent_at IS NULL`
	purgeSent = `DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1)`
)

type pending struct {
	seq     int64
	id      string
	subject string
	payload []byte
}

// relayBatch claims up to BatchSize unsent rows, publishes them all
// asynchronously, waits for the acks and marks the acknowledged ones sent,
// all in one transaction. It returns how many rows it claimed.
func (r *Relay) relayBatch(ctx context.Context) (int, error) {
	start := time.Now()
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin relay transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit

	rows, err := tx.Query(ctx, claimBatch, r.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("claim outbox rows: %w", err)
	}
	batch, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pending, error) {
		var x pending
		var id uuid.UUID
		err := row.Scan(&x.seq, &id, &x.subject, &x.payload)
		x.id = id.String()
		return x, err
	})
	if err != nil {
		return 0, fmt.Errorf("read outbox rows: %w", err)
	}
	if len(batch) == 0 {
		return 0, tx.Commit(ctx)
	}

	sent, pubErr := r.publish(ctx, batch)
	if len(sent) > 0 {
		if _, err := tx.Exec(ctx, markSent, sent); err != nil {
			return 0, fmt.Errorf("mark %d outbox rows sent: %w", len(sent), err)
		}
		if err := tx.Commit(ctx); err != nil {
			return 0, fmt.Errorf("commit relay batch: %w", err)
		}
		r.m.published.Add(float64(len(sent)))
	}
	r.m.batchTimes.Observe(time.Since(start).Seconds())
	if pubErr != nil {
		return 0, pubErr
	}
	return len(batch), nil
}

// publish sends the batch asynchronously and returns the seqs of the rows
// JetStream acknowledged, in order up to the first failure, so the stream
// keeps the outbox's order across retries.
func (r *Relay) publish(ctx context.Context, batch []pending) ([]int64, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(batch))
	var pubErr error
	for _, x := range batch {
		msg := &nats.Msg{Subject: x.subject, Data: x.payload, Header: nats.Header{}}
		f, err := r.js.PublishMsgAsync(msg, jetstream.WithMsgID(x.id))
		if err != nil {
			pubErr = fmt.Errorf("publish event %s: %w", x.id, err)
			break
		}
		futures = append(futures, f)
	}
	timeout := time.NewTimer(r.cfg.PublishTimeout)
	defer timeout.Stop()
	sent := make([]int64, 0, len(futures))
	for i, f := range futures {
		select {
		case <-f.Ok():
			if pubErr == nil {
				sent = append(sent, batch[i].seq)
			}
		case err := <-f.Err():
			if pubErr == nil {
				pubErr = fmt.Errorf("publish event %s: %w", batch[i].id, err)
			}
		case <-timeout.C:
			return sent, errors.Join(pubErr, fmt.Errorf("publish: no ack for %d events within %s", len(futures)-i, r.cfg.PublishTimeout))
		case <-ctx.Done():
			return sent, ctx.Err()
		}
	}
	return sent, pubErr
}

// listen holds one connection in LISTEN and turns notifications into
// wake-ups; the poll ticker covers the time it is reconnecting.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	channel := pgx.Identifier{"outbox_" + r.cfg.Schema}.Sanitize()
	for ctx.Err() == nil {
		err := r.listenOnce(ctx, channel, wake)
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("outbox listener lost; polling until it is back", "error", err.Error())
		sleep(ctx, time.Second)
	}
}

func (r *Relay) listenOnce(ctx context.Context, channel string, wake chan<- struct{}) error {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire listen connection: %w", err)
	}
	// The connection leaves the pool for good: LISTEN state must not leak.
	pc := conn.Hijack()
	defer pc.Close(context.WithoutCancel(ctx))
	if _, err := pc.Exec(ctx, "LISTEN "+channel); err != nil {
		return fmt.Errorf("listen %s: %w", channel, err)
	}
	for {
		if _, err := pc.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		select {
		case wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// housekeep refreshes the backlog gauges and purges old sent rows.
func (r *Relay) housekeep(ctx context.Context) {
	var n int64
	var age float64
	if err := r.pool.QueryRow(ctx, backlogStat).Scan(&n, &age); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("read outbox backlog", "error", err.Error())
		}
		return
	}
	r.m.backlog.Set(float64(n))
	r.m.oldestAge.Set(age)
	if _, err := r.pool.Exec(ctx, purgeSent, r.cfg.Retention.Seconds()); err != nil && ctx.Err() == nil {
		r.log.Warn("purge sent outbox rows", "error", err.Error())
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
