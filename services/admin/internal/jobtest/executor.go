// Package jobtest is a small owner of bulk-job entities for tests: it
// speaks the owner's side of the protocol in docs/events/admin.md over
// real NATS and PostgreSQL, standing in for booking until booking
// implements it, and doubles as a reference for that implementation.
//
// It consumes admin.job.requested with consume.Runner (recording the job
// in the consumer's transaction), then applies the job chunk by chunk:
// each chunk's changes, its booking.job.progress event (through the
// outbox) and the checkpoint commit in one transaction, so a crash loses
// at most an uncommitted chunk and never applies one twice.
package jobtest

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/services/admin/internal/job"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Schema is where the executor keeps its rows.
const Schema = "exec"

// ErrCrash is the simulated crash of Config.CrashAt.
var ErrCrash = errors.New("simulated crash half-way through a chunk")

// Config tunes an Executor.
type Config struct {
	// DatabaseURL is the database to use; the executor works in Schema.
	DatabaseURL string
	// ChunkSize is how many ids one transaction applies.
	ChunkSize int
	// CrashAt, when > 0, makes the worker apply half of that chunk and
	// then fail before committing, and stop, as a killed process would.
	CrashAt int
}

// Executor is a running stand-in owner.
type Executor struct {
	Pool    *pgxpool.Pool
	cfg     Config
	js      jetstream.JetStream
	log     *slog.Logger
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	crashed chan struct{}
}

// Start migrates the executor's schema and runs its consumer, worker and
// outbox relay until Stop.
func Start(ctx context.Context, js jetstream.JetStream, log *slog.Logger, cfg Config) (*Executor, error) {
	pool, err := postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL, Schema: Schema})
	if err != nil {
		return nil, err
	}
	sub, _ := fs.Sub(migrationFiles, "migrations")
	if err := postgres.Migrate(ctx, pool, Schema, log, outbox.Migrations(), consume.Migrations(),
		postgres.Migrations{Name: "exec", FS: sub}); err != nil {
		pool.Close()
		return nil, err
	}
	if _, err := stream.Ensure(ctx, js, stream.Booking(1)); err != nil {
		pool.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	m, err := consume.NewMetrics(reg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	e := &Executor{Pool: pool, cfg: cfg, js: js, log: log.With("component", "jobtest"), crashed: make(chan struct{})}
	runner, err := consume.New(pool, js, m, log, consume.Config{Stream: "ADMIN", Durable: "jobtest",
		Subjects: []string{job.TypeRequested}, AckWait: 5 * time.Second, Backoff: []time.Duration{100 * time.Millisecond}},
		e.accept)
	if err != nil {
		pool.Close()
		return nil, err
	}
	relay, err := outbox.NewRelay(pool, js, reg, log, outbox.RelayConfig{Schema: Schema, PollInterval: 50 * time.Millisecond})
	if err != nil {
		pool.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = cancel
	e.wg.Go(func() { _ = runner.Run(runCtx) })
	e.wg.Go(func() { _ = relay.Run(runCtx) })
	e.wg.Go(func() { e.work(runCtx) })
	return e, nil
}

// Crashed is closed when the simulated crash happened.
func (e *Executor) Crashed() <-chan struct{} { return e.crashed }

// Stop ends the executor as abruptly as a kill: in-flight transactions
// roll back.
func (e *Executor) Stop() {
	e.cancel()
	e.wg.Wait()
	e.Pool.Close()
}

// Seed inserts n rows of entity and returns their ids.
func (e *Executor) Seed(ctx context.Context, entity string, n int) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	_, err := e.Pool.Exec(ctx, `INSERT INTO items (id, entity) SELECT unnest($1::uuid[]), $2`, ids, entity)
	if err != nil {
		return nil, fmt.Errorf("seed items: %w", err)
	}
	return ids, nil
}

const recordJob = `
INSERT INTO exec_jobs (job_id, entity, action, status, ids, chunks) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (job_id) DO NOTHING`

// accept records a requested job; the worker applies it.
func (e *Executor) accept(ctx context.Context, tx pgx.Tx, msg consume.Message) error {
	var r events.JobRequest
	if err := msg.Event.UnmarshalData(&r); err != nil {
		return consume.Permanent(err)
	}
	chunks := (len(r.IDs) + e.cfg.ChunkSize - 1) / e.cfg.ChunkSize
	_, err := tx.Exec(ctx, recordJob, r.JobID, r.Entity, r.Action, r.Status, r.IDs, chunks)
	return err
}

func (e *Executor) work(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		for {
			more, err := e.step(ctx)
			if errors.Is(err, ErrCrash) {
				close(e.crashed)
				return
			}
			if err != nil && ctx.Err() == nil {
				e.log.Warn("chunk failed", "error", err.Error())
			}
			if !more || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

const (
	claimJob = `
SELECT job_id, entity, action, status, ids, next_chunk, chunks, succeeded, failed
FROM exec_jobs WHERE NOT done ORDER BY job_id LIMIT 1 FOR UPDATE SKIP LOCKED`
	applyDelete = `UPDATE items SET deleted = true, applied = applied + 1 WHERE id = $1 AND entity = $2 AND NOT deleted`
	applyStatus = `UPDATE items SET status = $3, applied = applied + 1 WHERE id = $1 AND entity = $2 AND NOT deleted`
	checkpoint  = `UPDATE exec_jobs SET next_chunk = $2, done = $3, succeeded = $4, failed = $5 WHERE job_id = $1`
)

// step applies one chunk of one job in one transaction.
func (e *Executor) step(ctx context.Context) (bool, error) {
	tx, err := e.Pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	var (
		id                         uuid.UUID
		entity, action, status     string
		ids                        []string
		next, chunks, succ, failed int
	)
	err = tx.QueryRow(ctx, claimJob).Scan(&id, &entity, &action, &status, &ids, &next, &chunks, &succ, &failed)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	lo := next * e.cfg.ChunkSize
	hi := min(lo+e.cfg.ChunkSize, len(ids))
	p := events.JobProgress{JobID: id, Chunk: next, Chunks: chunks, SucceededIDs: []string{}, NotFoundIDs: []string{}, Failures: []events.JobFailure{}}
	for i, itemID := range ids[lo:hi] {
		if e.cfg.CrashAt > 0 && next == e.cfg.CrashAt && i == (hi-lo)/2 {
			return false, ErrCrash // the deferred rollback undoes the half chunk
		}
		q, args := applyDelete, []any{itemID, entity}
		if action == job.ActionStatusUpdate {
			q, args = applyStatus, []any{itemID, entity, status}
		}
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return false, err
		}
		p.Processed++
		if tag.RowsAffected() == 1 {
			p.Succeeded++
			p.SucceededIDs = append(p.SucceededIDs, itemID)
		} else {
			p.Failed++
			p.NotFoundIDs = append(p.NotFoundIDs, itemID)
		}
	}
	if err := emit(ctx, tx, job.TypeOwnerProgress, p); err != nil {
		return false, err
	}
	next++
	succ += p.Succeeded
	failed += p.Failed
	done := next >= chunks
	if done {
		c := events.JobOwnerCompleted{JobID: id, Chunks: chunks, Processed: len(ids), Succeeded: succ, Failed: failed, CompletedAt: time.Now().UTC()}
		if err := emit(ctx, tx, job.TypeOwnerCompleted, c); err != nil {
			return false, err
		}
	}
	if _, err := tx.Exec(ctx, checkpoint, id, next, done, succ, failed); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

func emit(ctx context.Context, tx pgx.Tx, typ string, data any) error {
	ev, err := events.New("booking", typ, data)
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, ev)
}
