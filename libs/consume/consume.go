// Package consume runs durable JetStream pull consumers that apply each
// domain event exactly once in effect: the handler's writes and the event's
// id are committed in one transaction, so a redelivery finds the id and is
// acknowledged without running the handler again. Failures are retried with
// back-off up to a bound, then the message goes to the dead-letter stream
// with the error attached.
//
// Order: the runner applies the events of one aggregate (events.Event's
// OrderKey) in stream order. It holds the messages it pulled in lanes, one
// per key; only the first message of a lane is handled, the next one waits
// until it is settled, and a failed message is retried in process while it
// keeps its place, so a retry delays its own key and no other. Across
// replicas, the durable consumer is a JetStream priority group with the
// pinned policy: one replica receives every message, the others stand by
// and take over when it stops pulling (at once when it shuts down, after
// Config.AckWait and a few pulls when it crashes).
//
// Waiting is not an attempt: every message the runner holds, queued behind
// its key, in back-off or in its handler, gets an InProgress heartbeat
// about every AckWait/3, so the server neither redelivers nor counts it;
// the runner counts attempts itself and pulls only what its workers will
// take soon. The server never drops a message (MaxDeliver is unbounded):
// the runner dead-letters it, retrying the dead-letter publish until it is
// stored, and only then terminates it. On shutdown a message not settled
// is Nak'ed, in stream order, for the next replica.
//
// A runner built with New applies one message per transaction. One built
// with NewBatch applies up to Config.BatchSize messages that are already
// waiting in one transaction (see BatchHandler), for consumers whose cost
// is the transaction rather than the work; each message still gets its own
// outcome: acknowledged, retried or dead-lettered. A batch holds at most
// one message per key. One built with NewEffect is for an effect outside
// the database, such as an email: it performs each message's effect first
// and records it right after in a group commit (see Effect).
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
	// Delivery counts attempts, starting at 1: the server's deliveries
	// plus the runner's own retries of this delivery.
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
	// the runner stopped heartbeating, e.g. after a crash [30s]. A standby
	// replica takes over a crashed one after about AckWait plus three
	// pulls (see pinnedTTL).
	AckWait time.Duration
	// Concurrency is how many messages (batches, with NewBatch) are
	// handled at once [4]. With NewEffect it is how many batches are
	// looked up at once; their effects then run on their own, as many as
	// the runner holds (2 × Concurrency × BatchSize).
	Concurrency int
	// HandleTimeout bounds one handler call (New, NewBatch) [AckWait].
	// An Effect bounds its own effect.
	HandleTimeout time.Duration
	// BatchSize is the most messages one worker applies in one
	// transaction, for runners built with NewBatch or NewEffect [1]. A worker takes the
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
	effect  *effect      // set by NewEffect
	// inHand, when set (by tests, export_test.go), is told the stream
	// sequence of each message the runner has taken into its hand: a
	// test can then wait for a message to be held instead of sleeping.
	inHand func(seq uint64)

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
	m.deadLetterErrors.WithLabelValues(cfg.Durable)
	m.unrecorded.WithLabelValues(cfg.Durable)
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

// Run consumes until ctx ends, then stops pulling, finishes the handler
// calls under way, Naks every other message it holds (in stream order, so
// the next replica gets them in order) and returns. It waits for the
// stream to exist, so a consumer may start before the stream's owner. The
// dead-letter stream is the service's to declare (stream.DeadLetter).
func (r *Runner) Run(ctx context.Context) error {
	cons, err := r.bind(ctx)
	if err != nil {
		return nil // ctx ended while waiting
	}
	r.setReady(true)
	defer r.setReady(false)
	go r.watchLag(ctx, cons)
	go r.purgeInboxLoop(ctx)

	h := newHand(r.capacity())
	beatCtx, stopBeats := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBeats()
	go h.heartbeat(beatCtx, r.cfg.AckWait/3)
	// work ends on shutdown what has not started for good: waits for the
	// rate limiter or an SMTP connection in an Effect.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var com *committer
	if r.effect != nil {
		com = newCommitter(r, h)
		go com.run()
	}
	var wg sync.WaitGroup
	for range r.cfg.Concurrency {
		wg.Go(func() {
			for es := h.take(r.cfg.BatchSize); es != nil; es = h.take(r.cfg.BatchSize) {
				r.work(work, h, com, es)
			}
		})
	}

	pin := r.pull(ctx, cons, h)

	h.stop()
	stopWork()
	wg.Wait()
	if com != nil {
		com.close()
	}
	for _, e := range h.rest() {
		e.d.log.Info("shutting down; message returned for redelivery")
		r.nak(h, e)
	}
	stopBeats()
	r.unpin(cons, pin)
	return nil
}

// capacity is how many messages the workers will take soon: a batch each
// and one more to find waiting.
func (r *Runner) capacity() int {
	return max(2*r.cfg.Concurrency*r.cfg.BatchSize, 2*r.cfg.Concurrency)
}

// bind creates or updates the durable consumer, retrying while its stream
// does not exist yet or NATS is unreachable.
func (r *Runner) bind(ctx context.Context) (jetstream.Consumer, error) {
	cc := jetstream.ConsumerConfig{
		Durable:        r.cfg.Durable,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        r.cfg.AckWait,
		FilterSubjects: r.cfg.Subjects,
		// The runner bounds attempts itself and dead-letters the message
		// with its error; the server never gives up on one on its own.
		MaxDeliver:    -1,
		MaxAckPending: maxAckPending,
		// One replica at a time receives the messages, so one key's
		// events are never handled by two replicas at once.
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{priorityGroup},
		PinnedTTL:      r.pinnedTTL(),
	}
	if len(cc.FilterSubjects) == 1 {
		// One filter goes in the create request's subject, where the
		// server checks it and the service's NATS permissions can name
		// it (stream.Durable.Filter); the server stores both forms alike.
		cc.FilterSubject, cc.FilterSubjects = cc.FilterSubjects[0], nil
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

// work runs the entries a worker took: dead letters whose publish failed
// before, messages that cannot be applied, then the rest by the runner's
// kind.
func (r *Runner) work(ctx context.Context, h *hand, com *committer, es []*entry) {
	todo := es[:0:0]
	for _, e := range es {
		switch {
		case e.dlCause != nil:
			r.deadLetter(h, e, e.dlCause)
		case e.bad != nil:
			r.deadLetter(h, e, Permanent(e.bad))
		case e.attempt > r.cfg.MaxAttempts:
			r.deadLetter(h, e, fmt.Errorf("delivered %d times without an outcome (crash or timeout)", e.attempt))
		default:
			e.d.m.Delivery = uint64(e.attempt)
			todo = append(todo, e)
		}
	}
	if len(todo) == 0 {
		return
	}
	switch {
	case r.effect != nil:
		r.handleEffect(ctx, h, com, todo)
	case r.batch != nil:
		r.handleBatch(h, todo)
	default:
		for _, e := range todo {
			r.handle(h, e)
		}
	}
}

// handle runs one delivery to its end: acked, retried later or
// dead-lettered. HandleTimeout bounds it; shutdown does not cut it short.
func (r *Runner) handle(h *hand, e *entry) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.HandleTimeout)
	defer cancel()
	start := time.Now()
	applied, err := r.apply(ctx, e.d.m)
	r.m.duration.WithLabelValues(r.cfg.Durable).Observe(time.Since(start).Seconds())
	r.finish(h, e, applied, err)
}

// delivery is a decoded message.
type delivery struct {
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata
	log  *slog.Logger
	m    Message
}

// intake turns a pulled message into an entry of the hand. It reports
// false for a message without metadata, which it terminates: it cannot be
// placed, acknowledged or dead-lettered with its origin.
func (r *Runner) intake(msg jetstream.Msg) (*entry, bool) {
	meta, err := msg.Metadata()
	if err != nil {
		r.log.Error("message without metadata; terminating it", "subject", msg.Subject(), "error", err.Error())
		_ = msg.Term()
		return nil, false
	}
	log := r.log.With("subject", msg.Subject(), "stream_seq", meta.Sequence.Stream, "delivery", meta.NumDelivered)
	if meta.NumDelivered > 1 {
		r.m.redelivers.WithLabelValues(r.cfg.Durable).Inc()
	}
	e := &entry{seq: meta.Sequence.Stream, attempt: int(meta.NumDelivered), beat: time.Now(),
		d: delivery{msg: msg, meta: meta, log: log}}
	ev, err := events.Decode(msg.Data())
	if err != nil {
		// Its own lane: it belongs to no aggregate anyone can name.
		e.bad, e.key = err, fmt.Sprintf("undecodable:%d", meta.Sequence.Stream)
		return e, true
	}
	e.key = ev.OrderKey()
	e.d.log = log.With("event_id", ev.ID.String())
	e.d.m = Message{Event: ev, Subject: msg.Subject(), Delivery: meta.NumDelivered}
	return e, true
}

// finish settles e after its attempt: acked when err is nil (applied false
// means it was a duplicate), dead-lettered when err is permanent or the
// attempts are used up, otherwise retried in process after the back-off,
// keeping its place in its key's lane. During shutdown a failure is
// Nak'ed instead, for the next replica.
func (r *Runner) finish(h *hand, e *entry, applied bool, err error) {
	switch {
	case err == nil:
		if ackErr := e.d.msg.Ack(); ackErr != nil {
			e.d.log.Warn("ack failed; the redelivery will be a no-op", "error", ackErr.Error())
		}
		outcome := OutcomeProcessed
		if !applied {
			outcome = OutcomeDuplicate
		}
		r.m.messages.WithLabelValues(r.cfg.Durable, outcome).Inc()
		e.d.log.Debug("event handled", "outcome", outcome)
		h.settle(e)
	case h.stopped():
		e.d.log.Info("event handling failed during shutdown; returned for redelivery", "error", err.Error())
		r.m.messages.WithLabelValues(r.cfg.Durable, OutcomeRetried).Inc()
		r.nak(h, e)
	case IsPermanent(err) || e.attempt >= r.cfg.MaxAttempts:
		r.deadLetter(h, e, err)
	default:
		delay := r.cfg.Backoff[min(e.attempt-1, len(r.cfg.Backoff)-1)]
		e.d.log.Warn("event handling failed; will retry", "error", err.Error(), "attempt", e.attempt, "retry_in_ms", delay.Milliseconds())
		r.m.messages.WithLabelValues(r.cfg.Durable, OutcomeRetried).Inc()
		e.attempt++
		h.later(e, delay)
	}
}

// nak returns e to the server for an immediate redelivery and lets it go.
// It waits for the server to confirm (an ack with a reply is answered once
// processed), so the Naks of a shutdown reach the redelivery queue in the
// order sent and before the standby is given the consumer.
func (r *Runner) nak(h *hand, e *entry) {

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := r.js.Conn().RequestWithContext(ctx, e.d.msg.Reply(), []byte("-NAK")); err != nil {
		e.d.log.Warn("nak failed; the server redelivers after AckWait", "error", err.Error())
	}
	h.settle(e)
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
