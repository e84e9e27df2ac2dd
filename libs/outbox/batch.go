package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// claimBatch waits for rows another relay's transaction still holds
	// (FOR UPDATE, not SKIP LOCKED): a relay that has just taken over must
	// not publish past rows its predecessor may still be publishing.
	claimBatch = `
SELECT seq, id, COALESCE(key, id::text), subject, payload,
       failed_at IS NOT NULL AND failed_at <= now() - make_interval(secs => $2)
FROM outbox
WHERE sent_at IS NULL AND parked_at IS NULL
ORDER BY seq
LIMIT $1
FOR UPDATE`
	// asyncCommit: see RelayConfig.SyncCommit.
	asyncCommit = `SET LOCAL synchronous_commit = off`
	markSent    = `UPDATE outbox SET sent_at = now() WHERE seq = ANY($1)`
	markParked  = `
UPDATE outbox SET parked_at = now(), last_error = e.error
FROM unnest($1::bigint[], $2::text[]) AS e(seq, error)
WHERE outbox.seq = e.seq`
	markFailed = `
UPDATE outbox SET failed_at = COALESCE(failed_at, now()), last_error = e.error
FROM unnest($1::bigint[], $2::text[]) AS e(seq, error)
WHERE outbox.seq = e.seq`
)

// pending is one claimed row.
type pending struct {
	seq     int64
	id      string
	key     string
	subject string
	payload []byte
	// overdue: the row has failed for want of a stream for longer than
	// MissingStreamGrace.
	overdue bool
}

// batchResult says how a batch went.
type batchResult struct {
	claimed int // rows claimed
	done    int // rows sent or parked: progress
}

// outcome is what a batch's publishing leaves to write back.
type outcome struct {
	sent             []int64
	parked, failed   []int64
	parkedE, failedE []string
	parkedRows       []pending
	transient        error // the first transient failure; publishing stopped there
}

// relayBatch claims up to BatchSize unsent rows, publishes them in waves
// and writes back what happened, all in one transaction: acknowledged rows
// are marked sent, rows that can never be published are parked, and rows
// whose stream is missing are noted as failing.
func (r *Relay) relayBatch(ctx context.Context) (batchResult, error) {
	start := time.Now()
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return batchResult{}, fmt.Errorf("begin relay transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit

	rows, err := tx.Query(ctx, claimBatch, r.cfg.BatchSize, r.cfg.MissingStreamGrace.Seconds())
	if err != nil {
		return batchResult{}, fmt.Errorf("claim outbox rows: %w", err)
	}
	batch, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pending, error) {
		var x pending
		var id uuid.UUID
		err := row.Scan(&x.seq, &id, &x.key, &x.subject, &x.payload, &x.overdue)
		x.id = id.String()
		return x, err
	})
	if err != nil {
		return batchResult{}, fmt.Errorf("read outbox rows: %w", err)
	}
	if len(batch) == 0 {
		return batchResult{}, tx.Commit(ctx)
	}

	out := r.publishInWaves(ctx, batch)
	// What JetStream acknowledged is written back even when ctx ended
	// meanwhile (a stop, a lost lock): it saves republishing it.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.PublishTimeout)
	defer cancel()
	if err := r.writeBack(wctx, tx, out); err != nil {
		return batchResult{}, err
	}
	r.m.published.Add(float64(len(out.sent)))
	r.m.parkedTotal.Add(float64(len(out.parked)))
	for i, x := range out.parkedRows {
		r.log.Error("outbox event parked: its publish can never succeed; release it once the cause is fixed",
			"event_id", x.id, "seq", x.seq, "subject", x.subject, "error", out.parkedE[i])
	}
	r.m.batchTimes.Observe(time.Since(start).Seconds())
	if out.transient != nil {
		return batchResult{}, out.transient
	}
	return batchResult{claimed: len(batch), done: len(out.sent) + len(out.parked)}, nil
}

// writeBack writes what happened to the batch's rows in one round trip
// (with the commit mode, see RelayConfig.SyncCommit), then commits.
func (r *Relay) writeBack(ctx context.Context, tx pgx.Tx, out outcome) error {
	var b pgx.Batch
	if !r.cfg.SyncCommit {
		b.Queue(asyncCommit)
	}
	if len(out.sent) > 0 {
		b.Queue(markSent, out.sent)
	}
	if len(out.parked) > 0 {
		b.Queue(markParked, out.parked, out.parkedE)
	}
	if len(out.failed) > 0 {
		b.Queue(markFailed, out.failed, out.failedE)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("mark %d outbox rows sent, %d parked, %d failing: %w", len(out.sent), len(out.parked), len(out.failed), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit relay batch: %w", err)
	}
	return nil
}

// publishInWaves publishes batch (in seq order) in waves that hold at most
// one row of each key, each wave's acks awaited before the next, so no
// event is stored before an earlier event of its key. A key whose row is
// held back (its stream missing) publishes nothing more in this batch; a
// parked row's key flows on. The first transient failure ends the batch
// after its wave.
func (r *Relay) publishInWaves(ctx context.Context, batch []pending) outcome {
	var out outcome
	blocked := map[string]bool{}
	rest := batch
	inWave := make(map[string]bool, len(batch))
	for len(rest) > 0 && ctx.Err() == nil {
		wave, next := make([]pending, 0, len(rest)), rest[:0:0]
		clear(inWave)
		for _, x := range rest {
			switch {
			case blocked[x.key]: // waits for the next batch, behind its key's failing row
			case inWave[x.key]:
				next = append(next, x)
			default:
				inWave[x.key] = true
				wave = append(wave, x)
			}
		}
		for i, res := range r.publishWave(ctx, wave) {
			x := wave[i]
			switch res.verdict {
			case published:
				out.sent = append(out.sent, x.seq)
			case permanent:
				out.parked, out.parkedE, out.parkedRows = append(out.parked, x.seq), append(out.parkedE, res.err.Error()), append(out.parkedRows, x)
			case noStream:
				if x.overdue {
					out.parked, out.parkedE, out.parkedRows = append(out.parked, x.seq), append(out.parkedE, res.err.Error()), append(out.parkedRows, x)
					continue
				}
				blocked[x.key] = true
				out.failed, out.failedE = append(out.failed, x.seq), append(out.failedE, res.err.Error())
				r.log.Warn("outbox event has no stream yet; holding its key back until one is declared or it is parked",
					"event_id", x.id, "subject", x.subject, "grace_s", r.cfg.MissingStreamGrace.Seconds())
			default:
				blocked[x.key] = true
				if out.transient == nil {
					out.transient = res.err
				}
			}
		}
		if out.transient != nil {
			break
		}
		rest = next
	}
	return out
}

type verdict int

const (
	transient verdict = iota // NATS or the stream unavailable: retry later
	published
	permanent // can never succeed as it is: park
	noStream  // no stream holds the subject: retry for a grace period, then park
)

type result struct {
	verdict verdict
	err     error
}

// publishWave publishes the rows asynchronously and waits for every ack
// (or PublishTimeout), returning one result per row.
func (r *Relay) publishWave(ctx context.Context, wave []pending) []result {
	results := make([]result, len(wave))
	futures := make([]jetstream.PubAckFuture, len(wave))
	lookups := map[string]verdict{} // one stream lookup per subject and wave
	classify := func(x pending, err error) result {
		return r.classify(ctx, x, fmt.Errorf("publish event %s: %w", x.id, err), lookups)
	}
	for i, x := range wave {
		msg := &nats.Msg{Subject: x.subject, Data: x.payload, Header: nats.Header{}}
		f, err := r.js.PublishMsgAsync(msg, jetstream.WithMsgID(x.id))
		if err != nil {
			results[i] = classify(x, err)
			continue
		}
		futures[i] = f
	}
	timeout := time.NewTimer(r.cfg.PublishTimeout)
	defer timeout.Stop()
	expired := false
	for i, f := range futures {
		if f == nil {
			continue
		}
		x := wave[i]
		if expired {
			select {
			case <-f.Ok():
				results[i] = result{verdict: published}
			case err := <-f.Err():
				results[i] = classify(x, err)
			default:
				results[i] = r.unacked(x)
			}
			continue
		}
		select {
		case <-f.Ok():
			results[i] = result{verdict: published}
		case err := <-f.Err():
			results[i] = classify(x, err)
		case <-timeout.C:
			expired = true
			results[i] = r.unacked(x)
		case <-ctx.Done():
			// Stop at once; the acks of the rows already read are kept.
			for j := i; j < len(results); j++ {
				if futures[j] != nil { // a row refused at once keeps its verdict
					results[j] = result{verdict: transient, err: fmt.Errorf("publish event %s: %w", wave[j].id, ctx.Err())}
				}
			}
			return results
		}
	}
	return results
}
