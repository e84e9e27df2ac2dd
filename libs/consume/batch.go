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
// messages per transaction with h; Run starts it. A batch holds at most
// one message per order key. Every message keeps its own outcome, as with
// New: a duplicate is acknowledged without reaching h, a failure is
// retried or dead-lettered, and the others are acknowledged once the
// transaction has committed.
func NewBatch(pool *pgxpool.Pool, js jetstream.JetStream, m *Metrics, log *slog.Logger, cfg Config, h BatchHandler) (*Runner, error) {
	r, err := newRunner(pool, js, m, log, cfg)
	if err != nil {
		return nil, err
	}
	r.batch = h
	return r, nil
}

// handleBatch applies the entries a worker took, each of a different
// key, in one transaction, and settles each as handle does. Each
// delivery's duration is the batch's.
func (r *Runner) handleBatch(h *hand, es []*entry) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.HandleTimeout)
	defer cancel()
	start := time.Now()
	res := r.applyBatch(ctx, es)
	hist := r.m.duration.WithLabelValues(r.cfg.Durable)
	for range es {
		hist.Observe(time.Since(start).Seconds())
	}
	for i, e := range es {
		r.finish(h, e, res[i].applied, res[i].err)
	}
}

// result is one delivery's outcome in its batch's transaction.
type result struct {
	applied bool
	err     error
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

// applyBatch records the events of es and runs the batch handler on the
// new ones in one transaction, and returns one result per entry. It
// commits when at least one message succeeded, after removing the ids of
// those that failed, so they are applied again on their retry. An id that
// was recorded already is a duplicate: either committed before, or by a
// concurrent transaction that the insert waited for. The entries are of
// different keys, so of different events.
func (r *Runner) applyBatch(ctx context.Context, es []*entry) []result {
	res := make([]result, len(es))
	failAll := func(err error) []result {
		for i := range res {
			res[i] = result{err: err}
		}
		return res
	}
	ids := make([]uuid.UUID, len(es))
	for i, e := range es {
		ids[i] = e.d.m.Event.ID
	}

	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return failAll(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	fresh, err := recordIDs(ctx, tx, r.cfg.Durable, ids)
	if err != nil {
		return failAll(err)
	}
	var (
		idx  []int // positions in es of the messages the handler gets
		msgs []Message
	)
	for i, e := range es {
		if fresh[e.d.m.Event.ID] {
			idx = append(idx, i)
			msgs = append(msgs, e.d.m)
		}
	}
	if len(msgs) > 0 {
		r.runBatch(ctx, tx, msgs, idx, res)
	}
	return res
}

// recordIDs inserts ids into the inbox in tx and returns those that were
// not there: the events not applied before.
func recordIDs(ctx context.Context, tx pgx.Tx, consumer string, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	rows, _ := tx.Query(ctx, recordEvents, consumer, ids)
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("record %d events: %w", len(ids), err)
	}
	fresh := make(map[uuid.UUID]bool, len(inserted))
	for _, id := range inserted {
		fresh[id] = true
	}
	return fresh, nil
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
