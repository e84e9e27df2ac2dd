package consume

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
)

// BatchHandler applies several events in one transaction, tx, which also
// records their ids. It returns one error per message, in the order of
// msgs; nil means applied. Return Permanent(err) for failures a retry
// cannot fix.
//
// The transaction commits for the messages that succeeded, so for every
// message it fails the handler must leave no write of its own in tx (undo
// it, or write only once the message is known to succeed), and it must not
// let a failed statement abort tx: an aborted transaction cannot commit,
// and then every message of the batch is retried. The runner removes the
// failed messages' ids itself. A panic, or a result of the wrong length,
// fails the whole batch and rolls it back.
type BatchHandler func(ctx context.Context, tx pgx.Tx, msgs []Message) []error

// NewBatch builds a runner that applies up to cfg.BatchSize waiting
// messages per transaction with h; Run starts it. Every message keeps its
// own outcome, as with New: a duplicate is acknowledged without reaching
// h, a failure is retried or dead-lettered, and the others are
// acknowledged once the transaction has committed.
func NewBatch(pool *pgxpool.Pool, js jetstream.JetStream, m *Metrics, log *slog.Logger, cfg Config, h BatchHandler) (*Runner, error) {
	r, err := newRunner(pool, js, m, log, cfg)
	if err != nil {
		return nil, err
	}
	r.batch = h
	return r, nil
}

// gather returns first and the messages already waiting in msgs, up to
// BatchSize in all; it never waits for more.
func (r *Runner) gather(first jetstream.Msg, msgs <-chan jetstream.Msg) []jetstream.Msg {
	batch := make([]jetstream.Msg, 1, r.cfg.BatchSize)
	batch[0] = first
	for len(batch) < r.cfg.BatchSize {
		select {
		case msg, ok := <-msgs:
			if !ok {
				return batch
			}
			batch = append(batch, msg)
		default:
			return batch
		}
	}
	return batch
}

// handleBatch runs a batch of deliveries to their ends, as handle does for
// one. Each delivery's duration is the batch's.
func (r *Runner) handleBatch(parent context.Context, batch []jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), r.cfg.HandleTimeout)
	defer cancel()
	start := time.Now()
	defer func() {
		h := r.m.duration.WithLabelValues(r.cfg.Durable)
		for range batch {
			h.Observe(time.Since(start).Seconds())
		}
	}()

	ds := make([]delivery, 0, len(batch))
	for _, msg := range batch {
		if d, ok := r.prepare(ctx, msg); ok {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return
	}
	for i, res := range r.applyBatch(ctx, ds) {
		if res.twin {
			r.finishTwin(ds[i], res.err)
			continue
		}
		r.finish(ctx, ds[i], res.applied, res.err)
	}
}

// result is one delivery's outcome in its batch's transaction.
type result struct {
	applied bool
	err     error
	// twin marks a second delivery of an event earlier in the same batch;
	// err is then the first one's outcome.
	twin bool
}

const (
	// recordEvents inserts in id order, so two batches sharing events
	// lock them in the same order and cannot deadlock; it returns the ids
	// it inserted, the events not applied before.
	recordEvents = `INSERT INTO consumed_events (consumer, event_id)
SELECT $1, id FROM unnest($2::uuid[]) AS ids(id) ORDER BY id
ON CONFLICT DO NOTHING RETURNING event_id`
	forgetEvents = `DELETE FROM consumed_events WHERE consumer = $1 AND event_id = ANY($2::uuid[])`
)

// applyBatch records the events of ds and runs the batch handler on the new
// ones in one transaction, and returns one result per delivery. It commits
// when at least one message succeeded, after removing the ids of those
// that failed, so they are applied again on their retry. An id that was
// recorded already is a duplicate: either committed before, or by a
// concurrent transaction that the insert waited for.
func (r *Runner) applyBatch(ctx context.Context, ds []delivery) []result {
	res := make([]result, len(ds))
	failAll := func(err error) []result {
		for i := range res {
			res[i] = result{err: err}
		}
		return res
	}

	// The first delivery of each event goes into the batch; a second one
	// (a redelivery that met the first in the same fetch) follows it.
	first := make(map[uuid.UUID]int, len(ds))
	ids := make([]uuid.UUID, 0, len(ds))
	twinOf := make([]int, len(ds))
	for i, d := range ds {
		twinOf[i] = -1
		if j, seen := first[d.m.Event.ID]; seen {
			twinOf[i] = j
			continue
		}
		first[d.m.Event.ID] = i
		ids = append(ids, d.m.Event.ID)
	}

	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return failAll(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	rows, _ := tx.Query(ctx, recordEvents, r.cfg.Durable, ids)
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return failAll(fmt.Errorf("record %d events: %w", len(ids), err))
	}
	fresh := make(map[uuid.UUID]bool, len(inserted))
	for _, id := range inserted {
		fresh[id] = true
	}

	var (
		idx  []int // positions in ds of the messages the handler gets
		msgs []Message
	)
	for i, d := range ds {
		if twinOf[i] < 0 && fresh[d.m.Event.ID] {
			idx = append(idx, i)
			msgs = append(msgs, d.m)
		}
	}
	if len(msgs) > 0 {
		r.runBatch(ctx, tx, msgs, idx, res)
	}
	for i, j := range twinOf {
		if j >= 0 {
			res[i] = result{twin: true, err: res[j].err}
		}
	}
	return res
}

// runBatch calls the handler on msgs (ds positions idx), fills their
// results and ends the transaction: a rollback when none succeeded, else
// forgetting the failed ids and a commit.
func (r *Runner) runBatch(ctx context.Context, tx pgx.Tx, msgs []Message, idx []int, res []result) {
	errs := r.callBatch(ctx, tx, msgs)
	var failed []uuid.UUID
	for k, i := range idx {
		if errs[k] != nil {
			res[i].err = errs[k]
			failed = append(failed, msgs[k].Event.ID)
		}
	}
	if len(failed) == len(msgs) {
		return // nothing to keep: the deferred rollback undoes it all
	}
	var err error
	if len(failed) > 0 {
		if _, ferr := tx.Exec(ctx, forgetEvents, r.cfg.Durable, failed); ferr != nil {
			err = fmt.Errorf("forget %d failed events: %w", len(failed), ferr)
		}
	}
	if err == nil {
		if cerr := tx.Commit(ctx); cerr != nil {
			err = fmt.Errorf("commit %d events: %w", len(msgs)-len(failed), cerr)
		}
	}
	for k, i := range idx {
		switch {
		case errs[k] != nil:
			// Failed either way; its own error decides retry or dead letter.
		case err != nil:
			res[i].err = err // rolled back: retried, nothing acknowledged
		default:
			res[i].applied = true
		}
	}
}

// callBatch runs the handler, turning a panic or a result of the wrong
// length into a failure of every message.
func (r *Runner) callBatch(ctx context.Context, tx pgx.Tx, msgs []Message) (errs []error) {
	all := func(err error) []error {
		errs := make([]error, len(msgs))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	defer func() {
		if p := recover(); p != nil {
			errs = all(fmt.Errorf("handler panicked: %v", p))
		}
	}()
	errs = r.batch(ctx, tx, msgs)
	if len(errs) != len(msgs) {
		return all(fmt.Errorf("batch handler returned %d results for %d messages", len(errs), len(msgs)))
	}
	return errs
}

// finishTwin settles a second delivery of an event that was handled
// earlier in the same batch: a duplicate when that one succeeded, else it
// is redelivered at once and then gets a transaction of its own, as a
// concurrent redelivery would after the first one's rollback.
func (r *Runner) finishTwin(d delivery, firstErr error) {
	if firstErr == nil {
		if err := d.msg.Ack(); err != nil {
			d.log.Warn("ack failed; the redelivery will be a no-op", "error", err.Error())
		}
		r.m.messages.WithLabelValues(r.cfg.Durable, OutcomeDuplicate).Inc()
		d.log.Debug("event handled", "outcome", OutcomeDuplicate)
		return
	}
	r.m.messages.WithLabelValues(r.cfg.Durable, OutcomeRetried).Inc()
	d.log.Debug("same event failed earlier in the batch; redelivering", "error", firstErr.Error())
	_ = d.msg.Nak()
}
