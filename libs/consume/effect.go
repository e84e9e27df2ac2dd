package consume

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
)

// Effect is a consumer whose effect leaves the database, such as an email:
// it cannot share a transaction with the record of its event, and holding
// a transaction open across it would make every effect of a batch wait
// for the slowest one before any is recorded. The runner therefore does
// each message's effect first (Do), outside any transaction, and records
// it right after (Record) in a group commit with the ids of the other
// effects finished meanwhile; it acknowledges each message once its
// record has committed.
//
// What a crash can repeat is the effects done and not yet recorded: those
// of the last group commit, a few milliseconds, never a whole batch. A
// failed commit is retried with its own time budget, not the effect's, so
// an effect that happened is recorded unless the database stays away for
// recordBudget.
type Effect[T any] struct {
	// Do performs msg's effect and returns what Record needs. ctx ends on
	// shutdown: Do should give up whatever it is only waiting for (a
	// connection, a rate limiter; the runner then returns the message for
	// redelivery), and finish, under a deadline of its own, an effect it
	// has begun. Return Permanent(err) for a failure no retry can fix.
	Do func(ctx context.Context, msg Message) (T, error)
	// Record queues on b the statements that write the records of effects
	// done. The runner sends b in one round trip, inside the transaction
	// that also records their event ids; it must not fail for one of them
	// and not the others: a failed statement fails the group, and the
	// group is retried.
	Record func(b *pgx.Batch, done []T)
}

// effect is an Effect with its type erased, for the runner.
type effect struct {
	do     func(ctx context.Context, msg Message) (any, error)
	record func(b *pgx.Batch, done []any)
}

// NewEffect builds a runner for e; Run starts it. A worker takes up to
// cfg.BatchSize waiting messages of different keys, looks their event ids
// up in one query (a message applied before is acknowledged as a
// duplicate), then runs Do for each at once; a message is settled when
// its record commits or its Do fails (retried or dead-lettered, as with
// New). HandleTimeout does not apply: Do bounds its own effect.
func NewEffect[T any](pool *pgxpool.Pool, js jetstream.JetStream, m *Metrics, log *slog.Logger, cfg Config, e Effect[T]) (*Runner, error) {
	if e.Do == nil || e.Record == nil {
		return nil, fmt.Errorf("consumer %s: an Effect needs Do and Record", cfg.Durable)
	}
	r, err := newRunner(pool, js, m, log, cfg)
	if err != nil {
		return nil, err
	}
	r.effect = &effect{
		do: func(ctx context.Context, msg Message) (any, error) { return e.Do(ctx, msg) },
		record: func(b *pgx.Batch, done []any) {
			ts := make([]T, len(done))
			for i, v := range done {
				ts[i] = v.(T) // Do made every one of them
			}
			e.Record(b, ts)
		},
	}
	return r, nil
}

const (
	// lookupEvents finds which of the ids the consumer applied before:
	// one primary-key probe per id. Written as "consumer = $1 AND
	// event_id = ANY($2)" it was one search of the index by consumer with
	// the ids checked row by row whenever the plan was made without the
	// table's statistics (a new or emptied inbox, before autovacuum's
	// first ANALYZE): pgx prepares it once per connection and Postgres
	// keeps that generic plan, so every lookup then read the consumer's
	// whole inbox, 40,000 rows at 16–23 ms each in the mailer benchmark.
	// Equality on both key columns is one row for any planner, and
	// LIMIT 1 keeps the probe from being flattened into a join that could
	// scan the table instead.
	lookupEvents = `SELECT c.event_id FROM unnest($2::uuid[]) AS ids(id),
LATERAL (SELECT event_id FROM consumed_events WHERE consumer = $1 AND event_id = ids.id LIMIT 1) AS c`
	// recordBudget bounds the retries of one group commit; lookupTimeout
	// one duplicate lookup.
	recordBudget  = 30 * time.Second
	lookupTimeout = 10 * time.Second
)

// handleEffect runs the entries a worker took: duplicates are acked, the
// others' effects start at once and go to the group commit when done. It
// does not wait for them: a worker waiting for its whole batch would leave
// the SMTP connections idle while it looks up the next one. The hand's
// capacity bounds the effects under way.
func (r *Runner) handleEffect(ctx context.Context, h *hand, com *committer, es []*entry) {
	ids := make([]uuid.UUID, len(es))
	for i, e := range es {
		ids[i] = e.d.m.Event.ID
	}
	lctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	rows, _ := r.pool.Query(lctx, lookupEvents, r.cfg.Durable, ids)
	applied, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	cancel()
	if err != nil {
		err = fmt.Errorf("look up %d events: %w", len(ids), err)
		for _, e := range es {
			r.finish(h, e, false, err)
		}
		return
	}
	seen := make(map[uuid.UUID]bool, len(applied))
	for _, id := range applied {
		seen[id] = true
	}
	for _, e := range es {
		if seen[e.d.m.Event.ID] {
			r.finish(h, e, false, nil)
			continue
		}
		com.doing.Go(func() {
			start := time.Now()
			v, err := r.do(ctx, e.d.m)
			r.m.duration.WithLabelValues(r.cfg.Durable).Observe(time.Since(start).Seconds())
			if err != nil {
				r.finish(h, e, false, err)
				return
			}
			com.add(e, v)
		})
	}
}

// do calls the effect's Do, turning a panic into an error.
func (r *Runner) do(ctx context.Context, msg Message) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("effect panicked: %v", p)
		}
	}()
	return r.effect.do(ctx, msg)
}

// committer records finished effects in group commits: while one commit
// runs, the effects finishing meanwhile queue for the next.
type committer struct {
	r *Runner
	h *hand
	// doing counts the effects under way, which add to the queue.
	doing sync.WaitGroup

	mu      sync.Mutex
	queue   []done
	closing bool
	wake    chan struct{}
	more    chan struct{} // signalled on every add, for linger
	stopped chan struct{}
}

// done is an effect waiting for its record.
type done struct {
	e  *entry
	v  any
	at time.Time // when the effect ended
}

func newCommitter(r *Runner, h *hand) *committer {
	return &committer{r: r, h: h, wake: make(chan struct{}, 1), more: make(chan struct{}, 1), stopped: make(chan struct{})}
}

// add queues e's record.
func (c *committer) add(e *entry, v any) {
	c.mu.Lock()
	c.queue = append(c.queue, done{e: e, v: v, at: time.Now()})
	c.mu.Unlock()
	for _, ch := range []chan struct{}{c.wake, c.more} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// close waits for the effects under way, commits what is queued and
// stops; the workers have stopped.
func (c *committer) close() {
	c.doing.Wait()
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-c.stopped
}

func (c *committer) run() {
	defer close(c.stopped)
	for range c.wake {
		for {
			c.linger()
			c.mu.Lock()
			group, closing := c.queue, c.closing
			c.queue = nil
			c.mu.Unlock()
			if len(group) == 0 {
				if closing {
					return
				}
				break
			}
			c.commit(group)
		}
	}
}

// linger waits up to lingerFor for a group of BatchSize records: a commit
// per record or two would cost the database a transaction per email, and
// on a busy machine that CPU is taken from the sends. It adds at most
// lingerFor to what a crash can repeat.
func (c *committer) linger() {
	t := time.NewTimer(lingerFor)
	defer t.Stop()
	for {
		c.mu.Lock()
		n, closing := len(c.queue), c.closing
		c.mu.Unlock()
		if n == 0 || n >= c.r.cfg.BatchSize || closing {
			return
		}
		select {
		case <-c.more:
		case <-t.C:
			return
		}
	}
}

// lingerFor bounds how long a finished effect waits for others to share
// its commit.
const lingerFor = 2 * time.Millisecond

// commit records group, retrying a failed commit with back-off for up to
// recordBudget; then each message is acknowledged. If the database stays
// away longer, the messages fail as transient errors and their effects
// are done again on retry.
func (c *committer) commit(group []done) {
	r := c.r
	start, wait := time.Now(), 50*time.Millisecond
	for {
		err := r.recordEffects(group)
		if err == nil {
			break
		}
		if time.Since(start) > recordBudget {
			err = fmt.Errorf("record %d effects: %w", len(group), err)
			for _, d := range group {
				r.finish(c.h, d.e, false, err)
			}
			return
		}
		r.log.Warn("recording effects failed; retrying", "count", len(group), "error", err.Error())
		time.Sleep(wait) // the effects are done; only their record waits
		wait = min(2*wait, 2*time.Second)
	}
	hist := r.m.unrecorded.WithLabelValues(r.cfg.Durable)
	for _, d := range group {
		hist.Observe(time.Since(d.at).Seconds())
		r.finish(c.h, d.e, true, nil)
	}
}

// recordEffects writes the event ids and the effects' records of group in
// one transaction and one round trip.
func (r *Runner) recordEffects(group []done) error {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	ids := make([]uuid.UUID, len(group))
	vs := make([]any, len(group))
	for i, d := range group {
		ids[i], vs[i] = d.e.d.m.Event.ID, d.v
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(recordEvents, r.cfg.Durable, ids)
	r.effect.record(b, vs)
	b.Queue("COMMIT")
	// A failed statement aborts the transaction; the server skips the
	// rest, COMMIT included, and the pool drops the connection.
	if err := r.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record %d effects: %w", len(group), err)
	}
	return nil
}
