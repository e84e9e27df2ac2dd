// Package consume runs durable JetStream pull consumers that apply each
// domain event exactly once in effect: the handler's writes and the event's
// id are committed in one transaction, so a redelivery finds the id and is
// acknowledged without running the handler again. Failures are retried with
// back-off up to a bound, then the message goes to the dead-letter stream
// with the error attached.
//
// A runner built with New applies one message per transaction. One built
// with NewBatch applies up to Config.BatchSize messages that are already
// waiting in one transaction (see BatchHandler), for consumers whose cost
// is the transaction rather than the work; each message still gets its own
// outcome: acknowledged, retried or dead-lettered.
package consume

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/postgres"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the inbox table's migrations, to be applied in the
// schema of every service that consumes events.
func Migrations() postgres.Migrations {
	sub, _ := fs.Sub(migrationFiles, "migrations") // the path is fixed at compile time
	return postgres.Migrations{Name: "inbox", FS: sub}
}

// Message is one delivery of an event.
type Message struct {
	Event events.Event
	// Subject the message was published on.
	Subject string
	// Delivery counts attempts, starting at 1.
	Delivery uint64
}

// Handler applies one event. Its database writes go through tx, the
// transaction that also records the event id; it commits only when the
// handler returns nil. Return Permanent(err) for failures a retry cannot
// fix, so the message is dead-lettered at once.
type Handler func(ctx context.Context, tx pgx.Tx, msg Message) error

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that no retry can fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Config describes one durable consumer. Zero values take the defaults in
// brackets.
type Config struct {
	// Stream the consumer reads, e.g. BOOKING.
	Stream string
	// Durable names the consumer in JetStream and in the inbox table.
	Durable string
	// Subjects filters the stream; empty means every subject.
	Subjects []string
	// MaxAttempts bounds deliveries before a message is dead-lettered [5].
	MaxAttempts int
	// Backoff is the wait before each retry; the last value repeats
	// [1s, 5s, 30s, 2m].
	Backoff []time.Duration
	// AckWait is how long JetStream waits before redelivering a message
	// whose handler neither acked nor nacked, e.g. after a crash [30s].
	AckWait time.Duration
	// Concurrency is how many messages (batches, with NewBatch) are
	// handled at once [4].
	Concurrency int
	// HandleTimeout bounds one handler call [AckWait].
	HandleTimeout time.Duration
	// BatchSize is the most messages one worker applies in one
	// transaction, for runners built with NewBatch [1]. A worker takes the
	// messages already waiting, up to this many, and never waits to fill
	// a batch, so a lone message is handled as soon as it arrives.
	BatchSize int
	// InboxRetention is how long the runner keeps the ids of applied
	// events in consumed_events before its hourly purge deletes them [the
	// stream's MaxAge plus a day: after that no delivery can carry the
	// event again]; negative keeps them for ever.
	InboxRetention time.Duration
}

func (c *Config) setDefaults() {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if len(c.Backoff) == 0 {
		c.Backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.HandleTimeout <= 0 {
		c.HandleTimeout = c.AckWait
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1
	}
}

func (c *Config) validate() error {
	if c.Stream == "" || c.Durable == "" {
		return errors.New("consumer: stream and durable name are required")
	}
	return nil
}

// Runner runs one durable consumer.
type Runner struct {
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	log     *slog.Logger
	m       *Metrics
	cfg     Config
	handler Handler      // set by New
	batch   BatchHandler // set by NewBatch

	mu    sync.Mutex
	ready bool
}

// New builds a runner that applies one message per transaction; Run
// starts it. cfg.BatchSize must be 0 or 1: batches need a BatchHandler
// (NewBatch).
func New(pool *pgxpool.Pool, js jetstream.JetStream, m *Metrics, log *slog.Logger, cfg Config, h Handler) (*Runner, error) {
	if cfg.BatchSize > 1 {
		return nil, fmt.Errorf("consumer %s: batch size %d needs a BatchHandler (NewBatch)", cfg.Durable, cfg.BatchSize)
	}
	r, err := newRunner(pool, js, m, log, cfg)
	if err != nil {
		return nil, err
	}
	r.handler = h
	return r, nil
}

func newRunner(pool *pgxpool.Pool, js jetstream.JetStream, m *Metrics, log *slog.Logger, cfg Config) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// Every series of this consumer exists from the start at 0, so
	// increase() and alerts see the first dead letter.
	for _, o := range []string{OutcomeProcessed, OutcomeDuplicate, OutcomeRetried, OutcomeDeadLettered} {
		m.messages.WithLabelValues(cfg.Durable, o)
	}
	m.redelivers.WithLabelValues(cfg.Durable)
	m.duration.WithLabelValues(cfg.Durable)
	m.pending.WithLabelValues(cfg.Durable)
	return &Runner{pool: pool, js: js, m: m, cfg: cfg,
		log: log.With("component", "consumer", "consumer", cfg.Durable)}, nil
}

// Ready reports whether the consumer is bound to its stream, for /readyz.
func (r *Runner) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ready {
		return fmt.Errorf("consumer %s not bound to stream %s", r.cfg.Durable, r.cfg.Stream)
	}
	return nil
}

// Run consumes until ctx ends, then stops pulling, finishes the messages
// in hand and returns. It waits for the stream to exist, so a consumer may
// start before the stream's owner.
func (r *Runner) Run(ctx context.Context) error {
	if err := EnsureDeadLetterStream(ctx, r.js); err != nil && ctx.Err() == nil {
		return err
	}
	cons, err := r.bind(ctx)
	if err != nil {
		return nil // ctx ended while waiting
	}
	// The client holds what it pulled until a worker is free, while
	// AckWait runs: enough for every worker's next batch, no more.
	iter, err := cons.Messages(jetstream.PullMaxMessages(max(2*r.cfg.Concurrency, r.cfg.Concurrency*r.cfg.BatchSize)))
	if err != nil {
		return fmt.Errorf("consumer %s: start pulling: %w", r.cfg.Durable, err)
	}
	r.setReady(true)
	defer r.setReady(false)

	stop := context.AfterFunc(ctx, iter.Drain)
	defer stop()
	go r.watchLag(ctx, cons)
	go r.purgeInboxLoop(ctx)

	// In batch mode the channel holds the next batch, so a worker that
	// is free finds it waiting.
	var buffered int
	if r.batch != nil {
		buffered = r.cfg.BatchSize
	}
	msgs := make(chan jetstream.Msg, buffered)
	var wg sync.WaitGroup
	for range r.cfg.Concurrency {
		wg.Go(func() {
			for msg := range msgs {
				if r.batch == nil {
					r.handle(ctx, msg)
					continue
				}
				r.handleBatch(ctx, r.gather(msg, msgs))
			}
		})
	}
	defer wg.Wait()
	defer close(msgs)
	for {
		msg, err := iter.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return nil
		}
		if err != nil {
			r.log.Warn("pull failed; retrying", "error", err.Error())
			continue
		}
		msgs <- msg
	}
}

// bind creates or updates the durable consumer, retrying while its stream
// does not exist yet or NATS is unreachable.
func (r *Runner) bind(ctx context.Context) (jetstream.Consumer, error) {
	cc := jetstream.ConsumerConfig{
		Durable:        r.cfg.Durable,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        r.cfg.AckWait,
		FilterSubjects: r.cfg.Subjects,
		// The runner bounds attempts itself, so it can dead-letter the
		// message with its error; JetStream only stops runaway loops.
		MaxDeliver:    r.cfg.MaxAttempts + 5,
		MaxAckPending: 1000,
	}
	wait := 200 * time.Millisecond
	for {
		cons, err := r.js.CreateOrUpdateConsumer(ctx, r.cfg.Stream, cc)
		if err == nil {
			return cons, nil
		}
		r.log.Info("waiting for stream", "stream", r.cfg.Stream, "error", err.Error())
		if !sleep(ctx, wait) {
			return nil, ctx.Err()
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// handle runs one delivery to its end: acked, retried later or dead-lettered.
// Its work is not cut short by shutdown; HandleTimeout bounds it instead.
func (r *Runner) handle(parent context.Context, msg jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), r.cfg.HandleTimeout)
	defer cancel()
	start := time.Now()
	defer func() { r.m.duration.WithLabelValues(r.cfg.Durable).Observe(time.Since(start).Seconds()) }()

	d, ok := r.prepare(ctx, msg)
	if !ok {
		return
	}
	applied, err := r.apply(ctx, d.m)
	r.finish(ctx, d, applied, err)
}

// delivery is a message ready for its handler.
type delivery struct {
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata
	log  *slog.Logger
	m    Message
}

// prepare decodes msg. It reports false when msg was settled already:
// terminated without metadata, or dead-lettered as undecodable or out of
// attempts.
func (r *Runner) prepare(ctx context.Context, msg jetstream.Msg) (delivery, bool) {
	meta, err := msg.Metadata()
	if err != nil {
		r.log.Error("message without metadata; terminating it", "subject", msg.Subject(), "error", err.Error())
		_ = msg.Term()
		return delivery{}, false
	}
	log := r.log.With("subject", msg.Subject(), "stream_seq", meta.Sequence.Stream, "delivery", meta.NumDelivered)
	if meta.NumDelivered > 1 {
		r.m.redelivers.WithLabelValues(r.cfg.Durable).Inc()
	}

	ev, err := events.Decode(msg.Data())
	if err != nil {
		r.deadLetter(ctx, log, msg, meta, Permanent(err))
		return delivery{}, false
	}
	log = log.With("event_id", ev.ID.String())
	if meta.NumDelivered > uint64(r.cfg.MaxAttempts) {
		r.deadLetter(ctx, log, msg, meta, fmt.Errorf("delivered %d times without an outcome (crash or timeout)", meta.NumDelivered))
		return delivery{}, false
	}
	return delivery{msg: msg, meta: meta, log: log,
		m: Message{Event: ev, Subject: msg.Subject(), Delivery: meta.NumDelivered}}, true
}

// finish settles d after its transaction: acked when err is nil (applied
// false means it was a duplicate), dead-lettered when err is permanent or
// the attempts are used up, otherwise retried after the back-off.
func (r *Runner) finish(ctx context.Context, d delivery, applied bool, err error) {
	switch {
	case err == nil:
		if ackErr := d.msg.Ack(); ackErr != nil {
			d.log.Warn("ack failed; the redelivery will be a no-op", "error", ackErr.Error())
		}
		outcome := OutcomeProcessed
		if !applied {
			outcome = OutcomeDuplicate
		}
		r.m.messages.WithLabelValues(r.cfg.Durable, outcome).Inc()
		d.log.Debug("event handled", "outcome", outcome)
	case IsPermanent(err) || d.meta.NumDelivered >= uint64(r.cfg.MaxAttempts):
		r.deadLetter(ctx, d.log, d.msg, d.meta, err)
	default:
		delay := r.cfg.Backoff[min(int(d.meta.NumDelivered)-1, len(r.cfg.Backoff)-1)]
		d.log.Warn("event handling failed; will retry", "error", err.Error(), "retry_in_ms", delay.Milliseconds())
		r.m.messages.WithLabelValues(r.cfg.Durable, OutcomeRetried).Inc()
		_ = d.msg.NakWithDelay(delay)
	}
}

const recordEvent = `INSERT INTO consumed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`

// apply runs the handler and records the event id in one transaction. It
// reports false when the event had been applied before. A concurrent
// redelivery of the same event waits on the first one's row lock and then
// sees it as applied.
func (r *Runner) apply(ctx context.Context, msg Message) (applied bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	tag, err := tx.Exec(ctx, recordEvent, r.cfg.Durable, msg.Event.ID)
	if err != nil {
		return false, fmt.Errorf("record event %s: %w", msg.Event.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if err := r.handler(ctx, tx, msg); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("commit event %s: %w", msg.Event.ID, err)
	}
	return true, nil
}

func (r *Runner) deadLetter(ctx context.Context, log *slog.Logger, msg jetstream.Msg, meta *jetstream.MsgMetadata, cause error) {
	if err := publishDeadLetter(ctx, r.js, r.cfg.Durable, msg, meta, cause); err != nil {
		log.Error("dead-lettering failed; will retry", "error", err.Error())
		_ = msg.NakWithDelay(r.cfg.Backoff[0])
		return
	}
	_ = msg.Term()
	r.m.messages.WithLabelValues(r.cfg.Durable, OutcomeDeadLettered).Inc()
	log.Error("event dead-lettered", "error", cause.Error())
}

// watchLag samples the consumer's pending count for the lag gauge.
func (r *Runner) watchLag(ctx context.Context, cons jetstream.Consumer) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		if info, err := cons.Info(ctx); err == nil {
			r.m.pending.WithLabelValues(r.cfg.Durable).Set(float64(info.NumPending))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Runner) setReady(v bool) {
	r.mu.Lock()
	r.ready = v
	r.mu.Unlock()
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
